"""A synthetic espresso machine seen through a pair of glasses, with exact ground truth for each component.

Like the shelf (``eyeline.devices.synthetic``), the machine is drawn once, flat, on a canvas (the world) and
each frame views it through a camera that only rotates with the wearer's head; the difficulty knobs of
:class:`~eyeline.devices.scene.FrameEffects` apply unchanged. The component boxes of the canvas go
through the same homography as the pixels, so where the group head or a screw is in a frame is exact.

The machine's small display shows ``display_text`` ("READY" at rest): a repair kit's done-cues are words
this display shows once a step is done.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from eyeline.devices.base import Image
from eyeline.devices.scene import (
    FrameEffects,
    Matrix,
    Point,
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

Box = tuple[int, int, int, int]

MACHINE_NAME = "Eyeline Barista Pro 1"
BRAND_TEXT = "EYELINE BARISTA"
MODEL_TEXT = "PRO 1"
CANVAS_SIZE = (960, 720)          # width, height of the world
_FIT = 0.95                       # share of the frame height the canvas takes at rest
_RNG_SEED = 0xE5                  # one machine: its textures never change between scenes

_WALL = (205, 214, 222)
_COUNTER = (70, 110, 150)
_STEEL = (176, 178, 182)
_DARK = (38, 38, 42)
_CHROME = (120, 122, 128)
_WATER = (200, 150, 90)
_LCD = (120, 190, 150)
_INK = (20, 20, 20)
_WHITE = (245, 245, 245)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True, slots=True)
class MachineComponent:
    """A named part of the machine and its box on the canvas (pixels, exclusive end)."""

    id: str
    name: str
    box: Box


COMPONENTS: tuple[MachineComponent, ...] = (
    MachineComponent("water_tank", "water tank", (208, 138, 334, 452)),
    MachineComponent("group_head", "group head", (410, 322, 550, 394)),
    MachineComponent("portafilter", "portafilter", (424, 392, 712, 432)),
    MachineComponent("steam_wand", "steam wand", (684, 276, 742, 526)),
    MachineComponent("drip_tray", "drip tray", (256, 554, 706, 616)),
    MachineComponent("screw_left", "left panel screw", (216, 576, 246, 606)),
    MachineComponent("screw_right", "right panel screw", (716, 576, 746, 606)),
)
"""Every component the machine has, as drawn on the canvas."""


@dataclass(frozen=True, slots=True)
class EspressoScene:
    """The flat machine (world), its components, and the seed of the head motion."""

    canvas: Image = field(repr=False, compare=False)
    components: tuple[MachineComponent, ...]
    display_text: str = "READY"
    seed: int = 0

    def component(self, component_id: str) -> MachineComponent:
        for component in self.components:
            if component.id == component_id:
                return component
        raise KeyError(component_id)


@dataclass(frozen=True, slots=True)
class ComponentTruth:
    """Where one component is in one frame: its projected corners, visible pixel bounds and centre (pixels)."""

    id: str
    name: str
    quad: tuple[Point, ...]
    box: Box
    center: Point
    visible_fraction: float


@dataclass(frozen=True, slots=True)
class EspressoTruth:
    """Exact ground truth for one rendered frame; homographies 3x3, row-major, normalised to ``[2][2] = 1``."""

    components: tuple[ComponentTruth, ...]
    world_to_frame: tuple[float, ...]
    motion: tuple[float, ...]
    display_text: str

    def component(self, component_id: str) -> ComponentTruth:
        for truth in self.components:
            if truth.id == component_id:
                return truth
        raise KeyError(component_id)


# --- the flat machine -----------------------------------------------------------------------------------------


def make_espresso_scene(seed: int = 0, display_text: str = "READY") -> EspressoScene:
    """The machine with ``display_text`` on its display; ``seed`` only picks the head motion."""
    canvas = _draw_machine(display_text)
    canvas.flags.writeable = False
    return EspressoScene(canvas=canvas, components=COMPONENTS, display_text=display_text, seed=seed)


def _draw_machine(display_text: str) -> Image:
    width, height = CANVAS_SIZE
    rng = np.random.default_rng(_RNG_SEED)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = _WALL
    _tiles(canvas)
    canvas[630:] = _COUNTER
    _texture(canvas, (0, 630, width, height), rng, 18)
    _body(canvas, rng)
    _water_tank(canvas)
    _front_panel(canvas, display_text)
    _brew_unit(canvas)
    _steam_wand(canvas)
    _drip_tray(canvas)
    for component_id in ("screw_left", "screw_right"):
        _screw(canvas, next(c.box for c in COMPONENTS if c.id == component_id))
    return canvas


def _tiles(canvas: Image) -> None:
    for x in range(0, canvas.shape[1], 80):
        cv2.line(canvas, (x, 0), (x, 630), (185, 195, 204), 2)
    for y in range(0, 630, 80):
        cv2.line(canvas, (0, y), (canvas.shape[1], y), (185, 195, 204), 2)


def _texture(canvas: Image, box: Box, rng: np.random.Generator, strength: int) -> None:
    """Brushed, uneven surface: what gives the machine features to register against."""
    x0, y0, x1, y1 = box
    noise = rng.normal(0.0, strength, (y1 - y0, 1, 1)) + rng.normal(0.0, strength / 2, (y1 - y0, x1 - x0, 1))
    region = canvas[y0:y1, x0:x1].astype(np.float64) + noise
    canvas[y0:y1, x0:x1] = np.clip(region, 0, 255).astype(np.uint8)


def _body(canvas: Image, rng: np.random.Generator) -> None:
    cv2.rectangle(canvas, (196, 96), (764, 626), _DARK, -1)
    cv2.rectangle(canvas, (200, 122), (760, 622), _STEEL, -1)
    _texture(canvas, (200, 122, 760, 622), rng, 10)
    for x in range(214, 750, 24):                      # the cup rail on top
        cv2.line(canvas, (x, 100), (x + 12, 118), _CHROME, 3)


def _water_tank(canvas: Image) -> None:
    x0, y0, x1, y1 = next(c.box for c in COMPONENTS if c.id == "water_tank")
    cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), _DARK, 3)
    cv2.rectangle(canvas, (x0 + 4, y0 + 90), (x1 - 5, y1 - 5), _WATER, -1)
    for y in range(y0 + 110, y1 - 10, 40):
        cv2.line(canvas, (x0 + 10, y), (x0 + 40, y), _INK, 2)
    cv2.putText(canvas, "MAX", (x0 + 46, y0 + 118), _FONT, 0.6, _INK, 2, cv2.LINE_AA)
    cv2.putText(canvas, "MIN", (x0 + 46, y1 - 30), _FONT, 0.6, _INK, 2, cv2.LINE_AA)


def _front_panel(canvas: Image, display_text: str) -> None:
    cv2.rectangle(canvas, (372, 136), (708, 206), _DARK, -1)
    cv2.putText(canvas, BRAND_TEXT, (388, 184), _FONT, 1.05, _WHITE, 2, cv2.LINE_AA)
    cv2.rectangle(canvas, (392, 218), (572, 262), _DARK, -1)
    cv2.rectangle(canvas, (398, 224), (566, 256), _LCD, -1)
    scale = min(0.8, 150 / max(1, cv2.getTextSize(display_text, _FONT, 1.0, 2)[0][0]))
    cv2.putText(canvas, display_text, (406, 250), _FONT, scale, _INK, 2, cv2.LINE_AA)
    cv2.putText(canvas, MODEL_TEXT, (590, 250), _FONT, 0.8, _INK, 2, cv2.LINE_AA)
    cv2.circle(canvas, (650, 300), 30, _WHITE, -1)      # the pressure gauge
    cv2.circle(canvas, (650, 300), 30, _DARK, 3)
    for tick in range(9):
        angle = math.radians(135 + tick * 33.75)
        inner, outer = (650 + 22 * math.cos(angle), 300 + 22 * math.sin(angle)), (650 + 28 * math.cos(angle),
                                                                                 300 + 28 * math.sin(angle))
        cv2.line(canvas, tuple(map(round, inner)), tuple(map(round, outer)), _INK, 2)
    cv2.line(canvas, (650, 300), (668, 286), (30, 30, 200), 2)
    for x, label in ((400, "BREW"), (480, "STEAM"), (560, "POWER")):
        cv2.circle(canvas, (x + 20, 290), 13, _DARK, -1)
        cv2.putText(canvas, label, (x, 322), _FONT, 0.45, _INK, 1, cv2.LINE_AA)


def _brew_unit(canvas: Image) -> None:
    x0, y0, x1, y1 = next(c.box for c in COMPONENTS if c.id == "group_head")
    cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), _CHROME, -1)
    cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), _DARK, 3)
    for x in range(x0 + 14, x1 - 10, 16):
        cv2.line(canvas, (x, y0 + 8), (x, y1 - 10), (90, 92, 98), 3)
    px0, py0, px1, py1 = next(c.box for c in COMPONENTS if c.id == "portafilter")
    cv2.rectangle(canvas, (px0 + 6, py0), (px0 + 116, py1 - 1), _DARK, -1)     # the basket under the head
    handle = np.array([[px0 + 116, py0 + 8], [px1 - 1, py0 + 14], [px1 - 1, py1 - 8], [px0 + 116, py1 - 4]])
    cv2.fillPoly(canvas, [handle.astype(np.int32)], (30, 60, 110))
    for x in range(px0 + 140, px1 - 20, 22):
        cv2.line(canvas, (x, py0 + 14), (x, py1 - 10), (20, 40, 80), 2)


def _steam_wand(canvas: Image) -> None:
    x0, y0, _, y1 = next(c.box for c in COMPONENTS if c.id == "steam_wand")
    cv2.circle(canvas, (x0 + 36, y0 + 14), 13, _DARK, -1)                    # the knob
    cv2.line(canvas, (x0 + 36, y0 + 26), (x0 + 16, y1 - 6), _CHROME, 9)
    cv2.line(canvas, (x0 + 36, y0 + 26), (x0 + 16, y1 - 6), _DARK, 2)
    cv2.circle(canvas, (x0 + 16, y1 - 8), 6, _DARK, -1)


def _drip_tray(canvas: Image) -> None:
    x0, y0, x1, y1 = next(c.box for c in COMPONENTS if c.id == "drip_tray")
    cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), _DARK, -1)
    for x in range(x0 + 10, x1 - 6, 14):
        cv2.rectangle(canvas, (x, y0 + 8), (x + 6, y1 - 9), _CHROME, -1)


def _screw(canvas: Image, box: Box) -> None:
    x0, y0, x1, y1 = box
    cx, cy, radius = (x0 + x1) // 2, (y0 + y1) // 2, (x1 - x0) // 2 - 3
    cv2.circle(canvas, (cx, cy), radius, _CHROME, -1)
    cv2.circle(canvas, (cx, cy), radius, _INK, 2)
    cv2.line(canvas, (cx - radius + 3, cy), (cx + radius - 3, cy), _INK, 2)
    cv2.line(canvas, (cx, cy - radius + 3), (cx, cy + radius - 3), _INK, 2)


# --- the camera and ground truth ------------------------------------------------------------------------------


def _placement(width: int, height: int, zoom: float) -> Matrix:
    canvas_w, canvas_h = CANVAS_SIZE
    scale = zoom * min(_FIT * height / canvas_h, _FIT * width / canvas_w)
    return np.array([[scale, 0.0, (width - scale * canvas_w) / 2.0],
                     [0.0, scale, (height - scale * canvas_h) / 2.0], [0.0, 0.0, 1.0]])


def _world_to_frame(width: int, height: int, pose: tuple[float, float, float], effects: FrameEffects) -> Matrix:
    camera = intrinsics(width, height)
    head = camera @ rotation(*pose) @ np.linalg.inv(camera)
    return normalised(head @ turned_plane(camera, effects.perspective_deg) @ _placement(width, height, effects.zoom))


def _component_truth(component: MachineComponent, world_to_frame: Matrix, size: tuple[int, int]) -> ComponentTruth:
    x0, y0, x1, y1 = (edge - 0.5 for edge in component.box)
    quad = project(world_to_frame, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    visible = clip_to_frame(quad, *size)
    area = polygon_area(visible) if len(visible) >= 3 else 0.0
    center = project(world_to_frame, [((x0 + x1) / 2, (y0 + y1) / 2)])[0]
    xs, ys = [x for x, _ in visible] or [center[0]], [y for _, y in visible] or [center[1]]
    box = (math.floor(min(xs) + 0.5), math.floor(min(ys) + 0.5), math.ceil(max(xs) + 0.5), math.ceil(max(ys) + 0.5))
    return ComponentTruth(id=component.id, name=component.name, quad=tuple(quad), box=box, center=center,
                          visible_fraction=min(1.0, area / polygon_area(quad)))


def render_espresso_frame(
    scene: EspressoScene,
    t_s: float,
    width: int = 1280,
    height: int = 720,
    motion_scale: float = 1.0,
    previous: EspressoTruth | None = None,
    effects: FrameEffects | None = None,
) -> tuple[Image, EspressoTruth]:
    """The machine as seen at ``t_s`` seconds, with the exact place of every component in the frame."""
    check_render_args(t_s, width, height, motion_scale)
    effects = effects or FrameEffects()
    world_to_frame = _world_to_frame(width, height, head_pose(scene.seed, t_s, motion_scale), effects)
    image: Image = np.asarray(cv2.warpPerspective(
        scene.canvas, world_to_frame, (width, height), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=_WALL), dtype=np.uint8)
    image = with_optics(image, effects, scene.seed)
    motion = np.eye(3) if previous is None else normalised(
        world_to_frame @ np.linalg.inv(np.asarray(previous.world_to_frame).reshape(3, 3)))
    truth = EspressoTruth(
        components=tuple(_component_truth(c, world_to_frame, (width, height)) for c in scene.components),
        world_to_frame=as_tuple(world_to_frame), motion=as_tuple(motion), display_text=scene.display_text)
    return image, truth


def render_espresso_scene(scene: EspressoScene, t_s: float, width: int, height: int, motion_scale: float,
                          previous: EspressoTruth | None) -> tuple[Image, EspressoTruth]:
    """``render_espresso_frame`` with no effects, in the shape a ``RenderedSource`` calls."""
    return render_espresso_frame(scene, t_s, width, height, motion_scale, previous)


def normalized_regions(components: Sequence[MachineComponent] = COMPONENTS) -> dict[str, tuple[float, ...]]:
    """Each component's canvas box as ``[x0, y0, x1, y1]`` normalized to the canvas: a kit's regions."""
    width, height = CANVAS_SIZE
    return {c.id: (round(c.box[0] / width, 4), round(c.box[1] / height, 4),
                   round(c.box[2] / width, 4), round(c.box[3] / height, 4)) for c in components}
