"""Cloud test fixtures: one real OCR pool shared by the whole run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eyeline.cloud.perception.ocr import OcrPool


@pytest.fixture(scope="session")
def real_ocr() -> Iterator[OcrPool]:
    """The real PP-OCR models, loaded once for the run (loading costs about a second)."""
    pool = OcrPool(workers=1)
    yield pool
    pool.close()
