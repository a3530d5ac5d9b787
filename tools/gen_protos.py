"""Generate the checked-in Python code for the wire contract in ``protos/``.

The ``.proto`` sources live in ``protos/v1``; the generated ``_pb2.py``, ``_pb2.pyi`` and ``_pb2_grpc.py``
sit beside them. The sources are staged under ``eyeline/protos/v1`` before ``protoc`` runs, so the
generated imports read ``from eyeline.protos.v1 import ...`` and work inside the installed package.

    python -m eyeline.tools.gen_protos           # rewrite the generated files
    python -m eyeline.tools.gen_protos --check   # exit 1 when they drift from the sources
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent.parent / "protos"
PACKAGE_PREFIX = Path("eyeline/protos")
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


class ProtoGenerationError(RuntimeError):
    """protoc failed or the generated code does not match the sources."""


def proto_sources(root: Path = PROTO_ROOT) -> list[Path]:
    return sorted(root.rglob("*.proto"))


def generate(out_dir: Path, root: Path = PROTO_ROOT) -> list[Path]:
    """Run protoc over every source under ``root``; return the generated files, relative to ``out_dir``."""
    from grpc_tools import protoc  # a development dependency, imported only when generating

    with tempfile.TemporaryDirectory() as staging_name:
        staging = Path(staging_name)
        staged = []
        for source in proto_sources(root):
            target = staging / PACKAGE_PREFIX / source.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            staged.append(str(target.relative_to(staging)))
        args = [
            "protoc",
            f"-I{staging}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *staged,
        ]
        if protoc.main(args) != 0:
            raise ProtoGenerationError(f"protoc failed on {', '.join(staged)}")
    prefix = out_dir / PACKAGE_PREFIX
    return sorted(p.relative_to(prefix) for p in prefix.rglob("*") if p.name.endswith(GENERATED_SUFFIXES))


def drifted_files(root: Path = PROTO_ROOT) -> list[str]:
    """Names of generated files that differ from what the sources generate now (missing ones included)."""
    with tempfile.TemporaryDirectory() as out_name:
        out = Path(out_name)
        fresh = generate(out, root)
        drift = [
            str(rel) for rel in fresh
            if not (root / rel).exists() or (root / rel).read_bytes() != (out / PACKAGE_PREFIX / rel).read_bytes()
        ]
        fresh_names = {str(rel) for rel in fresh}
        stale = [
            str(p.relative_to(root)) for p in root.rglob("*")
            if p.name.endswith(GENERATED_SUFFIXES) and str(p.relative_to(root)) not in fresh_names
        ]
    return sorted(drift + stale)


def write(root: Path = PROTO_ROOT) -> list[Path]:
    with tempfile.TemporaryDirectory() as out_name:
        out = Path(out_name)
        written = []
        for rel in generate(out, root):
            shutil.copyfile(out / PACKAGE_PREFIX / rel, root / rel)
            written.append(root / rel)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        drift = drifted_files()
        for name in drift:
            print(f"drifted: protos/{name}", file=sys.stderr)
        return 1 if drift else 0
    for path in write():
        print(f"wrote {path.relative_to(PROTO_ROOT.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
