"""Product segmentation on shelves: where each package is, by classical vision (no model, a few ms a frame).

A package is a printed surface bounded by strong edges: its outline against the shelf's gaps, the shelf edge
under it, its neighbours. So the frame's edges (Canny, thresholds from the image's own contrast) are closed
by a small dilation, and each connected region of edge-free pixels is a candidate surface. A package's
background colour surrounds its text and panel, so its region's convex hull bounds the package.
Candidates are kept when they are package-shaped: big enough to hold a label, not a shelf board (long and
thin), not the whole backdrop (as wide as the frame), and filling most of their bounding box. A package
whose border breaks under blur or glare falls apart into its face and its panel: a region right below another
and as wide joins it, and a candidate inside a larger kept one (a panel, a logo) is part of that package.

``segment_products`` is pure and synchronous; ``ProductSegmenter`` runs it in a worker thread so the event
loop never does the pixel work. ``shelf_in_view`` answers "is a shelf of products in view?" from its result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import cv2
import numpy as np

from eyeline.cloud.errors import CloudError
from eyeline.cloud.model import Image, NormBox
from eyeline.cloud.perception import spend

# Frames are segmented at this width: packages stay tens of pixels wide, and a frame costs a few ms.
WORK_WIDTH = 640
# Edges are thickened to this many pixels, closing breaks a blur or glare leaves in an outline.
CLOSE_PX = 3
# A package takes at least this share of the frame, and at most this share of its width (wider is backdrop).
MIN_AREA = 0.006
MAX_WIDTH = 0.6
# Height / width of a package face, from a flat pouch lying sideways to a tall carton.
MIN_ASPECT, MAX_ASPECT = 0.35, 4.5
# Share of its bounding box a package's region (holes filled) must cover; shelf clutter covers less.
MIN_FILL = 0.6
# A region continues the one above it when it spans this share of the wider's width and starts within this
# share of the frame's height below it.
STACK_OVERLAP, STACK_GAP = 0.75, 0.02
# A candidate this much inside a kept one is part of it (a panel, a logo), not a package of its own; one at
# least PART_OF inside and within its width extends it.
CONTAINED, PART_OF = 0.8, 0.5


class SegmentationError(CloudError):
    """The image handed to segmentation is not a BGR frame."""


@dataclass(frozen=True, slots=True)
class ProductRegion:
    """One package found on a shelf: its bounds in normalized coordinates and how package-like it is (0..1)."""

    box: NormBox
    score: float


def segment_products(image_bgr: Image) -> tuple[ProductRegion, ...]:
    """The package regions in a shelf frame, left to right then top to bottom; empty when none is found."""
    small = _work_copy(image_bgr)
    edges = _closed_edges(small)
    height, width = edges.shape
    parts = [region for region in _regions(edges) if region.w <= MAX_WIDTH * width]
    candidates = [region for region in _stacked(parts, height) if _package_shaped(region, width, height)]
    kept = _outermost(sorted(candidates, key=lambda region: -region.area))
    return tuple(sorted((_normalized(region, width, height) for region in kept),
                        key=lambda found: (round(found.box.y0, 1), found.box.x0)))


def shelf_in_view(regions: Sequence[ProductRegion], min_products: int = 2, min_score: float = 0.7) -> bool:
    """Whether a frame's regions look like a shelf: several confident packages side by side on one row."""
    confident = [region.box for region in regions if region.score >= min_score]
    return any(sum(_same_row(box, other) for other in confident) >= min_products for box in confident)


def package_of(box: NormBox, packages: Sequence[NormBox]) -> NormBox | None:
    """The smallest package region holding the centre of ``box`` (a line of text, a reading), if one does."""
    x, y = box.center
    holding = [package for package in packages if package.x0 <= x <= package.x1 and package.y0 <= y <= package.y1]
    return min(holding, key=lambda package: (package.x1 - package.x0) * (package.y1 - package.y0), default=None)


class ProductSegmenter:
    """Segments frames off the event loop: in ``executor`` when given (a worker pool), else a worker thread."""

    def __init__(self, executor: Executor | None = None) -> None:
        self._executor = executor

    async def segment(self, image_bgr: Image) -> tuple[ProductRegion, ...]:
        loop = asyncio.get_running_loop()
        regions, spent_ns = await loop.run_in_executor(self._executor, _timed_segment, image_bgr)
        spend.note(spend.SEGMENTATION, spent_ns)
        return regions


def _timed_segment(image_bgr: Image) -> tuple[tuple[ProductRegion, ...], int]:
    """The regions and the nanoseconds the work took in its worker (for the answer's timing)."""
    started = time.perf_counter_ns()
    return segment_products(image_bgr), time.perf_counter_ns() - started


# ------------------------------------------------------------------ the steps


@dataclass(frozen=True, slots=True)
class _Region:
    x: int
    y: int
    w: int
    h: int
    area: int          # pixels inside the region's convex hull, holes included

    @property
    def fill(self) -> float:
        return self.area / float(self.w * self.h)


