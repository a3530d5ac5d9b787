#!/usr/bin/env bash
# mypy --strict over Eyeline's own code. The top-level folders are installed as subpackages of `eyeline`
# through a path mapping that mypy cannot follow, so they are linked into a scratch `eyeline/` tree first.
set -euo pipefail
cd "$(dirname "$0")/.."
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/eyeline"
for part in protos devices edge cloud tools; do ln -s "$PWD/$part" "$tree/eyeline/$part"; done
cd "$tree" && "$OLDPWD/.venv/bin/mypy" --config-file "$OLDPWD/pyproject.toml" -p eyeline "$@"
