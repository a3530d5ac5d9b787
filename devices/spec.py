"""Device strings: one line of configuration or command line that names a frame source.

Grammar::

    spec    := KIND ":" TARGET [ "?" options ]
    options := KEY "=" VALUE { "&" KEY "=" VALUE }

    webcam:0   webcam:/dev/video2     options: width, height, fps          (defaults: the profile's)
    video:PATH                        options: loop (0 or 1)
    image:PATH                        options: fps, frames
    synthetic:shelf                   options: seed, frames, fps, products, motion  (fps: the profile's)
    replay:PATH                       options: fast (0 or 1), keyframes (0 or 1)

A ``TARGET`` cannot contain ``?``. Examples: ``webcam:0?fps=15``, ``video:clips/shelf.mp4?loop=1``,
``synthetic:shelf?seed=3&frames=90``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from eyeline.devices.base import DeviceSpecError, FrameSource
from eyeline.devices.espresso import make_espresso_scene, render_espresso_scene
from eyeline.devices.image import ImageSource
from eyeline.devices.profiles import WEBCAM, GlassesProfile
from eyeline.devices.rendered import RenderedSource
from eyeline.devices.replay import ReplaySource
from eyeline.devices.synthetic import SyntheticShelfSource, make_shelf_scene
from eyeline.devices.video import VideoFileSource
from eyeline.devices.webcam import WebcamSource
from eyeline.protos.clock import Clock, MonotonicClock, VirtualClock

_Value = TypeVar("_Value")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A parsed device string; ``options`` keeps the order they were written in."""

    kind: str
    target: str
    options: tuple[tuple[str, str], ...] = ()


def parse_device_spec(spec: str) -> DeviceSpec:
    """Split ``KIND:TARGET?k=v&...`` without interpreting it; raises :class:`DeviceSpecError` on bad syntax."""
    kind, colon, rest = spec.strip().partition(":")
    if not colon or not kind:
        raise DeviceSpecError(f"device {spec!r} is not of the form KIND:TARGET, e.g. 'webcam:0'")
    target, _, query = rest.partition("?")
    if not target:
        raise DeviceSpecError(f"device {spec!r} names no target after {kind + ':'!r}")
    return DeviceSpec(kind=kind.lower(), target=target, options=_parse_options(spec, query))


def _parse_options(spec: str, query: str) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for item in query.split("&") if query else ():
        key, equals, value = item.partition("=")
        if not equals or not key or not value:
            raise DeviceSpecError(f"device {spec!r}: option {item!r} is not KEY=VALUE")
        if any(key == seen for seen, _ in pairs):
            raise DeviceSpecError(f"device {spec!r}: option {key!r} is given twice")
        pairs.append((key, value))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class _Context:
    clock: Clock | None
    profile: GlassesProfile
    realtime: bool

    def paced_clock(self) -> Clock:
        """The clock for sources that pace themselves; unpaced means virtual time, starting now."""
        if self.realtime:
            return self.clock if self.clock is not None else MonotonicClock()
        return VirtualClock((self.clock or MonotonicClock()).now_ns())


class _Options:
    """The options of one device string, checked against what its kind understands."""

    def __init__(self, spec: DeviceSpec, allowed: tuple[str, ...]) -> None:
        self._spec = spec
        self._values = dict(spec.options)
        unknown = sorted(set(self._values) - set(allowed))
        if unknown:
            known = ", ".join(allowed) or "none"
            raise DeviceSpecError(f"{spec.kind} devices do not take option(s) {', '.join(unknown)}; known: {known}")

    def integer(self, key: str, default: int) -> int:
        return self._convert(key, default, int, "an integer")

    def integer_or_none(self, key: str) -> int | None:
        return self._convert(key, None, int, "an integer")

    def number(self, key: str, default: float) -> float:
        return self._convert(key, default, float, "a number")

    def flag(self, key: str) -> bool:
        return self._convert(key, False, _parse_flag, "0 or 1")

    def _convert(self, key: str, default: _Value, parse: Callable[[str], _Value], expected: str) -> _Value:
        raw = self._values.get(key)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as error:
            raise DeviceSpecError(f"{self._spec.kind} option {key}={raw!r} is not {expected}") from error


