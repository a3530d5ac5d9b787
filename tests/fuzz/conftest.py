"""The fuzz run's report: counts per target, written where ``EYELINE_FUZZ_REPORT`` says (``make fuzz``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fuzz.harness import write_report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    report = os.environ.get("EYELINE_FUZZ_REPORT")
    if report:
        write_report(Path(report))
