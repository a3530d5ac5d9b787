"""Glasses profiles: the built-ins, lookup by name, and validation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from eyeline.devices.base import DeviceSpecError
from eyeline.devices.profiles import HUD_GLASSES, PROFILES, RAYBAN_CLASS, WEBCAM, GlassesProfile, profile_by_name

VALID: dict[str, Any] = {
    "name": "test",
    "width": 640,
    "height": 480,
    "fps": 15.0,
    "horizontal_fov_deg": 80.0,
    "uplink_budget_kbps": 1000,
    "has_display": False,
}


def test_builtin_profiles_are_found_by_name_in_any_case() -> None:
    assert profile_by_name("rayban-class") is RAYBAN_CLASS
    assert profile_by_name(" WebCam ") is WEBCAM
    assert dict(PROFILES) == {"rayban-class": RAYBAN_CLASS, "webcam": WEBCAM, "hud-glasses": HUD_GLASSES}


def test_glasses_send_less_and_see_wider_than_a_webcam() -> None:
    assert RAYBAN_CLASS.uplink_budget_kbps < WEBCAM.uplink_budget_kbps
    assert RAYBAN_CLASS.horizontal_fov_deg > WEBCAM.horizontal_fov_deg
    assert not RAYBAN_CLASS.has_display and WEBCAM.has_display


def test_unknown_profile_lists_the_known_names() -> None:
    with pytest.raises(DeviceSpecError, match=r"'hololens'.*hud-glasses, rayban-class, webcam"):
        profile_by_name("hololens")


def test_profiles_cannot_be_changed() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        WEBCAM.fps = 60.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        PROFILES["mine"] = WEBCAM  # type: ignore[index]


def test_a_valid_profile_is_accepted() -> None:
    assert GlassesProfile(**VALID).width == 640


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", " "),
        ("width", 0),
        ("height", -720),
        ("width", 640.5),
        ("width", True),
        ("fps", 0.0),
        ("fps", float("nan")),
        ("horizontal_fov_deg", 0.0),
        ("horizontal_fov_deg", 180.0),
        ("uplink_budget_kbps", 0),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(DeviceSpecError, match=field):
        GlassesProfile(**{**VALID, field: value})
