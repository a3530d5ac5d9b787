"""The long fuzz run (``make fuzz``): every fuzzer of ``tests/fuzz`` for a time budget each, its counts written
into the fuzz table of ``docs/SECURITY.md``.

    python -m eyeline.tools.fuzz_report                 # 15 s per target, table rewritten in place
    python -m eyeline.tools.fuzz_report --seconds 60    # longer
    python -m eyeline.tools.fuzz_report --check         # exit 1 unless the table shows zero failures

The run is pytest with the ``long`` hypothesis profile of ``tests/fuzz/harness.py``; each target counts the
cases it tried, the crashes (what would take the process down), hangs (a case over the time bound) and untyped
errors (any other exception, an HTTP 5xx, a gRPC ``UNKNOWN``). Exit status 1 when pytest failed or any count but
the cases is not zero.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SECURITY_DOC = REPO_ROOT / "docs" / "SECURITY.md"
TABLE_START = "<!-- fuzz-table:start -->"
TABLE_END = "<!-- fuzz-table:end -->"
_FAILURES = ("crashes", "hangs", "untyped")


class FuzzReportError(RuntimeError):
    """The document has no fuzz table to rewrite, or the run left no counts."""


def run_fuzzers(seconds: float, report: Path) -> int:
    """pytest over ``tests/fuzz`` with the long profile; its exit status. Blocking."""
    env = {**os.environ, "EYELINE_FUZZ_PROFILE": "long", "EYELINE_FUZZ_SECONDS": str(seconds),
           "EYELINE_FUZZ_REPORT": str(report)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", str(int(seconds * 4 + 120)),
               "tests/fuzz"]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, check=False).returncode


def table(counts: dict[str, dict[str, float]], seconds: float) -> str:
    """The counts as a Markdown table, one row per target."""
    rows = ["| target | cases tried | crashes | hangs | untyped errors | seconds |", "|---|---:|---:|---:|---:|---:|"]
    for name in sorted(counts):
        c = counts[name]
        rows.append(f"| {name} | {int(c['cases'])} | {int(c['crashes'])} | {int(c['hangs'])} | {int(c['untyped'])} "
                    f"| {c['seconds']:.0f} |")
    total = sum(int(c["cases"]) for c in counts.values())
    failures = sum(int(c[key]) for c in counts.values() for key in _FAILURES)
    rows.append("")
    rows.append(f"{total} cases in all, {failures} crashes, hangs or untyped errors; a budget of {seconds:g} s per "
                "fuzz test (`make fuzz`).")
    return "\n".join(rows)


def rewrite(document: Path, text: str) -> None:
    """Put ``text`` between the fuzz-table markers of ``document``."""
    content = document.read_text(encoding="utf-8")
    start, end = content.find(TABLE_START), content.find(TABLE_END)
    if start < 0 or end < start:
        raise FuzzReportError(f"{document} has no {TABLE_START} ... {TABLE_END} section for the table")
    document.write_text(f"{content[:start + len(TABLE_START)]}\n{text}\n{content[end:]}", encoding="utf-8")


def failures_in(document: Path) -> int:
    """Crashes, hangs and untyped errors the document's table shows (its last column but one, summed)."""
    content = document.read_text(encoding="utf-8")
    body = content[content.find(TABLE_START):content.find(TABLE_END)]
    rows = [line.split("|") for line in body.splitlines() if line.startswith("| ") and not line.startswith("| target")]
    return sum(int(cell) for row in rows for cell in row[3:6])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=15.0, help="time budget per fuzz test")
    parser.add_argument("--check", action="store_true", help="only check that the table shows no failures")
    args = parser.parse_args(argv)
    if args.check:
        return 1 if failures_in(SECURITY_DOC) else 0
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "fuzz.json"
        status = run_fuzzers(args.seconds, report)
        if not report.is_file():
            raise FuzzReportError("the fuzz run wrote no counts")
        counts: dict[str, dict[str, float]] = json.loads(report.read_text())
    text = table(counts, args.seconds)
    rewrite(SECURITY_DOC, text)
    print(text)
    failed = sum(int(c[key]) for c in counts.values() for key in _FAILURES)
    return 1 if status != 0 or failed else 0


if __name__ == "__main__":
    sys.exit(main())
