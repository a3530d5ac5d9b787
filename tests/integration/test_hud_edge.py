"""``eyeline edge --profile hud-glasses`` against a real cloud: the display shows the answer as one card on black."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.profiles import HUD_GLASSES
from eyeline.edge.app import EdgeAppOptions, run_edge


def video_frames(path: Path) -> list[np.ndarray]:
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


@pytest.mark.slow
async def test_display_glasses_show_the_answer_as_one_card_and_no_camera_picture(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    report = await run_edge(EdgeAppOptions(device="synthetic:shelf?seed=1", cloud=cloud.address,
                                           token=signer.mint("edge"), profile=HUD_GLASSES,
                                           question="which has the most protein?", video_path=tmp_path / "hud.mp4"))
    assert report.answer is not None and report.overlay is not None
    frames = video_frames(tmp_path / "hud.mp4")
    lit = [float(np.any(frame > 60, axis=2).mean()) for frame in frames]
    assert lit[0] < 0.001, "before the answer the display is dark: no camera picture"
    assert 0.01 < lit[-1] < 0.4, "after it, one card"
