"""Display glasses get one high-contrast card at a time on a black (see-through) display, chosen by the profile."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from eyeline.devices.profiles import HUD_GLASSES, RAYBAN_CLASS, WEBCAM
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.display.hud import HudRenderer, renderer_for
from eyeline.edge.display.render import BADGE_BGR, OverlayRenderer
from eyeline.edge.overlays import BadgeShape, Item, NoticeShape, Overlay, PanelRow, PanelShape, StepCardShape

ROWS = (PanelRow("1", "Oat bar", "12 g"), PanelRow("2", "Rice cake", "9 g"), PanelRow("3", "Pretzels", "7 g"),
        PanelRow("4", "Crackers", "3 g"))


def camera() -> np.ndarray:
    return render_shelf_frame(make_shelf_scene(1), 0.0)[0]


def answer(overlay_id: str, title: str, *more: Item) -> Overlay:
    items = (Item("b", BadgeShape((0.3, 0.4), "1")), Item("p", PanelShape(title, ROWS)), *more)
    return Overlay(overlay_id, "q", 0, "t", 0, items)


def notice(text: str) -> Overlay:
    return Overlay("n", "", 0, "", 0, (Item("n", NoticeShape(text)),))


def lit(display: np.ndarray) -> np.ndarray:
    return np.any(display > 0, axis=2)


def test_the_profile_chooses_the_layout() -> None:
    assert isinstance(renderer_for(HUD_GLASSES), HudRenderer)
    assert type(renderer_for(WEBCAM)) is OverlayRenderer and type(renderer_for(RAYBAN_CLASS)) is OverlayRenderer


def test_one_card_on_black_and_nothing_of_the_camera_or_the_badges() -> None:
    display = HudRenderer().draw(camera(), [answer("o1", "Protein per serving"), notice("offline")])
    shown = lit(display)
    assert 0.01 < shown.mean() < 0.4, "a card, not the picture"
    assert not np.all(display == np.array(BADGE_BGR, np.uint8), axis=2).any()
    count, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(shown.astype(np.uint8), np.ones((25, 25))))
    assert count == 2, "exactly one card"
    x, y, w, h = stats[1, :4]
    assert abs((x + w / 2) - display.shape[1] / 2) < 20, "centred"
    assert y + h > display.shape[0] * 0.6, "low in the view, clear of what the wearer looks at"
    assert (display.min(axis=2) > 200).sum() > 500, "white on black: high contrast"


@pytest.mark.slow
def test_the_card_is_the_newest_answer_and_shows_its_top_rows_legibly() -> None:
    rapidocr = pytest.importorskip("rapidocr")
    read = rapidocr.RapidOCR()
    display = HudRenderer().draw(camera(), [answer("old", "Sugar per serving"), answer("new", "Protein per serving")])
    text = " ".join(read(display).txts or ()).lower()
    assert "protein per serving" in text and "sugar" not in text
    assert "oat bar" in text and "pretzels" in text and "crackers" not in text   # the top three rows only


def test_a_faded_answer_leaves_the_notice_or_nothing() -> None:
    renderer = HudRenderer()
    both = [answer("o1", "Protein per serving"), notice("offline: answers from this device")]
    with_answer = renderer.draw(camera(), both)
    faded = renderer.draw(camera(), both, card_opacity=lambda overlay: 0.0)
    assert not np.array_equal(with_answer, faded) and lit(faded).any()   # the notice took the answer's place
    alone = renderer.draw(camera(), [answer("o1", "Protein")], card_opacity=lambda overlay: 0.0)
    assert not lit(alone).any()
    half = renderer.draw(camera(), [answer("o1", "Protein")], card_opacity=lambda overlay: 0.5)
    full = renderer.draw(camera(), [answer("o1", "Protein")])
    assert 0.4 < half.max() / full.max() < 0.6


def test_a_step_card_wraps_and_keeps_its_warning() -> None:
    step = StepCardShape(2, 5, "Lock the portafilter into the group head and turn it firmly to the right",
                         warning="Hot water")
    display = HudRenderer().draw(camera(), [Overlay("s", "q", 0, "t", 0, (Item("s", step),))])
    assert np.all(np.abs(display.astype(int) - (0, 200, 255)) <= 40, axis=2).sum() > 50   # the warning colour
    rows = np.nonzero(lit(display).any(axis=1))[0]
    assert rows.max() - rows.min() > 4 * 30, "the instruction wraps over lines rather than running off the display"
