"""The golden corpus regenerates from the project's own code with the same expected answers and frames."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eyeline.devices.espresso import EspressoTruth, make_espresso_scene, render_espresso_frame
from eyeline.devices.synthetic import ShelfTruth
from eyeline.tools.corpus import REPAIR_SKILL, SESSIONS, load_expectations, write_corpus
from eyeline.tools.demo_kit import STEPS
from eyeline.tools.replay import read_script

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


async def test_regenerating_the_corpus_gives_the_checked_in_expectations_and_sessions(tmp_path: Path) -> None:
    regenerated = await write_corpus(tmp_path)
    assert regenerated == load_expectations(GOLDEN)
    assert {e.file for e in regenerated} == {f"{spec.name}.mcap" for spec in SESSIONS}
    shelves = [e for e in regenerated if e.skill != REPAIR_SKILL]
    assert len({e.answer_names for e in shelves}) == len(shelves)  # each shelf session tests a different answer
    assert any(e.skill == REPAIR_SKILL for e in regenerated)
    for expectation in regenerated:
        fresh = await asyncio.to_thread(read_script, tmp_path / expectation.file)
        kept = await asyncio.to_thread(read_script, GOLDEN / expectation.file)
        assert fresh.sent == kept.sent and fresh.queries == kept.queries and fresh.frame_size == kept.frame_size
        assert fresh.truth == kept.truth
        truth = fresh.truth[expectation.frame_seq]
        if expectation.skill == REPAIR_SKILL:
            assert isinstance(truth, EspressoTruth)
            assert STEPS[expectation.step - 1]["target"] == expectation.target
            assert truth.component(expectation.target).visible_fraction == 1.0  # the arrow has a place to go
        else:
            assert isinstance(truth, ShelfTruth)
            assert truth.best_product().display_name == expectation.answer_names


async def test_a_repair_session_records_every_component_where_the_renderer_put_it() -> None:
    spec = next(s for s in SESSIONS if s.scene == "espresso")
    script = await asyncio.to_thread(read_script, GOLDEN / f"{spec.name}.mcap")
    recorded = script.truth[spec.asked_about]
    scene = make_espresso_scene(spec.seed)
    _, rendered = render_espresso_frame(scene, 0.0, spec.width, spec.height)
    _, rendered = render_espresso_frame(scene, spec.asked_about / spec.fps, spec.width, spec.height,
                                        previous=rendered)
    assert isinstance(recorded, EspressoTruth)
    assert [c.id for c in recorded.components] == [c.id for c in rendered.components]
    for kept, true in zip(recorded.components, rendered.components, strict=True):
        assert kept.box == true.box and kept.name == true.name
        assert abs(kept.center[0] - true.center[0]) < 1e-3 and abs(kept.center[1] - true.center[1]) < 1e-3
    assert recorded.display_text == rendered.display_text


def test_the_checked_in_corpus_stays_small() -> None:
    sizes = {path.name: path.stat().st_size for path in GOLDEN.iterdir()}
    assert all(size < 256_000 for size in sizes.values()), sizes
    assert sum(sizes.values()) < 700_000