def _work_copy(image_bgr: Image) -> Image:
    """The frame at :data:`WORK_WIDTH` at most; normalized boxes need no mapping back to the full size."""
    if not isinstance(image_bgr, np.ndarray) or image_bgr.ndim != 3 or image_bgr.shape[2] != 3 \
            or image_bgr.dtype != np.uint8 or min(image_bgr.shape[:2]) < 8:
        shape = getattr(image_bgr, "shape", None)
        raise SegmentationError(f"segmentation needs an HxWx3 uint8 BGR image of at least 8x8, got {shape}")
    scale = min(1.0, WORK_WIDTH / image_bgr.shape[1])
    if scale == 1.0:
        return image_bgr
    return np.asarray(cv2.resize(image_bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _closed_edges(image_bgr: Image) -> Image:
    """Edges in any colour channel (packages differ from their neighbours in hue as often as in brightness)."""
    smooth = cv2.GaussianBlur(image_bgr, (3, 3), 0)
    edges = np.zeros(image_bgr.shape[:2], np.uint8)
    for channel in cv2.split(cv2.cvtColor(smooth, cv2.COLOR_BGR2LAB)):
        median = float(np.median(channel))
        low, high = max(8.0, 0.4 * median), max(24.0, 0.9 * median)
        edges |= np.asarray(cv2.Canny(channel, low, high), dtype=np.uint8)
    # Close small breaks in an outline (blur, glare) so a package's region does not leak into its neighbour.
    return np.asarray(cv2.dilate(edges, np.ones((CLOSE_PX, CLOSE_PX), np.uint8)), dtype=np.uint8)


def _regions(edges: Image) -> list[_Region]:
    """Each connected edge-free area, bounded by its outer outline with holes (text, panel) filled."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(np.asarray(edges == 0, np.uint8), connectivity=4)
    regions: list[_Region] = []
    min_pixels = MIN_AREA * edges.size * 0.3
    for label in range(1, count):
        x, y, w, h, pixels = (int(value) for value in stats[label])
        if pixels < min_pixels:
            continue
        mask = np.asarray(labels[y:y + h, x:x + w] == label, np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        # The hull, not the outline: a package whose printed border is broken under its panel is a U.
        area = int(cv2.contourArea(cv2.convexHull(np.concatenate(contours))))
        regions.append(_Region(x, y, w, h, max(area, pixels)))
    return regions


def _stacked(regions: Sequence[_Region], height: int) -> list[_Region]:
    """Regions joined with the one right below them in the same column: a package's face above its panel.

    At frame resolution the printed border beside a panel is a few pixels, and the edges close it off, so a
    package often falls apart into its top (brand, name) and its panel; both span the package's width.
    """
    pending = sorted(regions, key=lambda region: region.y)
    joined: list[_Region] = []
    while pending:
        upper = pending.pop(0)
        lower = next((region for region in pending if _continues_below(upper, region, height)), None)
        if lower is None:
            joined.append(upper)
            continue
        pending.remove(lower)
        pending.insert(0, _joined(upper, lower))
    return joined


def _continues_below(upper: _Region, lower: _Region, height: int) -> bool:
    overlap = min(upper.x + upper.w, lower.x + lower.w) - max(upper.x, lower.x)
    gap = lower.y - (upper.y + upper.h)
    return overlap >= STACK_OVERLAP * max(upper.w, lower.w) and -2 <= gap <= STACK_GAP * height


def _joined(upper: _Region, lower: _Region) -> _Region:
    x0, y0 = min(upper.x, lower.x), upper.y
    x1, y1 = max(upper.x + upper.w, lower.x + lower.w), max(upper.y + upper.h, lower.y + lower.h)
    gap_fill = max(0, lower.y - (upper.y + upper.h)) * min(upper.w, lower.w)  # the edge between them
    return _Region(x0, y0, x1 - x0, y1 - y0, upper.area + lower.area + gap_fill)


def _package_shaped(region: _Region, width: int, height: int) -> bool:
    aspect = region.h / region.w
    return (region.w * region.h >= MIN_AREA * width * height and region.w <= MAX_WIDTH * width
            and MIN_ASPECT <= aspect <= MAX_ASPECT and region.fill >= MIN_FILL)


def _outermost(regions: Sequence[_Region]) -> list[_Region]:
    """Largest first; a region mostly inside one already kept belongs to it, and one half inside and within its
    width (a panel hanging below a face whose lower border glare has washed out) extends it."""
    kept: list[_Region] = []
    for region in regions:
        host = next((index for index, outer in enumerate(kept) if _part_of(region, outer)), None)
        if host is None:
            kept.append(region)
        elif _inside_share(region, kept[host]) < CONTAINED:
            kept[host] = _union(kept[host], region)
    return kept


def _part_of(inner: _Region, outer: _Region) -> bool:
    share = _inside_share(inner, outer)
    within = outer.x - 2 <= inner.x and inner.x + inner.w <= outer.x + outer.w + 2
    return share >= CONTAINED or (share >= PART_OF and within)


def _union(outer: _Region, inner: _Region) -> _Region:
    x0, y0 = min(outer.x, inner.x), min(outer.y, inner.y)
    x1, y1 = max(outer.x + outer.w, inner.x + inner.w), max(outer.y + outer.h, inner.y + inner.h)
    added = int(inner.area * (1.0 - _inside_share(inner, outer)))
    return _Region(x0, y0, x1 - x0, y1 - y0, outer.area + added)


def _inside_share(inner: _Region, outer: _Region) -> float:
    dx = min(inner.x + inner.w, outer.x + outer.w) - max(inner.x, outer.x)
    dy = min(inner.y + inner.h, outer.y + outer.h) - max(inner.y, outer.y)
    return max(0, dx) * max(0, dy) / float(inner.w * inner.h)


def _normalized(region: _Region, width: int, height: int) -> ProductRegion:
    # The dilation ate about a pixel of the package on every side; give it back.
    box = NormBox(max(0.0, (region.x - 1) / width), max(0.0, (region.y - 1) / height),
                  min(1.0, (region.x + region.w + 1) / width), min(1.0, (region.y + region.h + 1) / height))
    return ProductRegion(box, round(min(1.0, region.fill), 3))


def _same_row(a: NormBox, b: NormBox) -> bool:
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    return overlap >= 0.5 * min(a.y1 - a.y0, b.y1 - b.y0)
