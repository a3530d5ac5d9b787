"""The repair skill over a real gRPC session: the cloud session remembers the step, and only its own."""

from __future__ import annotations

import pytest

from eyeline.devices.espresso import make_espresso_scene, render_espresso_frame
from eyeline.edge.messages import Answer, OverlayArrival
from eyeline.edge.overlays import ArrowShape, StepCardShape
from eyeline.edge.transport.wire import QueryOut

from .helpers import Session, jpeg_frame

pytestmark = pytest.mark.slow


async def _ask(session: Session, query_id: str, text: str) -> tuple[Answer, OverlayArrival]:
    await session.uplink.ask(QueryOut(query_id, text, "instant", asked_ns=1))
    while True:
        arrival = await session.next(OverlayArrival, within_s=120.0)
        assert isinstance(arrival, OverlayArrival)
        if arrival.overlay.query_id == query_id and arrival.overlay.final:
            break
    while True:
        answer = await session.next(Answer, within_s=120.0)
        assert isinstance(answer, Answer)
        if answer.query_id == query_id and answer.final:
            return answer, arrival


async def test_next_moves_on_in_the_same_session_and_a_new_session_starts_afresh(connect) -> None:  # type: ignore[no-untyped-def]
    image, _ = render_espresso_frame(make_espresso_scene(seed=6), 0.5)
    first = await connect()
    await first.uplink.push_frame(jpeg_frame(1, image))
    answer, _ = await _ask(first, "q1", "how do I clean this espresso machine?")
    assert answer.text.startswith("Step 1 of 7")
    answer, arrival = await _ask(first, "q2", "next")
    assert answer.text.startswith("Step 2 of 7")
    shapes = {item.id: item.shape for item in arrival.overlay.items}
    card = shapes["step-card"]
    assert isinstance(card, StepCardShape) and card.step == 2
    assert isinstance(shapes[card.target_item_id], ArrowShape)

    second = await connect()
    await second.uplink.push_frame(jpeg_frame(1, image))
    answer, _ = await _ask(second, "q1", "next")
    assert answer.text.startswith("Step 1 of 7")   # nothing of the first session's progress leaks here
