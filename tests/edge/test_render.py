"""OverlayRenderer: every item type lands where its coordinates say, and nowhere else."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from eyeline.devices.base import Image
from eyeline.edge.display.canvas import Projection, RenderError
from eyeline.edge.display.cards import WARNING_BGR
from eyeline.edge.display.fonts import font_files
from eyeline.edge.display.render import ARROW_BGR, BADGE_BGR, OverlayRenderer
from eyeline.edge.overlays import (
    ArrowShape,
    BadgeShape,
    Box,
    BoxShape,
    Item,
    LabelShape,
    NoticeShape,
    OutlineShape,
    Overlay,
    PanelRow,
    PanelShape,
    Point,
    Shape,
    StepCardShape,
)

WIDTH, HEIGHT = 640, 480
Mask = npt.NDArray[np.bool_]


def grey(width: int = WIDTH, height: int = HEIGHT) -> Image:
    return np.full((height, width, 3), 128, np.uint8)


def overlay(*shapes: Shape, rgb: int = 0, overlay_id: str = "o1") -> Overlay:
    items = tuple(Item(f"i{n}", shape, rgb) for n, shape in enumerate(shapes))
    return Overlay(overlay_id, "q1", frame_seq=7, trace_id="t1", capture_ns=1_000, items=items)


def render(*shapes: Shape, image: Image | None = None, rgb: int = 0) -> Image:
    return OverlayRenderer().draw(grey() if image is None else image, [overlay(*shapes, rgb=rgb)])


def changed(out: Image, base: Image | None = None) -> Mask:
    reference = grey(out.shape[1], out.shape[0]) if base is None else base
    mask: Mask = np.any(out != reference, axis=2)
    return mask


def near_colour(image: Image, bgr: tuple[int, int, int], tolerance: int = 0) -> Mask:
    distance = np.abs(image.astype(np.int16) - np.array(bgr, np.int16)).max(axis=2)
    close: Mask = distance <= tolerance
    return close


def centroid(mask: Mask) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    assert xs.size, "expected some pixels"
    return float(xs.mean()), float(ys.mean())


def bounding_box(mask: Mask) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    assert xs.size, "expected some pixels"
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


# --- anchored items -------------------------------------------------------------------------------------


def test_badge_is_drawn_in_badge_colour_around_its_centre_only() -> None:
    out = render(BadgeShape((0.25, 0.5), "1"))
    badge = near_colour(out, BADGE_BGR)
    x, y = centroid(badge)
    assert abs(x - 0.25 * WIDTH) < 3 and abs(y - 0.5 * HEIGHT) < 3
    assert not badge[:, WIDTH // 2:].any()
    assert not changed(out)[:, WIDTH // 2:].any()


def test_badge_text_is_white_inside_the_badge() -> None:
    with_text, without_text = render(BadgeShape((0.5, 0.5), "3")), render(BadgeShape((0.5, 0.5), ""))
    left, _, right, _ = bounding_box(near_colour(with_text, BADGE_BGR))
    radius = (right - left) / 2
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    core = np.hypot(xs - WIDTH / 2, ys - HEIGHT / 2) < 0.5 * radius
    assert near_colour(with_text, (255, 255, 255), 10)[core].sum() > 5
    assert not near_colour(without_text, (255, 255, 255), 10)[core].any()


def test_badge_radius_grows_with_the_image() -> None:
    small = OverlayRenderer().draw(grey(320, 180), [overlay(BadgeShape((0.5, 0.5), ""))])
    large = OverlayRenderer().draw(grey(1920, 1080), [overlay(BadgeShape((0.5, 0.5), ""))])
    small_area, large_area = near_colour(small, BADGE_BGR).sum(), near_colour(large, BADGE_BGR).sum()
    assert large_area > 9 * small_area


def test_box_outlines_its_edges_and_leaves_the_inside_alone() -> None:
    out = render(BoxShape(Box(0.25, 0.25, 0.75, 0.75)))
    mask = changed(out)
    left, top, right, bottom = 160, 120, 480, 360
    for x, y in ((320, top), (320, bottom), (left, 240), (right, 240)):
        assert mask[y - 3:y + 4, x - 3:x + 4].any(), (x, y)
    assert not mask[top + 10:bottom - 10, left + 10:right - 10].any()
    assert not mask[:top - 5].any() and not mask[bottom + 5:].any()


def test_box_caption_sits_just_above_the_box() -> None:
    captioned = changed(render(BoxShape(Box(0.25, 0.5, 0.75, 0.75), "Oat bar")))
    plain = changed(render(BoxShape(Box(0.25, 0.5, 0.75, 0.75))))
    above_corner = (slice(240 - 40, 240 - 4), slice(160, 260))
    assert captioned[above_corner].sum() > 200
    assert not plain[above_corner].any()


def test_box_with_swapped_corners_is_the_same_box() -> None:
    assert np.array_equal(render(BoxShape(Box(0.75, 0.75, 0.25, 0.25))), render(BoxShape(Box(0.25, 0.25, 0.75, 0.75))))


def test_outline_draws_a_closed_polygon() -> None:
    triangle = ((0.2, 0.2), (0.8, 0.2), (0.5, 0.8))
    mask = changed(render(OutlineShape(triangle)))
    pixels = [(p[0] * WIDTH, p[1] * HEIGHT) for p in triangle]
    for (x0, y0), (x1, y1) in zip(pixels, pixels[1:] + pixels[:1], strict=True):
        mid_x, mid_y = round((x0 + x1) / 2), round((y0 + y1) / 2)
        assert mask[mid_y - 3:mid_y + 4, mid_x - 3:mid_x + 4].any(), (mid_x, mid_y)
    assert not mask[200:230, 300:340].any()  # inside the triangle


def test_arrow_runs_along_its_segment_with_a_head_at_the_head_end() -> None:
    out = render(ArrowShape(tail=(0.1, 0.5), head=(0.9, 0.5)))
    arrow = near_colour(out, ARROW_BGR, 40)
    for fraction in (0.2, 0.5, 0.8):
        x = round(fraction * WIDTH)
        assert arrow[236:245, x].any(), fraction
    assert not changed(out)[:200].any() and not changed(out)[280:].any()
    head_x, tail_x = round(0.9 * WIDTH) - 8, round(0.1 * WIDTH) + 8
    assert np.ptp(np.nonzero(arrow[:, head_x])[0]) > np.ptp(np.nonzero(arrow[:, tail_x])[0]) + 4


def test_arrow_text_is_drawn_at_the_tail() -> None:
    out = render(ArrowShape(tail=(0.2, 0.8), head=(0.8, 0.2), text="screw"))
    dark = near_colour(out, (24, 24, 24), 4)
    x, y = centroid(dark)
    assert math.hypot(x - 0.2 * WIDTH, y - 0.8 * HEIGHT) < 10
    assert not dark[:, WIDTH // 2:].any()


def test_label_has_a_dark_backing_box_centred_on_its_anchor() -> None:
    out = render(LabelShape((0.7, 0.3), "12 g protein"))
    dark = near_colour(out, (24, 24, 24), 4)
    x, y = centroid(dark)
    assert abs(x - 0.7 * WIDTH) < 8 and abs(y - 0.3 * HEIGHT) < 8
    left, top, right, bottom = bounding_box(changed(out))
    white_text = near_colour(out, (255, 255, 255), 30)[top:bottom + 1, left:right + 1]
    assert white_text.sum() > 20
    assert not changed(out)[HEIGHT // 2:].any()


def test_rgb_overrides_the_default_colour() -> None:
    out = render(BadgeShape((0.5, 0.5), "1"), rgb=0x00C800)
    assert near_colour(out, (0, 200, 0)).sum() > 100
    assert not near_colour(out, BADGE_BGR).any()


def test_rgb_is_read_as_0xRRGGBB() -> None:
    out = render(BoxShape(Box(0.2, 0.2, 0.8, 0.8)), rgb=0xFF0000)
    assert near_colour(out, (0, 0, 255)).sum() > 100
    assert not near_colour(out, (255, 0, 0), 60).any()


# --- projection -----------------------------------------------------------------------------------------


def shift_right(pixels: float) -> Projection:
    def project(point: Point) -> Point:
        return point[0] + pixels / WIDTH, point[1]

    return project


def test_projection_moves_anchored_items() -> None:
    shapes = overlay(BadgeShape((0.25, 0.5), "1"))
    plain = OverlayRenderer().draw(grey(), [shapes])
    shifted = OverlayRenderer().draw(grey(), [shapes], project=lambda _overlay: shift_right(100))
    (x0, y0), (x1, y1) = centroid(near_colour(plain, BADGE_BGR)), centroid(near_colour(shifted, BADGE_BGR))
    assert abs((x1 - x0) - 100) < 1 and abs(y1 - y0) < 1


def test_lost_anchor_hides_anchored_items_but_keeps_screen_items() -> None:
    lost = overlay(BadgeShape((0.25, 0.6), "1"), BoxShape(Box(0.1, 0.5, 0.4, 0.7)),
                   PanelShape("Protein", (PanelRow("1", "Oat bar", "12 g"),)), NoticeShape("Not medical advice"))
    out = OverlayRenderer().draw(grey(), [lost], project=lambda _overlay: None)
    mask = changed(out)
    assert not near_colour(out, BADGE_BGR).any()
    assert not mask[int(0.45 * HEIGHT):int(0.75 * HEIGHT), : WIDTH // 2].any()
    assert mask[: HEIGHT // 4, WIDTH // 2:].any(), "panel missing"
    assert mask[-HEIGHT // 8:].any(), "notice missing"


def test_projection_is_chosen_per_overlay() -> None:
    kept, lost = overlay(BadgeShape((0.25, 0.5), "1"), overlay_id="kept"), overlay(BadgeShape((0.75, 0.5), "2"),
                                                                                 overlay_id="lost")
    out = OverlayRenderer().draw(
        grey(), [kept, lost], project=lambda o: None if o.overlay_id == "lost" else shift_right(0))
    badge = near_colour(out, BADGE_BGR)
    assert badge[:, : WIDTH // 2].any() and not badge[:, WIDTH // 2:].any()


# --- screen-space items ---------------------------------------------------------------------------------


PANEL = PanelShape("Protein per serving", (PanelRow("1", "Oat bar", "12 g"), PanelRow("2", "Rice cake", "2 g")))
STEP = StepCardShape(2, 5, "Remove the back cover", warning="Unplug first")


def test_panel_sits_in_the_top_right_corner() -> None:
    left, top, right, bottom = bounding_box(changed(render(PANEL)))
    assert right > WIDTH - 20 and top < 20
    assert left > WIDTH // 2 and bottom < HEIGHT // 2


def test_step_card_sits_in_the_top_left_corner() -> None:
    left, top, right, bottom = bounding_box(changed(render(STEP)))
    assert left < 20 and top < 20
    assert right < WIDTH // 2 and bottom < HEIGHT // 2


def test_notice_is_a_banner_at_the_bottom() -> None:
    left, top, right, bottom = bounding_box(changed(render(NoticeShape("Not medical advice"))))
    assert bottom > HEIGHT - 20 and top > HEIGHT * 3 // 4
    assert left < WIDTH // 2 < right


def test_step_card_warning_uses_the_warning_colour() -> None:
    warned = OverlayRenderer().draw(grey(1280, 720), [overlay(STEP)])
    calm = OverlayRenderer().draw(grey(1280, 720), [overlay(StepCardShape(2, 5, "Remove the back cover"))])
    assert near_colour(warned, WARNING_BGR, 30).sum() > 30
    assert not near_colour(calm, WARNING_BGR, 30).any()


def test_long_instruction_wraps_instead_of_widening_the_card() -> None:
    short = bounding_box(changed(render(StepCardShape(1, 3, "Open the lid"))))
    long_text = "Remove the four screws holding the back cover, then lift the cover straight up and set it aside. " * 2
    long = bounding_box(changed(render(StepCardShape(1, 3, long_text))))
    assert long[2] - long[0] <= WIDTH // 2
    assert long[3] - long[1] > 1.8 * (short[3] - short[1])


def test_screen_items_stack_without_overlapping() -> None:
    shapes = (PANEL, PanelShape("Fibre", (PanelRow("1", "Oat bar", "4 g"),)), STEP,
              NoticeShape("Not medical advice"), NoticeShape("Values from package labels"))
    mask = changed(render(*shapes)).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = [tuple(stat[:4]) for stat in stats[1:]]
    assert len(boxes) == len(shapes)
    for index, (x, y, w, h) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[index + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y


def test_screen_items_from_a_crowded_screen_do_not_crash() -> None:
    many = [PanelShape(f"Panel {n}", tuple(PanelRow(str(r), "item", "1 g") for r in range(6))) for n in range(12)]
    out = OverlayRenderer().draw(grey(160, 90), [overlay(*many)])
    assert out.shape == (90, 160, 3)


# --- robustness -----------------------------------------------------------------------------------------


def every_shape() -> tuple[Shape, ...]:
    return (BoxShape(Box(0.1, 0.1, 0.3, 0.3), "box"), OutlineShape(((0.4, 0.4), (0.5, 0.4), (0.45, 0.5))),
            BadgeShape((0.6, 0.6), "1"), ArrowShape((0.7, 0.7), (0.8, 0.8), "here"),
            LabelShape((0.3, 0.8), "label"), PANEL, STEP, NoticeShape("notice"))


def test_input_image_is_not_modified() -> None:
    image = grey()
    before = image.copy()
    out = OverlayRenderer().draw(image, [overlay(*every_shape())])
    assert np.array_equal(image, before)
    assert out is not image and changed(out).any()


def test_no_overlays_returns_an_equal_copy() -> None:
    image = grey()
    out = OverlayRenderer().draw(image, [])
    assert out is not image and np.array_equal(out, image)


@pytest.mark.parametrize("far", [1.3, -0.4, 1e9, -1e12, math.inf, math.nan])
def test_points_outside_the_frame_do_not_crash(far: float) -> None:
    shapes = (BoxShape(Box(far, 0.2, 0.5, far)), OutlineShape(((far, far), (0.5, 0.5), (0.2, far))),
              BadgeShape((far, 0.5), "1"), ArrowShape((0.5, 0.5), (far, far), "x"), LabelShape((far, far), "y"))
    out = render(*shapes)
    assert out.shape == (HEIGHT, WIDTH, 3)


def test_badge_off_the_frame_draws_nothing() -> None:
    assert not changed(render(BadgeShape((1.3, 0.5), "1"), LabelShape((-0.2, 0.5), "gone"))).any()


def test_arrow_to_a_far_off_point_keeps_its_direction() -> None:
    out = render(ArrowShape(tail=(0.5, 0.5), head=(1e6, 0.5)))
    arrow = near_colour(out, ARROW_BGR, 40)
    assert arrow[236:245, WIDTH - 5].any()
    assert not changed(out)[:200].any() and not changed(out)[280:].any()


def test_unicode_text_is_drawn_as_written_in_a_font_that_has_it() -> None:
    assert font_files() is not None, "no Unicode font: install fonts-dejavu-core (tools/setup.sh does)"
    assert not np.array_equal(render(LabelShape((0.5, 0.5), "Café crème")),
                              render(LabelShape((0.5, 0.5), "Cafe creme")))
    degree, spelled = render(LabelShape((0.5, 0.5), "1 °C")), render(LabelShape((0.5, 0.5), "1 degC"))
    assert not np.array_equal(degree, spelled)
    degree_box, spelled_box = bounding_box(changed(degree)), bounding_box(changed(spelled))
    assert degree_box[2] - degree_box[0] < spelled_box[2] - spelled_box[0]   # one small glyph, not three letters


def test_the_degree_sign_is_a_small_ring_at_the_top_of_the_line() -> None:
    out = render(LabelShape((0.5, 0.5), "°"), image=grey(1920, 1080))
    backing = bounding_box(changed(out))
    inside = out[backing[1]:backing[3] + 1, backing[0]:backing[2] + 1]
    ink = np.all(inside == 255, axis=2) | (inside.min(axis=2) > 150)   # white text on the dark backing box
    ys, xs = np.nonzero(ink)
    assert xs.size > 10
    assert ys.max() < inside.shape[0] * 0.6, "the ring sits high, as a degree sign does"
    ring = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    assert not ring[ring.shape[0] // 2, ring.shape[1] // 2], "a ring has a hole in the middle"


def test_non_ascii_everywhere_does_not_crash() -> None:
    odd = "Ünïcödé 🍫 日本\n\t\u200b"
    out = render(BoxShape(Box(0.1, 0.1, 0.3, 0.3), odd), BadgeShape((0.5, 0.5), "①"), LabelShape((0.5, 0.8), odd),
                 ArrowShape((0.2, 0.9), (0.5, 0.5), odd), PanelShape(odd, (PanelRow(odd, odd, odd),)),
                 StepCardShape(1, 1, odd, warning=odd), NoticeShape(odd))
    assert changed(out).any()


def test_huge_text_is_cut_short_quickly() -> None:
    out = render(LabelShape((0.5, 0.5), "protein " * 20_000), NoticeShape("x" * 100_000))
    _, top, _, bottom = bounding_box(changed(out)[: HEIGHT * 3 // 4])
    assert bottom - top < 40, "the label should stay one line tall"


def test_unknown_shape_is_named_in_the_error() -> None:
    stray = Overlay("o1", "q1", 1, "t1", 0, (Item("odd", "not a shape"),))  # type: ignore[arg-type]
    with pytest.raises(RenderError, match="str"):
        OverlayRenderer().draw(grey(), [stray])


@pytest.mark.parametrize("image", [
    np.zeros((48, 64), np.uint8),
    np.zeros((48, 64, 4), np.uint8),
    np.zeros((48, 64, 3), np.float32),
    np.zeros((0, 64, 3), np.uint8),
])
def test_bad_images_are_rejected_with_a_clear_error(image: Image) -> None:
    with pytest.raises(RenderError, match="image"):
        OverlayRenderer().draw(image, [])


@pytest.mark.slow
def test_text_is_legible_to_ocr() -> None:
    rapidocr = pytest.importorskip("rapidocr")
    panel = PanelShape("Protein per serving", (PanelRow("1", "Rice cake", "2 g"),))
    out = OverlayRenderer().draw(grey(1280, 720), [overlay(panel, LabelShape((0.25, 0.5), "Café crème"))])
    read = rapidocr.RapidOCR()
    panel_text = " ".join(read(out[: 720 // 3, 1280 // 2:]).txts or ()).lower()
    label_text = " ".join(read(out[720 // 3:720 * 2 // 3, : 1280 // 2]).txts or ()).lower()
    assert "protein per serving" in panel_text and "rice cake" in panel_text
    assert "café crème" in label_text   # drawn with its accents, and read back with them


def test_opacity_blends_an_overlays_anchored_items_into_the_frame() -> None:
    base = np.full((360, 640, 3), 128, np.uint8)
    overlay = Overlay("o", "q", 0, "t", 0, (Item("b", BadgeShape((0.5, 0.5), "1")),))
    solid = OverlayRenderer().draw(base, [overlay])
    half = OverlayRenderer().draw(base, [overlay], opacity=lambda _: 0.5)
    hidden = OverlayRenderer().draw(base, [overlay], opacity=lambda _: 0.0)
    disc = np.all(solid == BADGE_BGR, axis=2)
    assert disc.sum() > 50
    expected = (np.array(BADGE_BGR, float) + 128) / 2
    assert np.allclose(half[disc], expected, atol=2)
    assert np.array_equal(hidden, base)
