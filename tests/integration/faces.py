"""Real faces for the privacy path tests, and the one criterion that says a face was destroyed.

The faces ship inside the scikit-image wheel (no download): the astronaut photo and crops of its LFW subset. A
bystander frame puts the astronaut and three LFW faces on a plain 1280x720 background; the boxes of their faces
(forehead to chin, read once by eye) are where a received frame must no longer show a face.

A face counts as destroyed when both hold, on the received picture scaled back to the frame's size:
- its detail (the picture minus its local mean: eyes, mouth, edges) no longer correlates with the original's;
  a face that went through unredacted keeps a correlation above 0.5 even at a quarter of the size and JPEG
  quality 30, a redacted one stays near 0 (``test_the_criterion_tells_a_passed_face_from_a_destroyed_one``);
- CenterFace finds no face there any more.

The helpers at the end fetch what each path delivered: the frame a live session keeps, its preview as the viewer
API serves it, its live video as a watching viewer receives it, and a finished recording's camera images.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import cv2
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.http import HttpServer
from eyeline.cloud.session.sessions import Session
from eyeline.devices.base import Image
from eyeline.devices.recording import RecordingReader
from eyeline.protos import recording as layout
from eyeline.protos.privacy import CenterFaceDetector

from ..browser.waiting import wait_until

Box = tuple[int, int, int, int]
WIDTH, HEIGHT = 1280, 720
ASTRONAUT_FACE = (185, 70, 265, 175)   # in skimage.data.astronaut() (512x512)
ASTRONAUT_AT = (600, 150)
LFW_SIDE, LFW_X, LFW_YS = 160, 60, (40, 280, 520)
LFW_FACE = (40, 40, 120, 133)          # in a 160x160 LFW crop
MAX_DETAIL_CORRELATION = 0.25
LIT = 60.0   # mean brightness above which a video frame shows the picture, not the black before the first frame


def bystander_frame() -> tuple[Image, tuple[Box, ...]]:
    """A 1280x720 BGR frame with four real faces in it, and the box of each face."""
    from skimage import data as skdata

    frame = np.full((HEIGHT, WIDTH, 3), 170, np.uint8)
    x, y = ASTRONAUT_AT
    frame[y:y + 512, x:x + 512] = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    boxes = [_shifted(ASTRONAUT_FACE, ASTRONAUT_AT)]
    crops = skdata.lfw_subset()[:len(LFW_YS)]  # the first 100 of the subset are faces
    for crop, top in zip(crops, LFW_YS, strict=True):
        grey = cv2.resize((crop * 255).astype(np.uint8), (LFW_SIDE, LFW_SIDE), interpolation=cv2.INTER_CUBIC)
        frame[top:top + LFW_SIDE, LFW_X:LFW_X + LFW_SIDE] = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        boxes.append(_shifted(LFW_FACE, (LFW_X, top)))
    return frame, tuple(boxes)


def _shifted(box: Box, at: tuple[int, int]) -> Box:
    return box[0] + at[0], box[1] + at[1], box[2] + at[0], box[3] + at[1]


def detail(patch: Image) -> np.ndarray:
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float64)
    return grey - cv2.GaussianBlur(grey, (0, 0), 3.0)


def detail_correlation(original: Image, received: Image, box: Box) -> float:
    x0, y0, x1, y1 = box
    before, after = detail(original[y0:y1, x0:x1]).ravel(), detail(received[y0:y1, x0:x1]).ravel()
    return float(abs(np.corrcoef(before, after)[0, 1])) if np.std(after) > 0 else 0.0


def surviving_faces(original: Image, received: Image, boxes: tuple[Box, ...]) -> list[str]:
    """What is left of each face in ``received`` (any size, same framing); [] when every face was destroyed."""
    height, width = original.shape[:2]
    if received.shape[:2] != (height, width):
        received = cv2.resize(received, (width, height), interpolation=cv2.INTER_LINEAR)
    found = CenterFaceDetector().detect(received)
    problems = []
    for box in boxes:
        correlation = detail_correlation(original, received, box)
        if correlation >= MAX_DETAIL_CORRELATION:
            problems.append(f"face {box}: its detail survives (correlation {correlation:.2f})")
        if any(_overlaps(box, (f.x0, f.y0, f.x1, f.y1)) for f in found):
            problems.append(f"face {box}: the detector still finds a face there")
    return problems


def _overlaps(a: Box, b: Box) -> bool:
    width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    return width > 0 and height > 0 and width * height > 0.25 * (a[2] - a[0]) * (a[3] - a[1])


def decoded(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, f"{len(data)} bytes that are not an image"
    return np.asarray(image, dtype=np.uint8)


def recorded_camera(path: Path) -> list[Image]:
    """Every camera image of a recording (edge or cloud), decoded."""
    reader = RecordingReader(path, required=())
    return [decoded(m.message.data) for m in reader.messages(frozenset({layout.CAMERA}))]


def write_png(path: Path, image: Image) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


# ------------------------------------------------------------------ what a path delivered


async def live_session(cloud: CloudServer) -> Session:
    def with_a_frame() -> Session | None:
        live = (cloud.sessions.get(info.session_id) for info in cloud.sessions.active())
        return next((s for s in live if s is not None and s.frame(None) is not None), None)

    await wait_until(lambda: with_a_frame() is not None, 30, "a session with a kept frame")
    session = with_a_frame()
    assert session is not None
    return session


async def preview_image(http: HttpServer, session_id: str, token: str) -> Image:
    """The session's preview as the viewer API serves it, once it shows the picture."""
    url = f"{http.url}/api/sessions/{session_id}/preview"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(100):
            async with client.get(url) as response:
                if response.status == 200:
                    image = decoded(await response.read())
                    if image.mean() > LIT:
                        return image
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never showed the picture")


async def watched_image(http: HttpServer, session_id: str, token: str) -> Image:
    """A frame of the session's live video as a watching viewer (WHEP-style) receives it, once it shows the picture."""
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
        pc.on("track", tracks.put_nowait)
        await pc.setLocalDescription(await pc.createOffer())
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
        async with aiohttp.ClientSession() as client, client.post(
                f"{http.url}/api/sessions/{session_id}/watch", data=pc.localDescription.sdp,
                headers=headers) as response:
            answer = await response.text()
            assert response.status == 201, answer
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        track = await asyncio.wait_for(tracks.get(), 10)
        async with asyncio.timeout(20):
            while True:
                image = np.ascontiguousarray((await track.recv()).to_ndarray(format="bgr24"), dtype=np.uint8)
                if image.mean() > LIT:
                    return image
    finally:
        await pc.close()


async def assert_destroyed(where: str, images: list[Image]) -> None:
    frame, boxes = bystander_frame()
    assert images, f"nothing reached {where}"
    for index, image in enumerate(images):
        problems = await asyncio.to_thread(surviving_faces, frame, image, boxes)
        assert not problems, f"{where}, image {index}: {problems}"