def _parse_flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise ValueError(raw)


def _open_webcam(spec: DeviceSpec, context: _Context) -> FrameSource:
    options = _Options(spec, ("width", "height", "fps"))
    device: int | str = int(spec.target) if spec.target.isdigit() else spec.target
    return WebcamSource(
        device,
        width=options.integer("width", context.profile.width),
        height=options.integer("height", context.profile.height),
        fps=options.number("fps", context.profile.fps),
        clock=context.clock,
    )


def _open_video(spec: DeviceSpec, context: _Context) -> FrameSource:
    options = _Options(spec, ("loop",))
    return VideoFileSource(spec.target, realtime=context.realtime, loop=options.flag("loop"), clock=context.clock)


def _open_image(spec: DeviceSpec, context: _Context) -> FrameSource:
    options = _Options(spec, ("fps", "frames"))
    return ImageSource(
        spec.target,
        fps=options.number("fps", 2.0),
        frames=options.integer_or_none("frames"),
        clock=context.paced_clock(),
    )


_SYNTHETIC_SCENES = ("shelf", "espresso")


def _open_synthetic(spec: DeviceSpec, context: _Context) -> FrameSource:
    if spec.target not in _SYNTHETIC_SCENES:
        raise DeviceSpecError(f"unknown synthetic scene {spec.target!r}; known: {', '.join(_SYNTHETIC_SCENES)}")
    options = _Options(spec, ("seed", "frames", "fps", "products", "motion"))
    seed = options.integer("seed", 0)
    width, height = context.profile.width, context.profile.height
    fps, frames = options.number("fps", context.profile.fps), options.integer_or_none("frames")
    motion = options.number("motion", 1.0)
    if spec.target == "espresso":
        return RenderedSource(functools.partial(render_espresso_scene, make_espresso_scene(seed)), width=width,
                              height=height, fps=fps, frames=frames, clock=context.paced_clock(), motion_scale=motion)
    return SyntheticShelfSource(make_shelf_scene(seed, options.integer("products", 5)), width=width, height=height,
                                fps=fps, frames=frames, clock=context.paced_clock(), motion_scale=motion, seed=seed)


def _open_replay(spec: DeviceSpec, context: _Context) -> FrameSource:
    """A recording at recorded speed, or as fast as it is pulled with ``fast=1`` (or an unpaced context)."""
    options = _Options(spec, ("fast", "keyframes"))
    clock = VirtualClock((context.clock or MonotonicClock()).now_ns()) if options.flag("fast") \
        else context.paced_clock()
    return ReplaySource(spec.target, clock=clock, keyframes_only=options.flag("keyframes"))


_OPENERS: Mapping[str, Callable[[DeviceSpec, _Context], FrameSource]] = {
    "webcam": _open_webcam,
    "video": _open_video,
    "image": _open_image,
    "synthetic": _open_synthetic,
    "replay": _open_replay,
}

KNOWN_KINDS: tuple[str, ...] = tuple(_OPENERS)


def open_device(
    spec: str,
    *,
    clock: Clock | None = None,
    profile: GlassesProfile | None = None,
    realtime: bool = True,
) -> FrameSource:
    """Create the frame source a device string names (see the module docstring for the grammar).

    ``profile`` gives webcam and synthetic sources their frame size and rate (default: :data:`WEBCAM`).
    ``realtime=False`` lets files and synthetic scenes run as fast as they are pulled, on virtual time that
    starts at ``clock``'s now; a webcam is always live. Nothing is opened yet: files and cameras are checked
    for existence here and opened on the first pull.
    """
    parsed = parse_device_spec(spec)
    opener = _OPENERS.get(parsed.kind)
    if opener is None and parsed.kind == "push":
        raise DeviceSpecError(f"{spec!r}: frames pushed by a phone arrive through the daemon's push-ingest service; "
                              "run `eyeline edge --config FILE.toml` with an [ingest] section")
    if opener is None:
        raise DeviceSpecError(f"unknown device kind {parsed.kind!r} in {spec!r}; known kinds: {', '.join(KNOWN_KINDS)}")
    return opener(parsed, _Context(clock=clock, profile=profile or WEBCAM, realtime=realtime))
