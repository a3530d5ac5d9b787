"""Reading that is reused, not redone: a session's OCR carried from one keyframe to the next by tracking.

The last keyframe read and its lines are cached. A new keyframe is registered onto it (ORB + RANSAC); the
cached lines move with the homography, and only the regions that are new (outside the old view) or changed
(where the warped old frame and the new one disagree) are read again. A frame that cannot be registered, or
that changed almost everywhere, is read whole. Reads of images of another size (crops) pass straight through.

Over a reader that can find outlines and read given ones apart (``OutlineReader``: the OCR pool), the stale
regions are only detected; an outline there that a cached line already covers, on pixels that did not change, keeps
the cached text, and only the others are recognised, cropped from the full frame in one batched call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, Protocol, TypeVar, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from eyeline.cloud.model import Image, NormBox, Point
from eyeline.cloud.perception import spend
from eyeline.cloud.perception.ocr import AsyncTextReader, Quad, TextLine
from eyeline.cloud.perception.registration import Features, Registration, features_of, register

_P = ParamSpec("_P")
_R = TypeVar("_R")

# Grey-level difference (after a light blur) from which a pixel counts as changed rather than resampled.
_CHANGED_LEVEL = 40
_BLUR = (9, 9)
# Context read around a stale region, so text at its border is seen whole.
_REGION_PAD = 0.02
# The frame is judged in tiles; a tile is read again when this share of its pixels is new or changed.
_TILES_X, _TILES_Y = 16, 9
_STALE_TILE_SHARE = 0.02
# Beyond this share of the frame, reading the pieces costs more than reading the whole.
_WHOLE_READ_SHARE = 0.6
_MIN_CONFIDENCE = 0.3
# A detected outline keeps a cached line's text when they overlap this much (IoU) and at most this share of the
# line's pixels changed; the rest of the regions' outlines are recognised.
_SAME_LINE_IOU = 0.5
_UNCHANGED_SHARE = 0.05
_MISSED_IOU = 0.2   # below this overlap with every outline found, a cached line counts as missed by the detector
_DETECTION_SHORT_SIDE, _DETECTION_LONG_SIDE = 736, 1280
_MIN_WINDOW_PX = 8   # a sliver narrower than this holds no readable line


@runtime_checkable
class OutlineReader(Protocol):
    """A reader that finds text outlines and reads given outlines as separate steps (the OCR pool)."""

    async def detect_each(self, images: Sequence[Image], *,
                          scale: float | None = None) -> tuple[tuple[Quad, ...], ...]: ...

    async def recognize(self, image_bgr: Image, quads: Sequence[Quad]) -> tuple[TextLine | None, ...]: ...


@dataclass(slots=True)
class ReuseStats:
    """What the cache saved: whole reads, region reads, lines carried across frames."""

    whole_reads: int = 0
    region_reads: int = 0
    exact_hits: int = 0
    lines_carried: int = 0
    lines_recognized: int = 0    # outlines in stale regions read again
    lines_reused: int = 0        # outlines in stale regions whose cached text still held


@dataclass(frozen=True, slots=True)
class _Cached:
    image: Image
    gray: npt.NDArray[np.uint8]
    lines: tuple[TextLine, ...]
    features: Features | None = None   # its ORB features, once a registration computed them


@dataclass(frozen=True, slots=True)
class _Moved:
    """How a new frame lies against the cached one: the registration (None: not found), the frame's features and,
    where found, its stale pixels."""

    found: Registration | None
    features: Features
    reference: Features
    stale: npt.NDArray[np.bool_] | None


class TrackedTextReader:
    """An ``AsyncTextReader`` over ``base`` that carries the last frame's lines to the next one.

    ``reuse_recognition`` False reads the stale regions whole even over an ``OutlineReader`` (the path before
    outlines were matched, kept selectable for the benchmark's baseline).
    """

    def __init__(self, base: AsyncTextReader, *, reuse_recognition: bool = True) -> None:
        self._base = base
        self._outlines = (base if reuse_recognition and isinstance(base, OutlineReader)
                          and getattr(base, "reads_outlines", True) else None)
        self._cached: _Cached | None = None
        self.stats = ReuseStats()

    def latest(self) -> tuple[Image, tuple[TextLine, ...]] | None:
        """The last keyframe read and its lines, at no cost; None before the first read."""
        cached = self._cached
        return None if cached is None else (cached.image, cached.lines)

    def restore(self, image: Image, lines: tuple[TextLine, ...]) -> None:
        """Carry on from a read made elsewhere (the session resumed through another cloud process)."""
        self._cached = _Cached(image, _gray(image), lines)

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        cached = self._cached
        if cached is None or cached.image.shape != image_bgr.shape:
            return await self._whole(image_bgr, remember=cached is None)
        if np.array_equal(cached.image, image_bgr):
            self.stats.exact_hits += 1
            return cached.lines
        gray = _gray(image_bgr)
        moved, spent_ns = await asyncio.to_thread(_measured, _register_onto, cached, gray)
        spend.note(spend.REGISTRATION, spent_ns)
        cached = _Cached(cached.image, cached.gray, cached.lines, moved.reference)
        if moved.found is None or moved.stale is None:
            return await self._whole(image_bgr, gray=gray, features=moved.features)
        return await self._carried(cached, moved.found, moved.stale, image_bgr, gray, moved.features)

    async def _whole(self, image: Image, *, gray: npt.NDArray[np.uint8] | None = None,
                     remember: bool = True, features: Features | None = None) -> tuple[TextLine, ...]:
        lines = await self._base.read(image)
        self.stats.whole_reads += 1
        if remember:
            self._cached = _Cached(image, gray if gray is not None else _gray(image), lines, features)
        return lines

    async def _carried(self, cached: _Cached, found: Registration, stale: npt.NDArray[np.bool_], image: Image,
                       gray: npt.NDArray[np.uint8], features: Features) -> tuple[TextLine, ...]:
        regions = regions_of(stale)
        moved = [_moved(line, found, cached.gray.shape, gray.shape) for line in cached.lines]
        # A line the view now cuts is read again where it still shows.
        cut = [_clipped(line.box) for line in moved if not _inside(line.box) and _clipped(line.box) is not None]
        moved = [line for line in moved if _inside(line.box)]
        padded = [_pad(box, _REGION_PAD) for box in (*regions, *(box for box in cut if box is not None))]
        regions = _grown(padded, moved)
        if sum(_area(region) for region in regions) > _WHOLE_READ_SHARE:
            return await self._whole(image, gray=gray, features=features)
        kept = [line for line in moved if not any(_overlaps(line.box, region) for region in regions)]
        if not regions:
            fresh: tuple[TextLine, ...] = ()
        elif self._outlines is not None:
            stale_lines = [line for line in moved if line not in kept]
            fresh = await self._reread_regions(self._outlines, image, regions, stale_lines, stale)
        else:
            fresh = _deduplicated(await self._read_regions(image, regions))
        self.stats.region_reads += len(regions)
        self.stats.lines_carried += len(kept)
        lines = (*kept, *fresh)
        self._cached = _Cached(image, gray, lines, features)
        return lines

    async def _reread_regions(self, reader: OutlineReader, image: Image, regions: Sequence[NormBox],
                              candidates: Sequence[TextLine], stale: npt.NDArray[np.bool_]) -> tuple[TextLine, ...]:
        """The regions' outlines; cached text kept where it still holds, the rest recognised in one batch."""
        # Each window is detected with a margin (text touching a crop's edge is found unreliably); what lies only
        # in the margin is a carried line already.
        found = await self._detect_windows(reader, image, _windows(image, [_pad(r, _REGION_PAD) for r in regions]))
        outlines = _deduplicated([line for line in found if any(_overlaps(line.box, r) for r in regions)])
        reused: list[TextLine] = []
        unread: list[TextLine] = []
        for outline in outlines:
            same = _same_line(outline, candidates, stale)
            if same is None:
                unread.append(outline)
            else:
                reused.append(TextLine(same.text, same.score, outline.box, outline.quad))
        # A cached line on unchanged pixels that the detector missed this time is still there.
        reused += [line for line in candidates if _stale_share(stale, line.box) <= _UNCHANGED_SHARE
                   and not any(_iou(line.box, outline.box) > _MISSED_IOU for outline in outlines)]
        read = await reader.recognize(image, [line.quad for line in unread]) if unread else ()
        self.stats.lines_reused += len(reused)
        self.stats.lines_recognized += len(unread)
        return (*reused, *(line for line in read if line is not None))

    @staticmethod
    async def _detect_windows(reader: OutlineReader, image: Image, windows: Sequence[Window]) -> list[TextLine]:
        """Outlines found in each window on its own, at the scale the whole frame is detected at: detection costs
        per pixel, and a mosaic of a tall strip and a wide one is mostly blank canvas."""
        rows, cols = image.shape[:2]
        windows = [w for w in windows if min(w[2] - w[0], w[3] - w[1]) >= _MIN_WINDOW_PX]
        pieces = [np.ascontiguousarray(image[y0:y1, x0:x1]) for x0, y0, x1, y1 in windows]
        found: list[TextLine] = []
        for (x0, y0, x1, y1), quads in zip(windows, await reader.detect_each(
                pieces, scale=_frame_detection_scale(image)), strict=True):
            for quad in quads:
                placed = tuple(((x0 + x * (x1 - x0)) / cols, (y0 + y * (y1 - y0)) / rows) for x, y in quad)
                found.append(_outline((placed[0], placed[1], placed[2], placed[3])))
        return found

    async def _read_regions(self, image: Image, regions: Sequence[NormBox]) -> tuple[TextLine, ...]:
        """All regions read in one pass, packed into one near-square mosaic (the detector's cost is per image)."""
        canvas, placed = pack_mosaic(image, _windows(image, regions))
        lines = await self._base.read(canvas)
        return tuple(found for line in lines if (found := _from_mosaic(line, placed, canvas.shape, image.shape)))


Window = tuple[int, int, int, int]


def _windows(image: Image, regions: Sequence[NormBox]) -> list[Window]:
    rows, cols = image.shape[:2]
    return [(int(r.x0 * cols), int(r.y0 * rows), max(int(r.x1 * cols), int(r.x0 * cols) + 1),
             max(int(r.y1 * rows), int(r.y0 * rows) + 1)) for r in regions]


def _frame_detection_scale(image: Image) -> float:
    """The scale the detector reads a whole frame of this size at (PP-OCR raises its short side to 736 px,
    at most 1280 px along the long side): the mosaic of its pieces is read at the same scale."""
    rows, cols = image.shape[:2]
    short, long = float(min(rows, cols)), float(max(rows, cols))
    return min(max(1.0, _DETECTION_SHORT_SIDE / short), max(1.0, _DETECTION_LONG_SIDE / long))


def _outline(quad: Quad) -> TextLine:
    xs, ys = [x for x, _ in quad], [y for _, y in quad]
    return TextLine("", 0.0, NormBox(min(xs), min(ys), max(xs), max(ys)), quad)


def _same_line(outline: TextLine, candidates: Sequence[TextLine],
               stale: npt.NDArray[np.bool_]) -> TextLine | None:
    """The cached line ``outline`` is, when its pixels did not change since it was read; else None."""
    best = max(candidates, key=lambda line: _iou(line.box, outline.box), default=None)
    if best is None or _iou(best.box, outline.box) < _SAME_LINE_IOU:
        return None
    return best if _stale_share(stale, outline.box.union(best.box)) <= _UNCHANGED_SHARE else None


def _stale_share(stale: npt.NDArray[np.bool_], box: NormBox) -> float:
    rows, cols = stale.shape[:2]
    x0, y0 = int(box.x0 * cols), int(box.y0 * rows)
    patch = stale[y0:max(int(box.y1 * rows), y0 + 1), x0:max(int(box.x1 * cols), x0 + 1)]
    return float(patch.mean()) if patch.size else 1.0


def _register_onto(cached: _Cached, gray: npt.NDArray[np.uint8]) -> _Moved:
    """Register ``gray`` onto the cached frame (reusing the features computed for it last time) and, where that
    holds, find the pixels the moved cached frame does not explain. One worker hop for all of it."""
    reference = cached.features or features_of(cached.gray)
    features = features_of(gray)
    found = register(cached.gray, gray, reference=reference, frame=features)
    if found is None or found.confidence < _MIN_CONFIDENCE:
        return _Moved(None, features, reference, None)
    return _Moved(found, features, reference, stale_mask(cached.gray, gray, found.homography))


def _measured(work: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> tuple[_R, int]:
    """``work``'s result and the nanoseconds of CPU-side work it took (run in a worker thread)."""
    started = time.perf_counter_ns()
    return work(*args, **kwargs), time.perf_counter_ns() - started
_MOSAIC_GAP = 16


def pack_mosaic(image: Image, windows: Sequence[Window]) -> tuple[Image, list[tuple[Window, int, int]]]:
    """``windows`` (x0, y0, x1, y1 pixels) of ``image`` copied onto one white canvas in rows; with where each went."""
    area = sum((x1 - x0 + _MOSAIC_GAP) * (y1 - y0 + _MOSAIC_GAP) for x0, y0, x1, y1 in windows)
    width = max(max(x1 - x0 for x0, _, x1, _ in windows), int(area ** 0.5))
    placed: list[tuple[Window, int, int]] = []
    x = y = row_height = 0
    for window in sorted(windows, key=lambda w: w[1] - w[3]):
        w, h = window[2] - window[0], window[3] - window[1]
        if x and x + w > width:
            x, y, row_height = 0, y + row_height + _MOSAIC_GAP, 0
        placed.append((window, x, y))
        x, row_height = x + w + _MOSAIC_GAP, max(row_height, h)
    canvas = np.full((y + row_height, width, 3), 255, np.uint8)
    for (x0, y0, x1, y1), left, top in placed:
        canvas[top:top + y1 - y0, left:left + x1 - x0] = image[y0:y1, x0:x1]
    return canvas, placed


def _from_mosaic(line: TextLine, placed: Sequence[tuple[Window, int, int]], canvas_shape: tuple[int, ...],
                 frame_shape: tuple[int, ...]) -> TextLine | None:
    """A line read on the mosaic, placed back in the frame; None if it lies in no window (the gaps)."""
    c_rows, c_cols = canvas_shape[:2]
    f_rows, f_cols = frame_shape[:2]
    cx, cy = line.box.center[0] * c_cols, line.box.center[1] * c_rows
    for (x0, y0, x1, y1), left, top in placed:
        if left <= cx < left + x1 - x0 and top <= cy < top + y1 - y0:
            def point(p: Point, x0: int = x0, y0: int = y0, left: int = left, top: int = top) -> Point:
                return ((p[0] * c_cols - left + x0) / f_cols, (p[1] * c_rows - top + y0) / f_rows)
            quad = (point(line.quad[0]), point(line.quad[1]), point(line.quad[2]), point(line.quad[3]))
            box = NormBox(*point((line.box.x0, line.box.y0)), *point((line.box.x1, line.box.y1)))
            return TextLine(line.text, line.score, box, quad)
    return None


def changed_regions(old_gray: npt.NDArray[np.uint8], new_gray: npt.NDArray[np.uint8],
                    homography: npt.NDArray[np.float64]) -> list[NormBox]:
    """Boxes (normalized in the new frame) that the old frame, moved by ``homography``, does not explain.

    The frame is cut into tiles; a tile is stale when enough of it is unseen before or differs from the
    warped old frame. Stale tiles join into runs along a row, and runs with the same span join down columns.
    """
    return regions_of(stale_mask(old_gray, new_gray, homography))


def regions_of(stale: npt.NDArray[np.bool_]) -> list[NormBox]:
    """The stale tiles of a ``stale_mask`` joined into boxes (normalized)."""
    tiles = _stale_tiles(stale)
    return [NormBox(x0 / _TILES_X, y0 / _TILES_Y, x1 / _TILES_X, y1 / _TILES_Y) for x0, y0, x1, y1 in _runs(tiles)]


def stale_mask(old_gray: npt.NDArray[np.uint8], new_gray: npt.NDArray[np.uint8],
               homography: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Per pixel of the new frame: unseen in the old one, or different from it once moved by ``homography``."""
    rows, cols = new_gray.shape[:2]
    # A strong blur forgives the pixel or so a registered homography is off by at sharp text edges.
    warped = cv2.warpPerspective(cv2.GaussianBlur(old_gray, _BLUR, 0), homography, (cols, rows))
    seen = cv2.warpPerspective(np.full(old_gray.shape[:2], 255, np.uint8), homography, (cols, rows),
                               flags=cv2.INTER_NEAREST)
    return np.asarray((cv2.absdiff(warped, cv2.GaussianBlur(new_gray, _BLUR, 0)) > _CHANGED_LEVEL) | (seen == 0))


def _stale_tiles(stale: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    share = cv2.resize(stale.astype(np.float32), (_TILES_X, _TILES_Y), interpolation=cv2.INTER_AREA)
    return np.asarray(share > _STALE_TILE_SHARE)


def _runs(tiles: npt.NDArray[np.bool_]) -> list[tuple[int, int, int, int]]:
    """Stale tiles as boxes (x0, y0, x1, y1 in tiles): runs along rows, stacked where spans match."""
    boxes: list[tuple[int, int, int, int]] = []
    for y in range(tiles.shape[0]):
        x = 0
        while x < tiles.shape[1]:
            if not tiles[y, x]:
                x += 1
                continue
            start = x
            while x < tiles.shape[1] and tiles[y, x]:
                x += 1
            above = next((b for b in boxes if b[0] == start and b[2] == x and b[3] == y), None)
            if above is not None:
                boxes.remove(above)
            boxes.append((start, above[1] if above else y, x, y + 1))
    return boxes


def _grown(regions: Sequence[NormBox], lines: Sequence[TextLine]) -> list[NormBox]:
    """Each region widened to the whole lines it cuts, so no carried line is half re-read."""
    return [_union_all(region, [line.box for line in lines if _overlaps(line.box, region)]) for region in regions]


def _deduplicated(lines: Sequence[TextLine]) -> tuple[TextLine, ...]:
    """One line per place: regions may overlap, and a line read in two of them is kept once (the surer read)."""
    kept: list[TextLine] = []
    for line in sorted(lines, key=lambda line: -line.score):
        if not any(_iou(line.box, other.box) > 0.5 for other in kept):
            kept.append(line)
    return tuple(kept)


def _iou(a: NormBox, b: NormBox) -> float:
    inter = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    return inter / max(1e-9, _area(a) + _area(b) - inter)


def _union_all(first: NormBox, others: Sequence[NormBox]) -> NormBox:
    for box in others:
        first = first.union(box)
    return first


def _moved(line: TextLine, found: Registration, old_shape: tuple[int, ...], new_shape: tuple[int, ...]) -> TextLine:
    """``line`` placed in the new frame (possibly reaching out of it)."""
    old_rows, old_cols = old_shape[:2]
    new_rows, new_cols = new_shape[:2]
    pixels = found.project([(x * old_cols, y * old_rows) for x, y in line.quad])
    points: list[Point] = [(float(x) / new_cols, float(y) / new_rows) for x, y in pixels]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    box = NormBox(min(xs), min(ys), max(xs), max(ys))
    return TextLine(line.text, line.score, box, (points[0], points[1], points[2], points[3]))


def _pad(box: NormBox, by: float) -> NormBox:
    return NormBox(max(0.0, box.x0 - by), max(0.0, box.y0 - by), min(1.0, box.x1 + by), min(1.0, box.y1 + by))


def _inside(box: NormBox) -> bool:
    return 0.0 <= box.x0 and 0.0 <= box.y0 and box.x1 <= 1.0 and box.y1 <= 1.0


def _clipped(box: NormBox) -> NormBox | None:
    clipped = NormBox(max(0.0, box.x0), max(0.0, box.y0), min(1.0, box.x1), min(1.0, box.y1))
    return clipped if clipped.x0 < clipped.x1 and clipped.y0 < clipped.y1 else None


def _overlaps(a: NormBox, b: NormBox) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _area(box: NormBox) -> float:
    return (box.x1 - box.x0) * (box.y1 - box.y0)


def _gray(image: Image) -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
