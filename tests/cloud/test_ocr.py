"""OCR: the real PP-OCR engine from the rapidocr wheel, and the worker pool that keeps it off the event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import cv2
import numpy as np
import pytest

from eyeline.cloud.model import Image, NormBox
from eyeline.cloud.perception.ocr import OcrBusyError, OcrEngine, OcrError, OcrPool, TextLine


def text_image(text: str, origin: tuple[int, int], size: tuple[int, int] = (640, 360)) -> Image:
    width, height = size
    image = np.full((height, width, 3), 235, dtype=np.uint8)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 1.2, (20, 20, 20), 2, cv2.LINE_AA)
    return image


def inside(inner: NormBox, outer: NormBox) -> bool:
    return outer.x0 <= inner.x0 and outer.y0 <= inner.y0 and inner.x1 <= outer.x1 and inner.y1 <= outer.y1


# ------------------------------------------------------------------ the real engine


@pytest.mark.slow
def test_the_engine_reads_text_where_it_is_with_the_packaged_models_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from rapidocr.utils.download_file import DownloadFile

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("OCR tried to reach the network")

    monkeypatch.setattr(DownloadFile, "run", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    image = text_image("Protein 20g", origin=(200, 200))
    (text_w, text_h), _ = cv2.getTextSize("Protein 20g", cv2.FONT_HERSHEY_SIMPLEX, 1.2, 2)

    (line,) = OcrEngine(threads=1).read(image)

    assert line.text == "Protein 20g"
    assert 0.5 < line.score <= 1.0
    drawn = NormBox(200 / 640, (200 - text_h) / 360, (200 + text_w) / 640, 200 / 360)
    around = NormBox(drawn.x0 - 0.05, drawn.y0 - 0.05, drawn.x1 + 0.05, drawn.y1 + 0.05)
    assert inside(drawn, NormBox(line.box.x0 - 0.02, line.box.y0 - 0.02, line.box.x1 + 0.02, line.box.y1 + 0.02))
    assert inside(line.box, around)
    assert all(line.box.x0 <= x <= line.box.x1 and line.box.y0 <= y <= line.box.y1 for x, y in line.quad)


@pytest.mark.slow
async def test_the_pool_reads_with_the_real_engine_and_finds_nothing_on_a_blank_image(real_ocr: OcrPool) -> None:
    lines = await real_ocr.read(text_image("Calories 210", origin=(60, 120)))
    blank = await real_ocr.read(np.full((360, 640, 3), 235, dtype=np.uint8))

    assert [line.text for line in lines] == ["Calories 210"]
    assert blank == ()


@pytest.fixture(scope="module")
def unloaded_engine() -> OcrEngine:
    """An engine whose models load on first use; the input check comes before that."""
    return OcrEngine()


@pytest.mark.parametrize(("image", "problem"), [
    (np.zeros((32, 32), dtype=np.uint8), "HxWx3"),
    (np.zeros((32, 32, 3), dtype=np.float32), "uint8"),
    (np.zeros((0, 32, 3), dtype=np.uint8), "empty"),
    (b"\xff\xd8 jpeg bytes", "numpy"),
])
def test_an_image_the_engine_cannot_read_is_refused_by_name(unloaded_engine: OcrEngine, image: Any,
                                                            problem: str) -> None:
    with pytest.raises(OcrError, match=problem):
        unloaded_engine.read(image)


# ------------------------------------------------------------------ the pool, with a scripted engine


class RecordingEngine:
    """Stands in for the engine: notes which thread read, optionally waits to be released."""

    def __init__(self, release: threading.Event | None = None, delay_s: float = 0.0) -> None:
        self.threads: set[int] = set()
        self._release = release
        self._delay_s = delay_s

    def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        self.threads.add(threading.get_ident())
        if self._release is not None:
            self._release.wait(5.0)
        time.sleep(self._delay_s)
        value = int(image_bgr[0, 0, 0])
        box = NormBox(0.0, 0.0, 0.1, 0.1)
        return (TextLine(str(value), 1.0, box, ((0.0, 0.0), (0.1, 0.0), (0.1, 0.1), (0.0, 0.1))),)


def image_of(value: int) -> Image:
    return np.full((4, 4, 3), value, dtype=np.uint8)


async def test_reads_run_in_worker_threads_while_the_loop_stays_free() -> None:
    engines: list[RecordingEngine] = []

    def make() -> RecordingEngine:
        engines.append(RecordingEngine(delay_s=0.2))
        return engines[-1]

    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with OcrPool(workers=1, engine_factory=make) as pool:
        ticker = asyncio.create_task(tick())
        try:
            (line,) = await pool.read(image_of(42))
        finally:
            ticker.cancel()

    assert line.text == "42"
    assert threading.get_ident() not in engines[0].threads
    assert ticks >= 5  # the loop kept running while the read slept in its thread


async def test_concurrent_reads_all_complete_each_with_its_own_result() -> None:
    engines: list[RecordingEngine] = []
    lock = threading.Lock()

    def make() -> RecordingEngine:
        with lock:
            engines.append(RecordingEngine(delay_s=0.02))
            return engines[-1]

    async with OcrPool(workers=2, engine_factory=make) as pool:
        results = await asyncio.gather(*(pool.read(image_of(value)) for value in range(8)))

    assert [result[0].text for result in results] == [str(value) for value in range(8)]
    assert 1 <= len(engines) <= 2
    assert all(len(engine.threads) == 1 for engine in engines)  # one engine per thread, never shared


async def test_a_closed_pool_refuses_reads() -> None:
    async with OcrPool(workers=1, engine_factory=RecordingEngine) as pool:
        await pool.read(image_of(1))
    assert pool.closed

    with pytest.raises(OcrError, match="closed"):
        await pool.read(image_of(1))


async def test_closing_drops_queued_reads_with_a_clear_error_and_lets_the_running_one_finish() -> None:
    release = threading.Event()
    pool = OcrPool(workers=1, engine_factory=lambda: RecordingEngine(release))
    running = asyncio.create_task(pool.read(image_of(1)))
    queued = asyncio.create_task(pool.read(image_of(2)))
    await asyncio.sleep(0.05)

    pool.close()
    release.set()

    assert (await running)[0].text == "1"
    with pytest.raises(OcrError, match="closed before this read ran"):
        await queued


async def test_cancelling_a_waiting_read_cancels_only_that_read() -> None:
    release = threading.Event()
    async with OcrPool(workers=1, engine_factory=lambda: RecordingEngine(release)) as pool:
        running = asyncio.create_task(pool.read(image_of(1)))
        await asyncio.sleep(0.05)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        release.set()
        assert (await pool.read(image_of(2)))[0].text == "2"


async def test_reads_beyond_the_pending_limit_are_refused_as_retryable() -> None:
    release = threading.Event()
    pool = OcrPool(workers=1, max_pending=1, engine_factory=lambda: RecordingEngine(release))
    try:
        first = asyncio.create_task(pool.read(image_of(1)))
        await asyncio.sleep(0.05)

        with pytest.raises(OcrBusyError) as refused:
            await pool.read(image_of(2))
        assert refused.value.retryable

        release.set()
        assert (await first)[0].text == "1"
        assert (await pool.read(image_of(3)))[0].text == "3"  # room again once the first finished
    finally:
        release.set()
        pool.close()


@pytest.mark.parametrize(("workers", "max_pending"), [(0, 32), (2, 1)])
def test_a_pool_that_could_not_work_is_refused(workers: int, max_pending: int) -> None:
    with pytest.raises(OcrError, match="worker"):
        OcrPool(workers=workers, max_pending=max_pending)


async def test_warm_up_creates_the_engine_before_the_first_read() -> None:
    created: list[str] = []

    class CountingEngine:
        def read(self, image_bgr: object) -> tuple[TextLine, ...]:
            return ()

    def factory() -> CountingEngine:
        created.append(threading.current_thread().name)
        return CountingEngine()

    async with OcrPool(engine_factory=factory) as pool:
        await pool.warm_up()
        assert len(created) == 1 and created[0].startswith("ocr")
        await pool.read(np.zeros((8, 8, 3), np.uint8))
        assert len(created) == 1
