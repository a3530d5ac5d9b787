"""Helpers for tests that speak the contract to a real cloud over loopback gRPC."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np

from eyeline.devices.recording import RecordingError, RecordingReader
from eyeline.edge.messages import CloudEvent
from eyeline.edge.transport.grpc_uplink import GrpcUplink
from eyeline.edge.transport.wire import EncodedFrame, HelloOut


def hello(token: str) -> HelloOut:
    return HelloOut(token=token, profile_name="test", width=1280, height=720, fps=30.0, horizontal_fov_deg=70.0,
                    uplink_budget_kbps=4000, has_display=True)


def jpeg_frame(seq: int, image: np.ndarray | None = None) -> EncodedFrame:
    if image is None:
        image = np.full((360, 640, 3), 200, np.uint8)
    data = cv2.imencode(".jpg", image)[1].tobytes()
    return EncodedFrame(seq=seq, trace_id=f"t{seq}", capture_ns=seq * 1000, data=data,
                        width=image.shape[1], height=image.shape[0])


class Session:
    """An uplink plus a background reader, so a test can wait for the next event of a kind."""

    def __init__(self, uplink: GrpcUplink) -> None:
        self.uplink = uplink
        self.events: asyncio.Queue[CloudEvent | None] = asyncio.Queue(maxsize=256)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for event in self.uplink:
                await self.events.put(event)
        finally:
            await self.events.put(None)

    async def next(self, kind: type, within_s: float = 30.0) -> CloudEvent:
        """The next event of ``kind``, skipping others; fails if the stream ends first."""
        async with asyncio.timeout(within_s):
            while True:
                event = await self.events.get()
                if event is None:
                    raise AssertionError(f"stream ended before a {kind.__name__} arrived")
                if isinstance(event, kind):
                    return event

    async def close(self) -> None:
        await self.uplink.aclose()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def finished_recording(folder: Path, *, camera: bool = True) -> Path:
    """The one recording in ``folder``, once its writer has finalized it (the cloud does so as the stream closes).

    ``camera=False`` accepts a recording that holds no camera image at all (a browser's track-only session)."""
    for _ in range(200):
        path = await asyncio.to_thread(_finalized, folder, camera)
        if path is not None:
            return path
        await asyncio.sleep(0.05)
    raise AssertionError(f"no finalized recording in {folder}")


def _finalized(folder: Path, camera: bool) -> Path | None:
    recordings = list(folder.glob("*.mcap"))
    if len(recordings) != 1:
        return None
    reader = RecordingReader(recordings[0]) if camera else RecordingReader(recordings[0], required=())
    try:
        for _ in reader.messages():
            pass
    except RecordingError:
        return None
    return None if reader.truncated else recordings[0]
