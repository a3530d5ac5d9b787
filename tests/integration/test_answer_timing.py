"""Where an answer's time went, over a real gRPC session: every answer carries its stages, and a cloud that
reports ready has its OCR warm, so its first question pays no model load."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import cv2
import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.perception.spend import DETECTION, PARTS, RECOGNITION, REGISTRATION
from eyeline.cloud.session.timing import OCR, STAGES
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.messages import Answer
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.wire import EncodedFrame, QueryOut

from .helpers import Session, hello

QUESTION = "which of these has the most protein?"


def shelf_frame(seq: int, seed: int) -> EncodedFrame:
    image, _ = render_shelf_frame(make_shelf_scene(seed), 0.0, 1280, 720)
    data = cv2.imencode(".jpg", image)[1].tobytes()
    return EncodedFrame(seq=seq, trace_id=f"t{seq}", capture_ns=seq * 1000, data=data, width=1280, height=720)


async def final_answer(session: Session, query_id: str) -> Answer:
    while True:
        event = await session.next(Answer, within_s=120)
        assert isinstance(event, Answer)
        if event.query_id == query_id and event.final:
            return event


async def ask_on_new_shelf(session: Session, seq: int, seed: int) -> Answer:
    await session.uplink.push_frame(shelf_frame(seq, seed))
    await session.uplink.ask(QueryOut(f"q{seq}", QUESTION, mode="instant", frame_seq=seq,
                                      asked_ns=time.monotonic_ns()))
    return await final_answer(session, f"q{seq}")


async def open_session(server: CloudServer, signer: TokenSigner) -> Session:
    uplink = GrpcUplink(UplinkOptions(server.address, connect_timeout_s=5))
    await uplink.open(hello(signer.mint("test")))
    return Session(uplink)


@pytest.fixture
async def warm_cloud(signer: TokenSigner) -> AsyncIterator[CloudServer]:
    server = CloudServer(CloudConfig(port=0, agent_workers=0), signer)   # warm_up is the default
    await server.start()
    yield server
    await server.stop(grace_s=0.5)


def check_stages(answer: Answer) -> None:
    timing = answer.timing
    assert timing is not None
    assert tuple(s.stage for s in timing.stages) == STAGES
    assert sum(s.us for s in timing.stages) <= timing.total_us
    assert timing.frame_decode_us > 0
    # The OCR stage's parts come in order and never sum past the stage they split.
    assert [p.stage for p in timing.ocr_parts] == [n for n in PARTS if n in {p.stage for p in timing.ocr_parts}]
    assert sum(p.us for p in timing.ocr_parts) <= sum(s.us for s in timing.stages if s.stage == OCR)


async def test_a_ready_cloud_is_warm_and_its_first_answer_pays_no_model_load(warm_cloud: CloudServer,
                                                                              signer: TokenSigner) -> None:
    assert warm_cloud.cloud.ocr.warm          # start() returned only once every OCR worker had loaded and run
    session = await open_session(warm_cloud, signer)
    try:
        first = await ask_on_new_shelf(session, 1, seed=1)
        second = await ask_on_new_shelf(session, 2, seed=2)   # another shelf: read afresh, not from the cache
    finally:
        await session.close()
    for answer in (first, second):
        check_stages(answer)
    assert first.timing is not None and second.timing is not None
    assert first.timing.warm and second.timing.warm
    ocr_first = next(s.us for s in first.timing.stages if s.stage == OCR)
    ocr_second = next(s.us for s in second.timing.stages if s.stage == OCR)
    # A model load (seconds on a small machine) would put the first read far beyond the second.
    assert ocr_first < 3 * ocr_second + 500_000, (ocr_first, ocr_second)
    for answer in (first, second):               # a whole read: detected, then recognised; packages segmented
        assert answer.timing is not None
        parts = {p.stage: p.us for p in answer.timing.ocr_parts}
        assert parts.get(DETECTION, 0) > 0 and parts.get(RECOGNITION, 0) > 0, parts
        assert answer.timing.segmentation_us > 0
        # One host, one monotonic clock: the question's trip is measured, and it arrived after it was sent.
        uplink_us = answer.timing.uplink_us()
        assert uplink_us is not None and answer.timing.query_received_ns >= answer.timing.query_sent_ns
        assert answer.timing.return_us(time.monotonic_ns()) is not None


async def test_a_cold_cloud_says_its_first_answer_was_cold(cloud: CloudServer, signer: TokenSigner) -> None:
    assert not cloud.cloud.ocr.warm           # the shared fixture skips the warm-up
    session = await open_session(cloud, signer)
    try:
        answer = await ask_on_new_shelf(session, 1, seed=1)
    finally:
        await session.close()
    check_stages(answer)
    assert answer.timing is not None and not answer.timing.warm


async def test_a_question_over_a_new_view_gets_a_provisional_answer_before_its_ocr_finished(
        warm_cloud: CloudServer, signer: TokenSigner) -> None:
    scene = make_shelf_scene(4)
    session = await open_session(warm_cloud, signer)
    try:
        first, _ = render_shelf_frame(scene, 0.0, 1280, 720)
        await session.uplink.push_frame(encoded(1, first))
        await session.uplink.ask(QueryOut("q1", QUESTION, mode="instant", frame_seq=1))
        await final_answer(session, "q1")                 # the session has now read keyframe 1
        moved, _ = render_shelf_frame(scene, 0.4, 1280, 720)
        await session.uplink.push_frame(encoded(2, moved))
        await session.uplink.ask(QueryOut("q2", QUESTION, mode="instant", frame_seq=2))
        answers: list[Answer] = []
        while not answers or not answers[-1].final:
            event = await session.next(Answer, within_s=120)
            assert isinstance(event, Answer)
            answers.append(event)
    finally:
        await session.close()
    provisional, final = answers
    assert (provisional.final, provisional.frame_seq) == (False, 1)      # over the view already read
    assert (final.final, final.frame_seq) == (True, 2)
    assert provisional.overlay_id == final.overlay_id == "answer-q2"      # replaced in place
    assert provisional.text.split(":")[0] == final.text.split(":")[0], (provisional.text, final.text)   # same best
    assert provisional.timing is not None and final.timing is not None
    check_stages(provisional)
    check_stages(final)
    assert next(s.us for s in provisional.timing.stages if s.stage == OCR) == 0
    assert provisional.timing.ocr_parts == ()
    # The moved view was registered onto the cached one before anything in it was read again.
    assert final.timing.ocr_parts[0].stage == REGISTRATION and final.timing.ocr_parts[0].us > 0
    # Both timed from the question's arrival: the provisional answer left before the new keyframe's OCR ended.
    final_ocr_end = sum(s.us for s in final.timing.stages if s.stage in ("queue", "provisional", OCR))
    assert provisional.timing.total_us < final_ocr_end


def encoded(seq: int, image: object) -> EncodedFrame:
    data = cv2.imencode(".jpg", image)[1].tobytes()
    return EncodedFrame(seq=seq, trace_id=f"t{seq}", capture_ns=seq * 1000, data=data, width=1280, height=720)
