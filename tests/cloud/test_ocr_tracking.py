"""OCR reused across keyframes: carried lines match a fresh read, and only stale regions cost a read."""

from __future__ import annotations

import numpy as np
import pytest

from eyeline.cloud.model import Image, NormBox
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.perception.registration import register
from eyeline.cloud.perception.tracking import TrackedTextReader, changed_regions, pack_mosaic
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame


class CountingReader:
    """Counts reads and the pixels they cost, delegating to the real pool."""

    def __init__(self, base: OcrPool) -> None:
        self.base = base
        self.shapes: list[tuple[int, ...]] = []

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        self.shapes.append(image_bgr.shape)
        return await self.base.read(image_bgr)


def _texts(lines: tuple[TextLine, ...]) -> list[str]:
    return sorted(line.text for line in lines)


def _near(a: NormBox, b: NormBox) -> bool:
    return max(abs(a.x0 - b.x0), abs(a.y0 - b.y0), abs(a.x1 - b.x1), abs(a.y1 - b.y1)) < 0.02


@pytest.mark.slow
async def test_lines_carried_across_head_motion_match_a_fresh_read(real_ocr: OcrPool) -> None:
    scene = make_shelf_scene(3)
    first, _ = render_shelf_frame(scene, 0.0, 640, 360)
    later, _ = render_shelf_frame(scene, 0.4, 640, 360)
    counting = CountingReader(real_ocr)
    tracked = TrackedTextReader(counting)
    await tracked.read(first)
    carried = await tracked.read(later)
    fresh = await real_ocr.read(later)
    assert _texts(carried) == _texts(fresh)
    assert all(any(f.text == line.text and _near(f.box, line.box) for f in fresh) for line in carried)
    assert tracked.stats.whole_reads == 1 and tracked.stats.lines_carried > len(fresh) // 2
    # the second read was one mosaic of the stale regions, not the whole frame again
    assert len(counting.shapes) == 2 and counting.shapes[1] != later.shape


async def test_the_same_frame_twice_costs_no_second_read() -> None:
    reads: list[int] = []

    class Fake:
        async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
            reads.append(image_bgr.size)
            box = NormBox(0.1, 0.1, 0.3, 0.2)
            return (TextLine("Protein 9g", 0.9, box, ((0.1, 0.1), (0.3, 0.1), (0.3, 0.2), (0.1, 0.2))),)

    image, _ = render_shelf_frame(make_shelf_scene(1), 0.0, 320, 180)
    tracked = TrackedTextReader(Fake())
    assert await tracked.read(image) == await tracked.read(image.copy())
    assert len(reads) == 1 and tracked.stats.exact_hits == 1
    await tracked.read(np.ascontiguousarray(image[:90, :160]))  # a crop: another size, read as it is
    assert len(reads) == 2


def test_a_static_view_has_no_stale_region_and_new_content_is_found() -> None:
    scene = make_shelf_scene(2)
    image, _ = render_shelf_frame(scene, 0.0, 640, 360)
    gray = image[:, :, 1].copy()
    assert changed_regions(gray, gray, np.eye(3)) == []
    changed = gray.copy()
    changed[100:160, 300:420] = 255 - changed[100:160, 300:420]
    regions = changed_regions(gray, changed, np.eye(3))
    box = regions[0]
    for other in regions[1:]:
        box = box.union(other)
    assert box.x0 <= 300 / 640 and box.x1 >= 420 / 640 and box.y0 <= 100 / 360 and box.y1 >= 160 / 360
    assert sum((r.x1 - r.x0) * (r.y1 - r.y0) for r in regions) < 0.15
    found = register(gray, changed)
    assert found is not None and np.allclose(found.homography, np.eye(3), atol=0.05)


def test_the_mosaic_holds_every_window_unchanged() -> None:
    image = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    windows = [(0, 0, 40, 200), (0, 180, 300, 200), (120, 50, 200, 90)]
    canvas, placed = pack_mosaic(image, windows)
    assert len(placed) == 3
    for (x0, y0, x1, y1), left, top in placed:
        assert np.array_equal(canvas[top:top + y1 - y0, left:left + x1 - x0], image[y0:y1, x0:x1])
