"""A new user's mistakes through the real ``eyeline`` command: one line on stderr that says what to fix, no
traceback, and the documented exit code (2: the user's to fix, 3: the cloud)."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import cv2
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.profiles import WEBCAM
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.devices.webcam import no_camera_message
from eyeline.edge.app import EdgeAppOptions, NoAnswerError, run_edge
from eyeline.tools.cli import EXIT_CLOUD, EXIT_USER_ERROR


async def eyeline(*args: str, token: str = "unused") -> tuple[int, list[str]]:
    """Run ``eyeline ARGS`` as a user would; its exit code and the lines it wrote to stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eyeline.tools.cli", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={"EYELINE_TOKEN": token, "PATH": "/usr/bin:/bin"})
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, [line for line in stderr.decode().splitlines() if line.strip()]


def one_error_line(lines: list[str], command: str) -> str:
    assert not any("Traceback" in line for line in lines), lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"eyeline {command}: error: ")
    return lines[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def corrupt_jpeg(tmp_path: Path) -> Path:
    """A JPEG cut off after its first few hundred bytes: the header is there, the picture is not."""
    image, _ = render_shelf_frame(make_shelf_scene(seed=1), 0.0)
    whole = cv2.imencode(".jpg", image)[1].tobytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(whole[:300])
    return path


@pytest.fixture
def good_png(tmp_path: Path) -> Path:
    image, _ = render_shelf_frame(make_shelf_scene(seed=1), 0.0)
    path = tmp_path / "shelf.png"
    cv2.imwrite(str(path), image)
    return path


def absent_camera_index() -> int:
    return next(n for n in range(10, 64) if not Path(f"/dev/video{n}").exists())


async def test_a_missing_webcam_lists_the_cameras_found_and_suggests_a_file(tmp_path: Path) -> None:
    index = await asyncio.to_thread(absent_camera_index)
    code, lines = await eyeline("edge", "--device", f"webcam:{index}", "--cloud", f"127.0.0.1:{free_port()}",
                                "--video", str(tmp_path / "out.mp4"))
    line = one_error_line(lines, "edge")
    assert code == EXIT_USER_ERROR
    assert f"webcam {index} could not be opened" in line
    assert "video:PATH" in line and "image:PATH" in line
    assert "cameras found" in line or "no camera found" in line


def test_the_no_camera_message_names_every_camera_found() -> None:
    line = no_camera_message(3, ["/dev/video0", "/dev/video2"])
    assert "cameras found: /dev/video0, /dev/video2" in line and "webcam 3" in line
    assert "no camera found" in no_camera_message(0, [])


async def test_a_corrupt_image_device_fails_in_one_line_before_the_cloud_is_dialled(
        tmp_path: Path, corrupt_jpeg: Path) -> None:
    # No cloud listens on the port: the device is checked first, so the error is the image's, not the network's.
    code, lines = await eyeline("edge", "--device", f"image:{corrupt_jpeg}", "--cloud", f"127.0.0.1:{free_port()}",
                                "--video", str(tmp_path / "out.mp4"))
    line = one_error_line(lines, "edge")
    assert code == EXIT_USER_ERROR
    assert f"not a decodable image: {corrupt_jpeg}" in line and "JPEG or PNG" in line


async def test_ask_about_a_corrupt_image_fails_in_one_line(corrupt_jpeg: Path) -> None:
    code, lines = await eyeline("ask", "--image", str(corrupt_jpeg), "--question", "what is this?")
    assert code == EXIT_USER_ERROR
    assert "not a decodable image" in one_error_line(lines, "ask")


async def test_an_unreachable_cloud_says_where_it_looked_and_exits_3(tmp_path: Path, good_png: Path) -> None:
    port = free_port()
    code, lines = await eyeline("edge", "--device", f"image:{good_png}", "--cloud", f"127.0.0.1:{port}",
                                "--connect-timeout", "1", "--video", str(tmp_path / "out.mp4"))
    line = one_error_line(lines, "edge")
    assert code == EXIT_CLOUD
    assert f"cannot reach the cloud at 127.0.0.1:{port} within 1 s" in line
    assert "eyeline cloud" in line and "--connect-timeout" in line


@pytest.mark.slow
async def test_a_slow_answer_says_what_is_pending_and_exits_3(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path, good_png: Path) -> None:
    # Reading a shelf takes the real OCR far longer than a tenth of a second.
    code, lines = await eyeline("edge", "--device", f"image:{good_png}?fps=4", "--cloud", cloud.address,
                                "--ask", "which has the most protein?", "--answer-timeout", "0.1",
                                "--video", str(tmp_path / "out.mp4"), token=signer.mint("edge"))
    line = one_error_line([x for x in lines if "error" in x or "Traceback" in x], "edge")
    assert code == EXIT_CLOUD
    assert "no answer within 0.1 s to 'which has the most protein?'" in line
    assert "the question and 1 keyframe was sent" in line or "keyframes were sent" in line
    assert "--answer-timeout" in line


@pytest.mark.slow
async def test_a_clip_that_ends_before_the_answer_holds_its_last_frame_and_gets_it(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    clip = tmp_path / "short.mp4"
    scene = make_shelf_scene(2, 3)
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (WEBCAM.width, WEBCAM.height))
    for n in range(5):   # half a second: over long before the OCR has read it
        writer.write(render_shelf_frame(scene, n / 10, motion_scale=0.0)[0])
    writer.release()
    report = await run_edge(EdgeAppOptions(device=f"video:{clip}", cloud=cloud.address, token=signer.mint("edge"),
                                           profile=WEBCAM, question="which has the most protein?",
                                           video_path=tmp_path / "edge.mp4"))
    assert report.answer is not None and report.answer.final
    best = max(scene.products, key=lambda product: product.protein_g)
    assert best.name.lower() in report.answer.text.lower()
    assert report.stats is not None and report.stats.captured > 5   # the last frame was shown past the clip's end


@pytest.mark.slow
async def test_no_answer_names_the_held_frame_when_the_device_had_ended(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path, good_png: Path) -> None:
    with pytest.raises(NoAnswerError, match="its last frame was held") as caught:
        await run_edge(EdgeAppOptions(device=f"image:{good_png}?frames=2&fps=20", cloud=cloud.address,
                                      token=signer.mint("edge"), profile=WEBCAM, question="which has the most protein?",
                                      answer_timeout_s=0.5, video_path=tmp_path / "edge.mp4"))
    assert "no answer within 0.5 s" in str(caught.value)


@pytest.mark.slow
async def test_ask_about_a_clip_shorter_than_its_answer_gets_the_answer(tmp_path: Path) -> None:
    from eyeline.tools.ask import run_ask

    clip = tmp_path / "short.mp4"
    scene = make_shelf_scene(2, 3)
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (WEBCAM.width, WEBCAM.height))
    for n in range(3):
        writer.write(render_shelf_frame(scene, n / 10, motion_scale=0.0)[0])
    writer.release()
    result = await run_ask(video=clip, question="which has the most protein?", timeout_s=120)
    best = max(scene.products, key=lambda product: product.protein_g)
    assert best.name.lower() in result.answer.text.lower()


async def test_a_file_that_is_no_video_fails_in_one_line_with_the_fix(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)   # an MP4 header and no video in it
    code, lines = await eyeline("edge", "--device", f"video:{clip}", "--cloud", f"127.0.0.1:{free_port()}",
                                "--video", str(tmp_path / "out.mp4"))
    line = one_error_line(lines, "edge")
    assert code == EXIT_USER_ERROR
    assert str(clip) in line and "re-encode it as H.264 MP4" in line
