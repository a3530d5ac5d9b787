"""The synthetic espresso machine: exact component truth under head motion and the difficulty knobs."""

from __future__ import annotations

import numpy as np
import pytest

from eyeline.devices.base import DeviceSpecError
from eyeline.devices.espresso import COMPONENTS, make_espresso_scene, render_espresso_frame
from eyeline.devices.synthetic import FrameEffects


@pytest.mark.parametrize("effects", [FrameEffects(), FrameEffects(perspective_deg=30.0, zoom=0.7)])
def test_each_component_truth_centre_shows_that_component(effects: FrameEffects) -> None:
    """The canvas pixel at each component's centre reappears at its truth centre in the frame."""
    scene = make_espresso_scene(seed=7)
    image, truth = render_espresso_frame(scene, 1.9, effects=effects)
    for component in COMPONENTS:
        x0, y0, x1, y1 = component.box
        # a 5x5 patch: bilinear resampling blurs single pixels, not a patch's mean
        expected = scene.canvas[(y0 + y1) // 2 - 2:(y0 + y1) // 2 + 3, (x0 + x1) // 2 - 2:(x0 + x1) // 2 + 3]
        cx, cy = (round(v) for v in truth.component(component.id).center)
        seen = image[cy - 2:cy + 3, cx - 2:cx + 3]
        assert abs(float(seen.mean()) - float(expected.mean())) < 25, component.id


def test_components_move_with_the_head_and_motion_maps_the_previous_frame() -> None:
    scene = make_espresso_scene(seed=1)
    _, first = render_espresso_frame(scene, 0.0)
    _, later = render_espresso_frame(scene, 1.5, previous=first)
    moved = [np.hypot(a.center[0] - b.center[0], a.center[1] - b.center[1])
             for a, b in zip(first.components, later.components, strict=True)]
    assert min(moved) > 2.0
    motion = np.asarray(later.motion).reshape(3, 3)
    x, y = first.component("group_head").center
    u, v, w = motion @ np.array([x, y, 1.0])
    now_x, now_y = later.component("group_head").center
    assert np.hypot(u / w - now_x, v / w - now_y) < 1e-6


def test_all_components_are_in_view_at_rest_and_boxes_bound_their_quads() -> None:
    _, truth = render_espresso_frame(make_espresso_scene(), 0.0, motion_scale=0.0)
    for component in truth.components:
        assert component.visible_fraction == pytest.approx(1.0)
        xs, ys = [x for x, _ in component.quad], [y for _, y in component.quad]
        x0, y0, x1, y1 = component.box
        assert x0 <= min(xs) + 1 and max(xs) <= x1 and y0 <= min(ys) + 1 and max(ys) <= y1


def test_the_display_shows_the_text_it_is_given() -> None:
    ready, tank = make_espresso_scene().canvas, make_espresso_scene(display_text="TANK OK").canvas
    differs = np.argwhere(np.any(ready != tank, axis=2))
    assert differs.size and 218 <= differs[:, 0].min() and differs[:, 0].max() <= 262


def test_bad_render_arguments_are_refused() -> None:
    with pytest.raises(DeviceSpecError, match="frame size"):
        render_espresso_frame(make_espresso_scene(), 0.0, width=0)
