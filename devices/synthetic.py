"""A synthetic pair of glasses looking at a snack shelf, with exact ground truth.

The shelf is drawn once, flat, on a *canvas* (the world). Each frame views that canvas through a camera that
only rotates (the wearer's head): the canvas is first placed so the whole row of products fills the frame, then
the head rotation ``K R K^-1`` is applied. Pixels and ground truth come from the very same homography, so the
truth is exact rather than estimated.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from eyeline.devices.base import DeviceError, DeviceSpecError, Image
from eyeline.devices.rendered import RenderedSource
from eyeline.devices.scene import FrameEffects as FrameEffects  # the knobs render_shelf_frame takes
from eyeline.devices.scene import (
    Matrix,
    Point,
    as_matrix,
    as_tuple,
    check_render_args,
    clip_to_frame,
    head_pose,
    intrinsics,
    normalised,
    polygon_area,
    project,
    rotation,
    turned_plane,
    with_optics,
)
from eyeline.protos.clock import Clock

Box = tuple[int, int, int, int]

FULLY_VISIBLE = 0.99
"""``visible_fraction`` from which a package counts as fully in view (and may be ranked)."""

_REFERENCE_WIDTH = 1280
_PACKAGE_W, _PACKAGE_H = 228, 320
_GAP, _ROW_MARGIN = 16, 16
_SIDE_PAD = 200  # shelf beyond the products, so turning the head never shows where the canvas ends
_MARGIN_X = _SIDE_PAD + _ROW_MARGIN
_CANVAS_H, _ROW_TOP = 560, 120
_FIT_MARGIN = 0.97  # share of the frame the product row may take, so no package touches the border at rest

_BACKGROUND_BGR = (214, 220, 224)
_BOARD_BGR = (96, 122, 152)
_EDGE_BGR = (40, 52, 66)
_INK_DARK = (20, 20, 20)
_INK_LIGHT = (250, 250, 250)
_PANEL_BGR = (255, 255, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True, slots=True)
class Product:
    """A snack as printed on its package; ``protein_g`` and ``kcal`` are per serving."""

    brand: str
    name: str
    protein_g: float
    serving_g: int
    kcal: int
    color_bgr: tuple[int, int, int]

    @property
    def display_name(self) -> str:
        return f"{self.brand} {self.name}"


@dataclass(frozen=True, slots=True)
class ProductTruth:
    """Where one product is in one frame.

    ``quad`` holds the package's corners (clockwise from top-left) in OpenCV pixel coordinates, where pixel
    centres sit on integers, so an unrotated package edge lies on a half pixel. ``box`` is the pixel bounds of
    what is visible, ``x1``/``y1`` exclusive like a numpy slice, clipped to the frame.
    """

    product: Product
    box: Box
    quad: tuple[Point, ...]
    visible_fraction: float


@dataclass(frozen=True, slots=True)
class ShelfTruth:
    """Exact ground truth for one rendered frame; homographies are 3x3, row-major, normalised to ``[2][2] = 1``."""

    products: tuple[ProductTruth, ...]
    world_to_frame: tuple[float, ...]
    motion: tuple[float, ...]
    yaw_deg: float
    pitch_deg: float
    roll_deg: float

    def best_product(self) -> Product:
        """The product with the most protein per serving among those fully in view."""
        candidates = [truth.product for truth in self.products if truth.visible_fraction >= FULLY_VISIBLE]
        if not candidates:
            raise DeviceError("no product is fully in view, so none can be ranked")
        return max(candidates, key=lambda product: product.protein_g)


@dataclass(frozen=True, slots=True)
class ShelfScene:
    """The flat shelf (world): products left to right, their canvas boxes, and the seed of the head motion."""

    products: tuple[Product, ...]
    canvas: Image = field(repr=False, compare=False)
    product_boxes: tuple[Box, ...]
    seed: int = 0
    layouts: tuple[LabelLayout, ...] = ()


class LabelLayout(enum.Enum):
    """How a package states its protein; the difficulty knobs that live on the package itself."""

    CLASSIC = "classic"              # "Protein 20g", per serving
    COLON = "colon"                  # "Protein: 20 g"
    AMOUNT_FIRST = "amount_first"    # "20g protein"
    PER_100G = "per_100g"            # a per-100 g table with the serving size above it
    HIDDEN = "hidden"                # no panel in view: brand and name only, so only a catalog can answer
    OCCLUDED = "occluded"            # a price sticker covers the protein row


CATALOG: tuple[Product, ...] = (
    Product("Peak", "Protein Bar", 20.0, 60, 230, (40, 40, 200)),
    Product("Nordic", "Oat Crisps", 4.0, 30, 140, (170, 110, 30)),
    Product("Sunny", "Trail Mix", 6.0, 40, 200, (30, 170, 240)),
    Product("Atlas", "Jerky Bites", 15.0, 40, 110, (60, 120, 40)),
    Product("Bolt", "Energy Bar", 9.0, 50, 210, (140, 40, 120)),
    Product("Cacao", "Brownie Bar", 3.0, 45, 190, (40, 70, 110)),
    Product("Verde", "Pea Puffs", 7.0, 28, 130, (60, 190, 120)),
    Product("Vita", "Whey Wafer", 12.0, 35, 160, (150, 150, 20)),
    Product("Crunch", "Soy Chips", 11.0, 30, 140, (20, 110, 230)),
    Product("Maple", "Granola", 5.0, 45, 190, (90, 150, 200)),
    Product("Titan", "Power Cookie", 16.0, 70, 280, (100, 40, 30)),
    Product("Rocky", "Nut Bar", 8.0, 40, 200, (130, 60, 200)),
    Product("Alpine", "Cheese Crisps", 13.0, 30, 170, (220, 170, 90)),
    Product("Ocean", "Tuna Snack", 18.0, 85, 120, (200, 120, 110)),
    Product("Zen", "Seaweed Thins", 2.5, 10, 50, (50, 100, 90)),
)
"""Every product a synthetic shelf can show; protein values are all distinct so rankings are unambiguous."""


# --- the flat shelf -------------------------------------------------------------------------------------------


def make_shelf_scene(seed: int = 0, n_products: int = 5, layouts: Sequence[LabelLayout] = ()) -> ShelfScene:
    """Pick ``n_products`` from :data:`CATALOG` (deterministically from ``seed``) and lay them out in a row.

    ``layouts`` gives each slot's label layout, left to right; slots it does not reach are ``CLASSIC``.
    """
    if not 1 <= n_products <= len(CATALOG):
        raise DeviceSpecError(f"n_products must be between 1 and {len(CATALOG)}, got {n_products}")
    picks = np.random.default_rng(seed).choice(len(CATALOG), size=n_products, replace=False)
    products = tuple(CATALOG[int(index)] for index in picks)
    boxes = tuple(_package_box(slot) for slot in range(n_products))
    slot_layouts = tuple(layouts[slot] if slot < len(layouts) else LabelLayout.CLASSIC for slot in range(n_products))
    canvas = _draw_canvas(products, boxes, _canvas_width(n_products), slot_layouts)
    canvas.flags.writeable = False  # the scene is a value shared by every frame and thread
    return ShelfScene(products=products, canvas=canvas, product_boxes=boxes, seed=seed, layouts=slot_layouts)


def _canvas_width(n_products: int) -> int:
    return 2 * _MARGIN_X + n_products * _PACKAGE_W + (n_products - 1) * _GAP


def _package_box(slot: int) -> Box:
    x0 = _MARGIN_X + slot * (_PACKAGE_W + _GAP)
    return (x0, _ROW_TOP, x0 + _PACKAGE_W, _ROW_TOP + _PACKAGE_H)


def _draw_canvas(products: Sequence[Product], boxes: Sequence[Box], width: int,
                 layouts: Sequence[LabelLayout]) -> Image:
    canvas = np.empty((_CANVAS_H, width, 3), dtype=np.uint8)
    canvas[:] = _BACKGROUND_BGR
    _draw_board(canvas, top=_ROW_TOP - 60, bottom=_ROW_TOP - 24)  # underside of the shelf above
    _draw_board(canvas, top=_ROW_TOP + _PACKAGE_H, bottom=_ROW_TOP + _PACKAGE_H + 30)
    for product, (x0, y0, x1, y1), layout in zip(products, boxes, layouts, strict=True):
        canvas[y0:y1, x0:x1] = _draw_package(product, layout)
    return canvas


def _draw_board(canvas: Image, *, top: int, bottom: int) -> None:
    canvas[top:bottom] = _BOARD_BGR
    last_column = canvas.shape[1] - 1
    for y in (top, bottom - 1):
        cv2.line(canvas, (0, y), (last_column, y), _EDGE_BGR, 2)


def _draw_package(product: Product, layout: LabelLayout = LabelLayout.CLASSIC) -> Image:
    package = np.empty((_PACKAGE_H, _PACKAGE_W, 3), dtype=np.uint8)
    package[:] = product.color_bgr
    ink = _INK_DARK if _luminance(product.color_bgr) > 140 else _INK_LIGHT
    _put_centred(package, product.brand, baseline=46, scale=1.2, color=ink)
    _put_centred(package, product.name, baseline=88, scale=1.0, color=ink)
    if layout is not LabelLayout.HIDDEN:
        _draw_panel(package, product, layout)
    outline = tuple(channel // 2 for channel in product.color_bgr)
    cv2.rectangle(package, (0, 0), (_PACKAGE_W - 1, _PACKAGE_H - 1), outline, 2)
    return package


def _draw_panel(package: Image, product: Product, layout: LabelLayout = LabelLayout.CLASSIC) -> None:
    left, top, right, bottom = 12, 128, _PACKAGE_W - 12, _PACKAGE_H - 14
    cv2.rectangle(package, (left, top), (right, bottom), _PANEL_BGR, -1)
    cv2.rectangle(package, (left, top), (right, bottom), _INK_DARK, 1)
    for row, text in enumerate(_panel_lines(product, layout)):
        scale = _fitting_scale(text, preferred=0.8, width=right - left - 20)
        cv2.putText(package, text, (left + 10, top + 36 + 40 * row), _FONT, scale, _INK_DARK, 2, cv2.LINE_AA)
    if layout is LabelLayout.OCCLUDED:  # a price sticker over the protein row (the fourth)
        cv2.rectangle(package, (left + 4, top + 140), (right - 4, bottom - 4), (40, 200, 250), -1)
        cv2.putText(package, "SALE", (left + 60, top + 172), _FONT, 0.9, _INK_DARK, 2, cv2.LINE_AA)


def _panel_lines(product: Product, layout: LabelLayout) -> tuple[str, ...]:
    amount = f"{product.protein_g:g}"
    if layout is LabelLayout.PER_100G:
        per_100g = round(100.0 * product.protein_g / product.serving_g, 1)
        kcal_100g = round(100 * product.kcal / product.serving_g)
        return ("Nutrition per 100g", f"Serving {product.serving_g}g", f"Energy {kcal_100g} kcal",
                f"Protein {per_100g:g}g")
    protein = {LabelLayout.COLON: f"Protein: {amount} g", LabelLayout.AMOUNT_FIRST: f"{amount}g protein"}.get(
        layout, f"Protein {amount}g")
    return ("Nutrition Facts", f"Serving {product.serving_g}g", f"Calories {product.kcal}", protein)


def _put_centred(image: Image, text: str, *, baseline: int, scale: float, color: tuple[int, int, int]) -> None:
    scale = _fitting_scale(text, preferred=scale, width=image.shape[1] - 16)
    (text_w, _), _ = cv2.getTextSize(text, _FONT, scale, 2)
    cv2.putText(image, text, ((image.shape[1] - text_w) // 2, baseline), _FONT, scale, color, 2, cv2.LINE_AA)


def _fitting_scale(text: str, *, preferred: float, width: int) -> float:
    (text_w, _), _ = cv2.getTextSize(text, _FONT, preferred, 2)
    return preferred if text_w <= width else preferred * width / text_w


def _luminance(bgr: tuple[int, int, int]) -> float:
    blue, green, red = bgr
    return 0.114 * blue + 0.587 * green + 0.299 * red


# --- the head and the camera ----------------------------------------------------------------------------------

def _placement(canvas_shape: tuple[int, ...], width: int, height: int, zoom: float = 1.0) -> Matrix:
    """Canvas to frame at rest: centred, the product row fitting, never magnified past the reference size."""
    canvas_h, canvas_w = canvas_shape[:2]
    row_w, row_h = canvas_w - 2 * _SIDE_PAD, _PACKAGE_H + 60
    scale = zoom * min(width / _REFERENCE_WIDTH, _FIT_MARGIN * width / row_w, _FIT_MARGIN * height / row_h)
    return np.array([
        [scale, 0.0, (width - scale * canvas_w) / 2.0],
        [0.0, scale, (height - scale * canvas_h) / 2.0],
        [0.0, 0.0, 1.0],
    ])


def _world_to_frame(scene: ShelfScene, width: int, height: int, pose: tuple[float, float, float],
                    effects: FrameEffects | None = None) -> Matrix:
    effects = effects or FrameEffects()
    camera = intrinsics(width, height)
    head = camera @ rotation(*pose) @ np.linalg.inv(camera)
    placement = _placement(scene.canvas.shape, width, height, effects.zoom)
    return normalised(head @ turned_plane(camera, effects.perspective_deg) @ placement)


# --- ground truth ---------------------------------------------------------------------------------------------


_SNAP_PX = 1e-6  # rounding noise of the homography must not widen a box by a whole pixel


def _package_truth(product: Product, box: Box, world_to_frame: Matrix, size: tuple[int, int]) -> ProductTruth | None:
    width, height = size
    x0, y0, x1, y1 = (edge - 0.5 for edge in box)  # pixel edges, not pixel centres
    quad = project(world_to_frame, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    visible = clip_to_frame(quad, width, height)
    visible_area = polygon_area(visible) if len(visible) >= 3 else 0.0
    if visible_area <= 0.0:
        return None
    fraction = min(1.0, visible_area / polygon_area(quad))
    return ProductTruth(product=product, box=_pixel_bounds(visible), quad=tuple(quad), visible_fraction=fraction)


def _pixel_bounds(points: Sequence[Point]) -> Box:
    """The pixels whose centres a polygon (already inside the frame) spans, as an exclusive-end box."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return (math.floor(min(xs) + 0.5 + _SNAP_PX), math.floor(min(ys) + 0.5 + _SNAP_PX),
            math.ceil(max(xs) + 0.5 - _SNAP_PX), math.ceil(max(ys) + 0.5 - _SNAP_PX))


