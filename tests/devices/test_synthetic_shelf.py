"""The synthetic shelf: its ground truth must describe the rendered pixels exactly."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from eyeline.devices.base import DeviceError, DeviceSpecError, Image
from eyeline.devices.synthetic import (
    CATALOG,
    Product,
    ProductTruth,
    ShelfScene,
    ShelfTruth,
    make_shelf_scene,
    render_shelf_frame,
)

WIDTH, HEIGHT = 1280, 720


def matrix(flat: tuple[float, ...]) -> npt.NDArray[np.float64]:
    return np.asarray(flat, dtype=np.float64).reshape(3, 3)


def project(flat: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    u, v, w = matrix(flat) @ np.array([x, y, 1.0])
    return float(u / w), float(v / w)


def flat_colour_points(scene: ShelfScene, index: int, step: int = 9) -> list[tuple[int, int]]:
    """Canvas points whose whole 7x7 neighbourhood is the bare package colour (no text, panel or outline)."""
    x0, y0, x1, y1 = scene.product_boxes[index]
    colour = np.array(scene.products[index].color_bgr, dtype=np.uint8)
    same = np.all(scene.canvas == colour, axis=2).astype(np.uint8)
    solid = cv2.erode(same, np.ones((7, 7), np.uint8))
    return [(x, y) for y in range(y0, y1, step) for x in range(x0, x1, step) if solid[y, x]]


def render_sequence(scene: ShelfScene, times: list[float], **kwargs: float) -> list[tuple[Image, ShelfTruth]]:
    rendered: list[tuple[Image, ShelfTruth]] = []
    previous: ShelfTruth | None = None
    for t_s in times:
        image, truth = render_shelf_frame(scene, t_s, WIDTH, HEIGHT, previous=previous, **kwargs)
        rendered.append((image, truth))
        previous = truth
    return rendered


# --- the catalog and the scene --------------------------------------------------------------------------------


def test_catalog_is_unambiguous() -> None:
    assert len(CATALOG) >= 12
    assert len({product.display_name for product in CATALOG}) == len(CATALOG)
    assert len({product.brand for product in CATALOG}) == len(CATALOG)
    assert len({product.protein_g for product in CATALOG}) == len(CATALOG)
    assert len({product.color_bgr for product in CATALOG}) == len(CATALOG)


def test_display_name_joins_brand_and_name() -> None:
    assert Product("Peak", "Protein Bar", 20.0, 60, 230, (0, 0, 0)).display_name == "Peak Protein Bar"


def test_scene_is_deterministic_per_seed() -> None:
    first, again = make_shelf_scene(4), make_shelf_scene(4)
    assert first.products == again.products
    assert np.array_equal(first.canvas, again.canvas)
    picks = {make_shelf_scene(seed).products for seed in range(6)}
    assert len(picks) > 1


@pytest.mark.parametrize("n_products", [1, 3, 5, 8])
def test_scene_lays_products_out_left_to_right_without_overlap(n_products: int) -> None:
    scene = make_shelf_scene(seed=2, n_products=n_products)
    assert len(scene.products) == len(scene.product_boxes) == n_products
    assert len({product.protein_g for product in scene.products}) == n_products
    for (_, _, right, _), (left, _, _, _) in zip(scene.product_boxes, scene.product_boxes[1:], strict=False):
        assert right <= left
    height, width = scene.canvas.shape[:2]
    assert all(0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height for x0, y0, x1, y1 in scene.product_boxes)


def test_scene_canvas_cannot_be_changed_by_a_consumer() -> None:
    scene = make_shelf_scene()
    with pytest.raises(ValueError):
        scene.canvas[0, 0] = 0


@pytest.mark.parametrize("n_products", [0, len(CATALOG) + 1])
def test_scene_rejects_impossible_product_counts(n_products: int) -> None:
    with pytest.raises(DeviceSpecError, match="n_products"):
        make_shelf_scene(n_products=n_products)


# --- ground truth against pixels ------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "t_s"), [(0, 0.0), (0, 1.7), (3, 0.6), (9, 2.9)])
def test_package_colour_is_where_world_to_frame_puts_it(seed: int, t_s: float) -> None:
    scene = make_shelf_scene(seed)
    image, truth = render_shelf_frame(scene, t_s, WIDTH, HEIGHT)
    checked = 0
    for index, product in enumerate(scene.products):
        for x, y in flat_colour_points(scene, index):
            u, v = project(truth.world_to_frame, x, y)
            if 2 <= u < WIDTH - 2 and 2 <= v < HEIGHT - 2:
                pixel = image[round(v), round(u)].astype(int)
                assert np.abs(pixel - np.array(product.color_bgr)).max() <= 3, (product.display_name, x, y)
                checked += 1
    assert checked > 100


@pytest.mark.parametrize(("seed", "t_s"), [(0, 1.0), (5, 2.2)])
def test_each_package_colour_stays_inside_its_box(seed: int, t_s: float) -> None:
    image, truth = render_shelf_frame(make_shelf_scene(seed), t_s, WIDTH, HEIGHT)
    for product_truth in truth.products:
        colour = np.array(product_truth.product.color_bgr)
        ys, xs = np.nonzero(np.abs(image.astype(int) - colour).max(axis=2) <= 1)
        x0, y0, x1, y1 = product_truth.box
        assert xs.size > 0
        assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


@pytest.mark.parametrize("t_s", [0.0, 0.8, 1.7, 3.3, 5.1])
def test_boxes_quads_and_fractions_agree_and_stay_in_frame(t_s: float) -> None:
    _, truth = render_shelf_frame(make_shelf_scene(1), t_s, WIDTH, HEIGHT)
    assert truth.products
    for product_truth in truth.products:
        x0, y0, x1, y1 = product_truth.box
        assert 0 <= x0 < x1 <= WIDTH and 0 <= y0 < y1 <= HEIGHT
        assert 0.0 < product_truth.visible_fraction <= 1.0
        assert len(product_truth.quad) == 4
        if product_truth.visible_fraction == 1.0:
            assert_box_bounds_quad(product_truth)


def assert_box_bounds_quad(product_truth: ProductTruth) -> None:
    xs = [x for x, _ in product_truth.quad]
    ys = [y for _, y in product_truth.quad]
    x0, y0, x1, y1 = product_truth.box
    # Pixel centres sit on integers, so a package edge at 37.5 first covers pixel 38.
    assert x0 - 0.5 <= min(xs) + 1e-6 and min(xs) < x0 + 0.5
    assert y0 - 0.5 <= min(ys) + 1e-6 and min(ys) < y0 + 0.5
    assert x1 - 1.5 < max(xs) <= x1 - 0.5 + 1e-6
    assert y1 - 1.5 < max(ys) <= y1 - 0.5 + 1e-6


def test_partly_visible_fraction_matches_the_share_of_its_area_in_frame() -> None:
    # Turn the head far enough that the edge packages leave the frame, then measure their area by rasterising.
    scene = make_shelf_scene(0)
    _, truth = render_shelf_frame(scene, 1.7, WIDTH, HEIGHT, motion_scale=3.0)
    partial = [item for item in truth.products if item.visible_fraction < 0.99]
    assert partial
    for item in partial:
        big = np.zeros((HEIGHT * 3, WIDTH * 3), np.uint8)
        corners = np.round(np.array(item.quad) + np.array([WIDTH, HEIGHT])).astype(np.int32)
        cv2.fillConvexPoly(big, corners, 1)
        inside = big[HEIGHT : 2 * HEIGHT, WIDTH : 2 * WIDTH].sum() / big.sum()
        assert item.visible_fraction == pytest.approx(inside, abs=0.01)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("width", "height"), [(1280, 720), (640, 360)])
def test_every_product_is_fully_in_view_at_rest(seed: int, width: int, height: int) -> None:
    scene = make_shelf_scene(seed)
    _, truth = render_shelf_frame(scene, 0.0, width, height)
    assert [item.product for item in truth.products] == list(scene.products)
    assert all(item.visible_fraction == 1.0 for item in truth.products)
    assert (truth.yaw_deg, truth.pitch_deg, truth.roll_deg) == (0.0, 0.0, 0.0)


def test_packages_are_as_wide_as_text_needs_at_720p() -> None:
    _, truth = render_shelf_frame(make_shelf_scene(0), 0.0, WIDTH, HEIGHT)
    widths = [item.box[2] - item.box[0] for item in truth.products]
    assert all(215 <= width <= 265 for width in widths)


# --- head motion ----------------------------------------------------------------------------------------------


def test_motion_composes_world_to_frame_from_the_previous_frame() -> None:
    times = [index / 30 for index in range(0, 60, 7)]
    rendered = render_sequence(make_shelf_scene(2), times)
    assert np.allclose(matrix(rendered[0][1].motion), np.eye(3))
    for (_, before), (_, after) in itertools.pairwise(rendered):
        composed = matrix(after.motion) @ matrix(before.world_to_frame)
        assert np.allclose(composed / composed[2, 2], matrix(after.world_to_frame), rtol=1e-9, atol=1e-9)


def test_motion_predicts_the_next_frame_pixels() -> None:
    (first, _), (second, truth) = render_sequence(make_shelf_scene(6), [1.0, 1.2])
    predicted = cv2.warpPerspective(first, matrix(truth.motion), (WIDTH, HEIGHT))
    interior = (slice(60, HEIGHT - 60), slice(80, WIDTH - 80))
    error = np.abs(predicted[interior].astype(int) - second[interior].astype(int)).mean()
    unmoved = np.abs(first[interior].astype(int) - second[interior].astype(int)).mean()
    assert unmoved > 4 * error
    assert error < 3.0


def test_head_stays_within_its_amplitudes_and_moves_smoothly() -> None:
    scene = make_shelf_scene(11)
    poses = [render_shelf_frame(scene, index / 30, 64, 36)[1] for index in range(0, 300, 3)]
    assert max(abs(pose.yaw_deg) for pose in poses) <= 4.0
    assert max(abs(pose.pitch_deg) for pose in poses) <= 3.0
    assert max(abs(pose.roll_deg) for pose in poses) <= 2.0
    assert max(abs(pose.yaw_deg) for pose in poses) > 1.0
    steps = [abs(after.yaw_deg - before.yaw_deg) for before, after in itertools.pairwise(poses)]
    assert max(steps) < 1.5  # 0.1 s apart: no faster than a calm head turn, ~15 degrees a second


def test_motion_scale_multiplies_the_head_pose() -> None:
    scene = make_shelf_scene(3)
    _, normal = render_shelf_frame(scene, 1.3, WIDTH, HEIGHT)
    _, doubled = render_shelf_frame(scene, 1.3, WIDTH, HEIGHT, motion_scale=2.0)
    assert doubled.yaw_deg == pytest.approx(2 * normal.yaw_deg)
    assert doubled.roll_deg == pytest.approx(2 * normal.roll_deg)
    assert normal.yaw_deg != 0.0


def test_still_camera_renders_identical_frames() -> None:
    scene = make_shelf_scene(5)
    (first, _), (later, truth) = render_sequence(scene, [0.0, 2.5], motion_scale=0.0)
    assert np.array_equal(first, later)
    assert np.allclose(matrix(truth.motion), np.eye(3))


def test_a_moving_head_changes_the_frame() -> None:
    scene = make_shelf_scene(5)
    first, _ = render_shelf_frame(scene, 0.0, WIDTH, HEIGHT)
    later, _ = render_shelf_frame(scene, 1.0, WIDTH, HEIGHT)
    assert not np.array_equal(first, later)


def test_render_rejects_bad_arguments() -> None:
    scene = make_shelf_scene()
    with pytest.raises(DeviceSpecError, match="frame size"):
        render_shelf_frame(scene, 0.0, width=0)
    with pytest.raises(DeviceSpecError, match="frame size"):
        render_shelf_frame(scene, 0.0, height=-5)
    with pytest.raises(DeviceSpecError, match="motion_scale"):
        render_shelf_frame(scene, 0.0, motion_scale=-1.0)
    with pytest.raises(DeviceSpecError, match="t_s"):
        render_shelf_frame(scene, float("nan"))


# --- ranking truth ----------------------------------------------------------------------------------------------


def truth_of(*items: tuple[Product, float]) -> ShelfTruth:
    identity = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    products = tuple(
        ProductTruth(product, (0, 0, 10, 10), ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)), fraction)
        for product, fraction in items
    )
    return ShelfTruth(products, identity, identity, 0.0, 0.0, 0.0)


def test_best_product_ignores_products_partly_out_of_view() -> None:
    most, middle, least = sorted(CATALOG[:3], key=lambda product: -product.protein_g)
    assert truth_of((least, 1.0), (most, 0.9), (middle, 0.995)).best_product() == middle


def test_best_product_without_a_fully_visible_product_is_an_error() -> None:
    with pytest.raises(DeviceError, match="fully in view"):
        truth_of((CATALOG[0], 0.5)).best_product()


def test_best_product_of_a_still_frame_is_the_highest_protein_on_the_shelf() -> None:
    scene = make_shelf_scene(7)
    _, truth = render_shelf_frame(scene, 0.0, WIDTH, HEIGHT)
    assert truth.best_product().protein_g == max(product.protein_g for product in scene.products)


# --- legibility -----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_pp_ocr_reads_every_package_of_a_moving_frame() -> None:
    from rapidocr import RapidOCR

    scene = make_shelf_scene(3)
    image, truth = render_shelf_frame(scene, 1.1, WIDTH, HEIGHT)
    read = set(getattr(RapidOCR()(image), "txts", None) or ())
    for item in truth.products:
        if item.visible_fraction == 1.0:
            product = item.product
            assert {product.brand, product.name, f"Protein {product.protein_g:g}g"} <= read, product.display_name
