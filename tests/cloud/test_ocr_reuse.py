"""Reading that reuses what it read, on a real photo through the real PP-OCR models: a view that did not change
or only moved keeps its lines with nothing recognised again, a changed region is read again, and detection on a
large photo at a lower resolution finds the same text as at full resolution."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.cloud.model import NormBox
from eyeline.cloud.perception.ocr import OcrEngine, OcrPool, TextLine
from eyeline.cloud.perception.ocr_runtime import ARENA_ONE_THREAD, DETECT_1600
from eyeline.cloud.perception.tracking import TrackedTextReader

PANEL = "nutrition_labels/natthasath_ocr_eng_01.jpg"    # 960x1280, a US Nutrition Facts panel (seen at half size)
VIEW_W, VIEW_H = 440, 480
LARGE = "nutrition_labels/off_3596710368259_2.jpg"      # 2000x2666, a French table in the lower half


def _photo(shared_data: Path, name: str) -> np.ndarray:
    image = cv2.imread(str(shared_data / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    return np.asarray(image)


def _view(photo: np.ndarray, x: int, y: int, quality: int = 90) -> np.ndarray:
    """A VIEW_W x VIEW_H view of the photo with its top-left corner at (x, y), as a camera sees it after JPEG."""
    window = np.ascontiguousarray(photo[y:y + VIEW_H, x:x + VIEW_W])
    encoded = cv2.imencode(".jpg", window, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return np.asarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR))


def _shifted(line: TextLine, dx: int, dy: int) -> NormBox:
    """Where ``line`` lies once the view moved by (dx, dy) pixels."""
    b = line.box
    return NormBox(b.x0 - dx / VIEW_W, b.y0 - dy / VIEW_H, b.x1 - dx / VIEW_W, b.y1 - dy / VIEW_H)


def _inner(lines: tuple[TextLine, ...]) -> list[TextLine]:
    """The lines away from the view's top and bottom edges (the view moves down; a line an edge cuts, or one
    detected beside it, reads differently in every view) and off its sides."""
    return [line for line in lines if line.box.x0 > 0.04 and line.box.y0 > 0.12
            and line.box.x1 < 0.96 and line.box.y1 < 0.88]


def _near(a: NormBox, b: NormBox, by: float = 0.02) -> bool:
    return max(abs(a.x0 - b.x0), abs(a.y0 - b.y0), abs(a.x1 - b.x1), abs(a.y1 - b.y1)) < by


def _found_in(line: TextLine, lines: tuple[TextLine, ...]) -> bool:
    return any(other.text == line.text and _near(other.box, line.box) for other in lines)


@pytest.mark.slow
async def test_an_unchanged_then_moved_view_keeps_its_lines_and_a_changed_region_is_read_again(
        real_ocr: OcrPool, shared_data: Path) -> None:
    full = _photo(shared_data, PANEL)
    photo = cv2.resize(full, (full.shape[1] // 2, full.shape[0] // 2), interpolation=cv2.INTER_AREA)
    tracked = TrackedTextReader(real_ocr)
    first = _view(photo, 20, 60)
    read_first = await tracked.read(first)
    assert len(_inner(read_first)) >= 5

    # The same view again (another JPEG of it, not the same pixels): every line kept, next to none recognised
    # again (a tile where the coarser JPEG's blocks cross the change threshold is detected and matched again).
    again = await tracked.read(_view(photo, 20, 60, quality=80))
    assert tracked.stats.exact_hits == 0 and tracked.stats.lines_recognized <= len(read_first) // 10
    assert all(any(_near(line.box, other.box) for other in again) for line in _inner(read_first))
    assert sum(_found_in(line, again) for line in _inner(read_first)) >= len(_inner(read_first)) - 1

    # The head moved: every line read in that view is there, moved with the view, its text
    # unchanged; and the lines a full read of the moved view finds are mostly the same (small text such as "9%"
    # can read differently from one view to the next, so the full reads of the two views differ too).
    moved = _view(photo, 30, 80)
    carried = await tracked.read(moved)
    assert tracked.stats.whole_reads == 1
    # the cache now holds the second read; the lines that stay away from the edges once moved
    inner_first = [line for line in _inner(again) if _shifted(line, 10, 20).y0 > 0.12]
    assert all(any(other.text == line.text and _near(other.box, _shifted(line, 10, 20)) for other in carried)
               for line in inner_first), sorted(line.text for line in carried)
    fresh = _inner(await real_ocr.read(moved))
    same_text = [line for line in fresh if _found_in(line, carried)]
    # As faithful as reading afresh: two full reads (the first view's, moved, and the moved view's) agree on no more.
    first_moved = tuple(TextLine(line.text, line.score, _shifted(line, 10, 20), line.quad) for line in read_first)
    afresh = [line for line in fresh if _found_in(line, first_moved)]
    assert len(same_text) >= len(afresh) - 1, (sorted(x.text for x in fresh), sorted(x.text for x in carried))
    assert tracked.stats.lines_recognized < len(fresh) // 2    # most were not recognised again

    # Part of the panel changes (a new sticker over it): that region is read again, the rest still carried.
    changed = moved.copy()
    cv2.rectangle(changed, (40, 200), (400, 260), (255, 255, 255), -1)
    cv2.putText(changed, "PROTEIN 42 G", (60, 245), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (10, 10, 10), 2)
    recognized_before = tracked.stats.lines_recognized
    after = await tracked.read(changed)
    assert tracked.stats.whole_reads == 1 and tracked.stats.lines_recognized > recognized_before
    assert any(re.sub(r"\s+", "", line.text).upper() == "PROTEIN42G" for line in after), [x.text for x in after]
    sticker = NormBox(40 / VIEW_W, 200 / VIEW_H, 400 / VIEW_W, 260 / VIEW_H)
    assert not any(line.box.center[1] > sticker.y0 and line.box.center[1] < sticker.y1
                   and "PROTEIN" not in line.text.upper() for line in after if line.box.x0 > sticker.x0)
    # Lines a tile or more away from the sticker are carried as they were (lines next to it share its tiles and are
    # detected again with it).
    outside = [line for line in same_text if line.box.y1 < sticker.y0 - 0.15 or line.box.y0 > sticker.y1 + 0.15]
    assert len(outside) >= 5
    missing = [line.text for line in outside if not _found_in(line, after)]
    assert len(missing) <= 1, (missing, sorted(x.text for x in after))


def _words(lines: tuple[TextLine, ...]) -> set[str]:
    return {word for line in lines for word in re.findall(r"[a-z0-9]{3,}", line.text.lower())}


@pytest.mark.slow
def test_detection_at_1600_px_finds_the_text_of_a_large_photo_read_at_full_resolution(shared_data: Path) -> None:
    photo = _photo(shared_data, LARGE)
    assert max(photo.shape[:2]) > 2000
    full = OcrEngine(runtime=ARENA_ONE_THREAD).read(photo)
    capped_engine = OcrEngine(runtime=DETECT_1600)   # the default: detected at 1200x1600, not 1504x2000
    capped = capped_engine.read(photo)
    full_words, capped_words = _words(full), _words(capped)
    assert len(full_words & capped_words) >= 0.9 * len(full_words), (full_words - capped_words)
    assert any("prot" in line.text.lower() for line in capped)             # the protein row ("Protéines")
    assert any(re.search(r"7[.,]7", line.text) for line in capped)          # its 7.7 g per 100 g
