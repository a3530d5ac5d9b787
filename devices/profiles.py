"""Glasses profiles: what a class of device captures and how much it may send.

A profile travels to the cloud in ``Hello.profile``; the edge sizes frames and its uplink from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from eyeline.devices.base import DeviceSpecError

LAYOUTS = ("overlay", "hud")


@dataclass(frozen=True, slots=True)
class GlassesProfile:
    name: str
    width: int
    height: int
    fps: float
    horizontal_fov_deg: float
    uplink_budget_kbps: int
    has_display: bool
    # How answers are shown: "overlay" draws them on the camera picture (a screen, a phone); "hud" on a small
    # see-through display that shows no camera picture: one high-contrast card at a time (edge/display/hud.py).
    layout: str = "overlay"

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise DeviceSpecError("a glasses profile needs a name")
        for label in ("width", "height", "uplink_budget_kbps"):
            if isinstance(getattr(self, label), bool) or not isinstance(getattr(self, label), int):
                raise DeviceSpecError(f"profile {self.name!r}: {label} must be an integer")
        for label in ("width", "height", "fps", "horizontal_fov_deg", "uplink_budget_kbps"):
            value = getattr(self, label)
            if not (math.isfinite(value) and value > 0):
                raise DeviceSpecError(f"profile {self.name!r}: {label} must be positive, got {value}")
        if self.layout not in LAYOUTS:
            raise DeviceSpecError(f"profile {self.name!r}: layout must be one of {', '.join(LAYOUTS)}, got "
                                  f"{self.layout!r}")
        if self.horizontal_fov_deg >= 180.0:
            raise DeviceSpecError(
                f"profile {self.name!r}: horizontal_fov_deg must be below 180, got {self.horizontal_fov_deg}"
            )


RAYBAN_CLASS = GlassesProfile(
    name="rayban-class",
    width=1280,
    height=720,
    fps=30.0,
    horizontal_fov_deg=100.0,  # ultra-wide glasses camera
    uplink_budget_kbps=1500,  # what a phone's Bluetooth/Wi-Fi link to the glasses sustains in practice
    has_display=False,
)

WEBCAM = GlassesProfile(
    name="webcam",
    width=1280,
    height=720,
    fps=30.0,
    horizontal_fov_deg=70.0,
    uplink_budget_kbps=8000,
    has_display=True,  # the laptop screen stands in for a heads-up display
)

HUD_GLASSES = GlassesProfile(
    name="hud-glasses",
    width=1280,
    height=720,
    fps=30.0,
    horizontal_fov_deg=90.0,
    uplink_budget_kbps=1500,
    has_display=True,  # a small monocular see-through display: answers as one card, no camera picture
    layout="hud",
)

PROFILES: Mapping[str, GlassesProfile] = MappingProxyType({p.name: p for p in (RAYBAN_CLASS, WEBCAM, HUD_GLASSES)})


def profile_by_name(name: str) -> GlassesProfile:
    """The built-in profile called ``name`` (case-insensitive)."""
    profile = PROFILES.get(name.strip().lower())
    if profile is None:
        raise DeviceSpecError(f"unknown glasses profile {name!r}; known profiles: {', '.join(sorted(PROFILES))}")
    return profile
