"""The ``eyeline`` command as a user runs it: separate cloud and edge processes on loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame

pytestmark = pytest.mark.slow

EYELINE = [sys.executable, "-m", "eyeline.tools.cli"]
SECRET = b"cli-test-secret-0123456789abcdef"


def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``eyeline`` in ``cwd``, so files it writes by default land there, not in the repository."""
    return subprocess.run([*EYELINE, *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_bytes(SECRET)
    return path


@pytest.fixture
def cloud_process(secret_file: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen([*EYELINE, "cloud", "--port", "0", "--secret-file", str(secret_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (\S+)", line)
    assert match, f"cloud did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
    yield process, match.group(1)
    if process.poll() is None:
        process.kill()
        process.wait()


def test_token_mints_a_token_the_secret_verifies(secret_file: Path) -> None:
    result = run("token", "--secret-file", str(secret_file), "--subject", "wearer", "--ttl", "120")
    assert result.returncode == 0, result.stderr
    claims = TokenSigner(SECRET).verify(result.stdout.strip())
    assert claims.subject == "wearer" and claims.expires_at - claims.issued_at == 120


def test_token_without_a_secret_fails_clearly() -> None:
    env = {k: v for k, v in os.environ.items() if k != "EYELINE_TOKEN_SECRET"}
    result = subprocess.run([*EYELINE, "token"], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 2
    assert "no token secret" in result.stderr


def test_edge_process_gets_the_answer_from_the_cloud_process(
        cloud_process: tuple[subprocess.Popen[str], str], tmp_path: Path) -> None:
    process, address = cloud_process
    token = TokenSigner(SECRET).mint("edge")
    video = tmp_path / "edge.mp4"
    result = run("edge", "--device", "synthetic:shelf", "--cloud", address, "--token", token,
                 "--ask", "which of these has the most protein?", "--video", str(video))
    assert result.returncode == 0, result.stderr
    _, truth = render_shelf_frame(make_shelf_scene(seed=0), 0.0)
    answer_line = next(line for line in result.stdout.splitlines() if line.startswith("answer"))
    assert truth.best_product().display_name.lower() in answer_line.lower()
    assert "perceive" in result.stdout and video.stat().st_size > 0

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert process.stdout is not None and "shutting down" in process.stdout.read()


def test_edge_with_a_wrong_token_exits_with_the_reason(
        cloud_process: tuple[subprocess.Popen[str], str], tmp_path: Path) -> None:
    _, address = cloud_process
    forged = TokenSigner(b"some-other-secret-0123456789abcd").mint("edge")
    result = run("edge", "--device", "synthetic:shelf", "--cloud", address, "--token", forged, "--duration", "1",
                 cwd=tmp_path)
    assert result.returncode == 2
    assert "UNAUTHENTICATED" in result.stderr and "signature" in result.stderr


def test_edge_with_an_unreachable_cloud_exits_with_the_reason(tmp_path: Path) -> None:
    result = run("edge", "--device", "synthetic:shelf", "--cloud", "127.0.0.1:9", "--token", "x",
                 "--connect-timeout", "1", "--duration", "1", cwd=tmp_path)
    assert result.returncode == 3
    assert "cannot reach the cloud at 127.0.0.1:9" in result.stderr


def test_edge_with_an_unknown_device_exits_with_the_reason(tmp_path: Path) -> None:
    result = run("edge", "--device", "telescope:1", "--cloud", "127.0.0.1:9", "--token", "x", cwd=tmp_path)
    assert result.returncode == 2
    assert "telescope" in result.stderr