def _visible_products(scene: ShelfScene, world_to_frame: Matrix, size: tuple[int, int]) -> tuple[ProductTruth, ...]:
    truths = (_package_truth(product, box, world_to_frame, size)
              for product, box in zip(scene.products, scene.product_boxes, strict=True))
    return tuple(truth for truth in truths if truth is not None)


def _motion(world_to_frame: Matrix, previous: ShelfTruth | None) -> Matrix:
    if previous is None:
        return np.eye(3)
    return normalised(world_to_frame @ np.linalg.inv(as_matrix(previous.world_to_frame)))


# --- rendering ------------------------------------------------------------------------------------------------


def render_shelf_frame(
    scene: ShelfScene,
    t_s: float,
    width: int = 1280,
    height: int = 720,
    motion_scale: float = 1.0,
    previous: ShelfTruth | None = None,
    effects: FrameEffects | None = None,
) -> tuple[Image, ShelfTruth]:
    """Render the shelf as seen at ``t_s`` seconds, with its exact ground truth.

    ``previous`` is the truth of the frame shown before this one (of the same scene and size); ``motion`` maps
    its pixels onto this frame's. ``motion_scale`` multiplies the head motion: 0 is a camera held still.
    """
    check_render_args(t_s, width, height, motion_scale)
    yaw, pitch, roll = head_pose(scene.seed, t_s, motion_scale)
    world_to_frame = _world_to_frame(scene, width, height, (yaw, pitch, roll), effects)
    image: Image = np.asarray(cv2.warpPerspective(
        scene.canvas, world_to_frame, (width, height), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=_BACKGROUND_BGR,
    ), dtype=np.uint8)
    if effects is not None:
        image = with_optics(image, effects, scene.seed)
    truth = ShelfTruth(
        products=_visible_products(scene, world_to_frame, (width, height)),
        world_to_frame=as_tuple(world_to_frame),
        motion=as_tuple(_motion(world_to_frame, previous)),
        yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll,
    )
    return image, truth


# --- the source -----------------------------------------------------------------------------------------------


class SyntheticShelfSource(RenderedSource[ShelfTruth]):
    """A :class:`~eyeline.devices.rendered.RenderedSource` of shelf frames (``truth``: a :class:`ShelfTruth`).

    ``seed`` picks the scene when none is given.
    """

    def __init__(
        self,
        scene: ShelfScene | None = None,
        *,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        frames: int | None = None,
        clock: Clock | None = None,
        motion_scale: float = 1.0,
        seed: int = 0,
    ) -> None:
        self._scene = scene if scene is not None else make_shelf_scene(seed)
        super().__init__(functools.partial(render_shelf_scene, self._scene), width=width, height=height, fps=fps,
                         frames=frames, clock=clock, motion_scale=motion_scale)

    @property
    def scene(self) -> ShelfScene:
        return self._scene


def render_shelf_scene(scene: ShelfScene, t_s: float, width: int, height: int, motion_scale: float,
                       previous: ShelfTruth | None) -> tuple[Image, ShelfTruth]:
    """``render_shelf_frame`` with no effects, in the shape a :class:`RenderedSource` calls."""
    return render_shelf_frame(scene, t_s, width, height, motion_scale, previous)
