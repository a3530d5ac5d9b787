"""The viewer's API for a developer, over real HTTP and gRPC on loopback: a viewer that joins after an answer is
shown it (its messages, the keyframe its overlay was computed on, the question, the latency records), the
overlay's keyframe stays served after the session lets it go, sessions have readable names, and the cloud's
recordings are listed and played back only to the tokens that may see them, with a typed error for a truncated
file."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import Role, TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.messages import Answer
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.wire import QueryOut
from eyeline.protos.v1 import session_pb2 as pb

from ..browser.waiting import wait_until
from .helpers import Session, hello, jpeg_frame

QUESTION = "which of these has the most protein?"
MESSAGE, KEYFRAME, STATS = 0, 1, 2


def _shelf() -> np.ndarray:
    image, _ = render_shelf_frame(make_shelf_scene(seed=3), 0.0, motion_scale=0.0)
    return image


async def _answered(cloud: CloudServer, token: str) -> tuple[Session, str]:
    """A gRPC session that sent the shelf as keyframe 1 and was answered about it."""
    uplink = GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5))
    welcome = await uplink.open(hello(token))
    session = Session(uplink)
    await uplink.push_frame(jpeg_frame(1, _shelf()))
    held = cloud.sessions.get(welcome.session_id)
    assert held is not None
    await wait_until(lambda: held.frame(1) is not None, 20, "the keyframe kept")
    await uplink.ask(QueryOut("q1", QUESTION, "instant", frame_seq=1))
    answer = await session.next(Answer, 120)
    assert isinstance(answer, Answer)
    return session, welcome.session_id


async def _records(http: HttpServer, token: str, session_id: str, until_stats: int) -> list[tuple[int, bytes]]:
    """The event stream's records up to and including its ``until_stats``-th STATS record."""
    records: list[tuple[int, bytes]] = []
    seen = 0
    async with aiohttp.ClientSession() as client, client.get(
            f"{http.url}/api/sessions/{session_id}/events", headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200
        while seen < until_stats:
            kind, length = struct.unpack(">BI", await response.content.readexactly(5))
            records.append((kind, await response.content.readexactly(length)))
            seen += kind == STATS
    return records


async def _get(http: HttpServer, path: str, token: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as client, client.get(
            f"{http.url}{path}", headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.read(), response.content_type


async def test_a_viewer_that_joins_after_the_answer_is_shown_it_on_its_keyframe(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    token = signer.mint("ana")
    session, session_id = await _answered(cloud, token)
    try:
        held = cloud.sessions.get(session_id)
        assert held is not None
        await wait_until(lambda: any(m.WhichOneof("kind") == "answer" and m.answer.final
                                     for m in held.history.messages()), 30, "the final answer remembered")
        records = await _records(http, token, session_id, until_stats=1)
        messages = [pb.CloudMessage.FromString(p) for k, p in records if k == MESSAGE]
        kinds = [m.WhichOneof("kind") for m in messages]
        assert {"overlay", "answer", "trace"} <= set(kinds)
        overlay = next(m.overlay for m in messages if m.WhichOneof("kind") == "overlay")
        assert overlay.frame_seq == 1
        # The overlay's keyframe comes first, before the messages, with the pixels the edge sent.
        assert records[0][0] == KEYFRAME
        seq = struct.unpack(">Q", records[0][1][:8])[0]
        assert seq == 1
        shown = cv2.imdecode(np.frombuffer(records[0][1][8:], np.uint8), cv2.IMREAD_COLOR)
        sent = cv2.imdecode(np.frombuffer(jpeg_frame(1, _shelf()).data, np.uint8), cv2.IMREAD_COLOR)
        assert shown.shape == sent.shape and float(np.abs(shown.astype(int) - sent).mean()) < 4.0
        stats = json.loads(next(p for k, p in records if k == STATS))
        assert [(q["query_id"], q["text"], q["mode"]) for q in stats["questions"]] == [("q1", QUESTION, "instant")]
        assert stats["connection"]["transport"] == "grpc" and stats["connection"]["rtt_ms"] is None
        assert isinstance(stats["now_ns"], int)
    finally:
        await session.close()


async def test_the_overlay_keyframe_is_served_after_the_session_lets_it_go(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    token = signer.mint("ana")
    session, session_id = await _answered(cloud, token)
    try:
        held = cloud.sessions.get(session_id)
        assert held is not None
        await wait_until(lambda: held.history.frame(1) is not None, 30, "the overlay's keyframe pinned")
        kept = cloud.sessions.frames_kept
        for seq in range(2, kept + 3):
            await session.uplink.push_frame(jpeg_frame(seq))
        await wait_until(lambda: held.frame(kept + 2) is not None, 20, "later frames kept")
        assert held.frame(1) is None   # the session itself no longer keeps it
        status, body, kind = await _get(http, f"/api/sessions/{session_id}/frames/1", token)
        assert (status, kind) == (200, "image/jpeg")
        image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert float(np.abs(image.astype(int) - cv2.resize(_shelf(), image.shape[1::-1])).mean()) < 6.0
    finally:
        await session.close()


async def test_sessions_are_listed_by_a_readable_name(cloud: CloudServer, http: HttpServer,
                                                       signer: TokenSigner) -> None:
    token = signer.mint("ana")
    uplinks = [GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5)) for _ in range(2)]
    ids = [(await uplink.open(hello(token))).session_id for uplink in uplinks]
    try:
        status, body, _ = await _get(http, "/api/sessions", token)
        assert status == 200
        rows = {row["session_id"]: row for row in json.loads(body)["sessions"]}
        names = [rows[i]["name"] for i in ids]
        for name in names:
            subject, _, short = name.partition(" · ")
            adjective, _, noun = short.partition("-")
            assert subject == "ana" and adjective.isalpha() and noun.isalpha() and len(name) < 30
        assert all(rows[i]["opened_ago_s"] >= 0 for i in ids)
    finally:
        for uplink in uplinks:
            await uplink.aclose()


@pytest.fixture
async def recording_http(recording_cloud: CloudServer) -> Any:
    server = HttpServer(recording_cloud.cloud)
    await server.start()
    yield server
    await server.stop()


async def test_a_recording_is_played_back_to_its_owner_only(
        recording_cloud: CloudServer, recording_http: HttpServer, signer: TokenSigner) -> None:
    token = signer.mint("ana")
    session, session_id = await _answered(recording_cloud, token)
    await session.close()
    await wait_until(lambda: not recording_cloud.sessions.active(), 10, "the session to close")
    folder = recording_cloud.config.record_dir
    assert folder is not None
    status, body, _ = await _get(recording_http, "/api/recordings", token)
    assert status == 200
    rows = json.loads(body)["recordings"]
    assert [(r["session_id"], r["subject"]) for r in rows] == [(session_id, "ana")]
    name = rows[0]["name"]
    for other in (signer.mint("bo"), signer.mint("bo", role=Role.VIEWER)):
        assert json.loads((await _get(recording_http, "/api/recordings", other))[1])["recordings"] == []
        assert (await _get(recording_http, f"/api/recordings/{name}", other))[0] == 404
        assert (await _get(recording_http, f"/api/recordings/{name}/frames/1", other))[0] == 404
    assert (await _get(recording_http, f"/api/recordings/{name}", signer.mint("ops", role=Role.ADMIN)))[0] == 200

    status, body, _ = await _get(recording_http, f"/api/recordings/{name}", token)
    assert status == 200, body
    playback = json.loads(body)
    assert playback["session_id"] == session_id and not playback["truncated"]
    assert 1 in [f["seq"] for f in playback["frames"]]
    questions = [e for e in playback["events"] if e["kind"] == "question"]
    assert [(q["query_id"], q["text"]) for q in questions] == [("q1", QUESTION)]
    said = [pb.CloudMessage.FromString(base64.b64decode(e["message"])) for e in playback["events"]
            if e["kind"] == "message"]
    assert any(m.WhichOneof("kind") == "answer" and m.answer.query_id == "q1" for m in said)
    assert any(m.WhichOneof("kind") == "overlay" and m.overlay.frame_seq == 1 for m in said)
    times = [e["t_ns"] for e in playback["events"]]
    assert times == sorted(times) and playback["start_ns"] <= times[0] <= playback["end_ns"]
    status, frame, kind = await _get(recording_http, f"/api/recordings/{name}/frames/1", token)
    assert (status, kind) == (200, "image/jpeg")
    assert frame == jpeg_frame(1, _shelf()).data   # the very bytes the edge sent

    # A cloud that died mid-write leaves a file cut short: a typed error, or its complete part when asked.
    whole = (folder / f"{name}.mcap").read_bytes()
    (folder / "cut.mcap").write_bytes(whole[: len(whole) * 2 // 3])
    status, body, kind = await _get(recording_http, "/api/recordings/cut", token)
    assert (status, kind) == (422, "application/json")
    error = json.loads(body)
    assert error["error"] == "truncated_recording" and "partial=1" in error["message"]
    status, body, _ = await _get(recording_http, "/api/recordings/cut?partial=1", token)
    assert status == 200 and json.loads(body)["truncated"] is True
    assert (await _get(recording_http, "/api/recordings/..%2Fetc", token))[0] == 404
    await asyncio.sleep(0)


async def test_a_webrtc_session_reports_its_ice_state_and_packets(
        cloud: CloudServer, http: HttpServer, signer: TokenSigner) -> None:
    from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink

    token = signer.mint("ana")
    edge = WebRtcUplink(WebRtcOptions(f"{http.url}/whip", preview_fps=15, preview_width=320))
    welcome = await edge.open(hello(token))
    try:
        await wait_until(lambda: (peer := http.webrtc.peer_of(welcome.session_id)) is not None
                         and peer.preview is not None, 10, "the edge's video")
        records = await _records(http, token, welcome.session_id, until_stats=3)
        connection = [json.loads(p)["connection"] for k, p in records if k == STATS][-1]
        assert connection["transport"] == "webrtc"
        assert connection["ice_state"] in {"connected", "completed"}
        assert connection["connection_state"] == "connected"
        assert connection["packets_received"] > 0 and 0 <= connection["loss_percent"] <= 100
        assert 0 <= connection["jitter_ms"] < 1000
        # The edge's peer only sends media to the cloud: the round trip is the data channel's, which carried the
        # Welcome and had it acknowledged; over loopback, well under a second.
        assert connection["rtt_source"] == "sctp" and 0 < connection["rtt_ms"] < 1000
    finally:
        await edge.aclose()
