"""The synthetic shelf's label layouts and difficulty knobs: defaults change nothing, geometry stays exact."""

from __future__ import annotations

import numpy as np

from eyeline.devices.synthetic import FrameEffects, LabelLayout, ShelfTruth, make_shelf_scene, render_shelf_frame


def test_default_effects_and_layouts_render_the_same_frame_as_before() -> None:
    scene = make_shelf_scene(2)
    plain, plain_truth = render_shelf_frame(scene, 0.3, 640, 360)
    same, same_truth = render_shelf_frame(make_shelf_scene(2, layouts=[LabelLayout.CLASSIC]), 0.3, 640, 360,
                                          effects=FrameEffects())
    assert np.array_equal(plain, same) and plain_truth == same_truth
    assert scene.layouts == (LabelLayout.CLASSIC,) * 5


def test_a_hidden_label_changes_only_its_own_package() -> None:
    classic = make_shelf_scene(1, 3)
    hidden = make_shelf_scene(1, 3, [LabelLayout.CLASSIC, LabelLayout.HIDDEN])
    changed = np.any(classic.canvas != hidden.canvas, axis=2)
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = classic.product_boxes[1]
    assert xs.size and x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


def test_zoom_and_perspective_move_the_truth_with_the_pixels() -> None:
    scene = make_shelf_scene(0)
    _, rest = render_shelf_frame(scene, 0.0, 640, 360)
    _, small = render_shelf_frame(scene, 0.0, 640, 360, effects=FrameEffects(zoom=0.6))
    _, turned = render_shelf_frame(scene, 0.0, 640, 360, effects=FrameEffects(perspective_deg=12))

    def widths(truth: ShelfTruth) -> list[int]:
        return [p.box[2] - p.box[0] for p in truth.products]

    assert all(s < 0.7 * r for s, r in zip(widths(small), widths(rest), strict=True))
    heights = [p.quad[2][1] - p.quad[1][1] for p in turned.products]
    assert heights[-1] > heights[0]  # the turned shelf's far end is nearer the camera: taller packages


def test_blur_and_glare_change_pixels_but_not_the_truth() -> None:
    scene = make_shelf_scene(4)
    plain, truth = render_shelf_frame(scene, 0.0, 640, 360)
    for effects in (FrameEffects(blur_sigma=2.0), FrameEffects(glare=0.8)):
        image, effect_truth = render_shelf_frame(scene, 0.0, 640, 360, effects=effects)
        assert effect_truth == truth and not np.array_equal(image, plain)
    glared, _ = render_shelf_frame(scene, 0.0, 640, 360, effects=FrameEffects(glare=0.8))
    assert glared.mean() > plain.mean()
