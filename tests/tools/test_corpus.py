"""The golden corpus regenerates from the project's own code with the same expected answers and frames."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eyeline.tools.corpus import SESSIONS, load_expectations, write_corpus
from eyeline.tools.replay import read_script

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


async def test_regenerating_the_corpus_gives_the_checked_in_expectations_and_sessions(tmp_path: Path) -> None:
    regenerated = await write_corpus(tmp_path)
    assert regenerated == load_expectations(GOLDEN)
    assert {e.file for e in regenerated} == {f"{spec.name}.mcap" for spec in SESSIONS}
    assert len({e.answer_names for e in regenerated}) == len(regenerated)  # each session tests a different answer
    for expectation in regenerated:
        fresh = await asyncio.to_thread(read_script, tmp_path / expectation.file)
        kept = await asyncio.to_thread(read_script, GOLDEN / expectation.file)
        assert fresh.sent == kept.sent and fresh.queries == kept.queries and fresh.frame_size == kept.frame_size
        assert fresh.truth == kept.truth
        assert fresh.truth[expectation.frame_seq].best_product().display_name == expectation.answer_names


def test_the_checked_in_corpus_stays_small() -> None:
    assert sum(path.stat().st_size for path in GOLDEN.iterdir()) < 500_000
