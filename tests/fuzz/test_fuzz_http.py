"""The cloud's HTTP side, fuzzed over a real server: WHIP SDP offers (what the cloud checks, then aiortc's own
parsing) and the viewer's JSON bodies and path parameters. Every request gets its answer or a typed 4xx refusal,
never a 5xx, and nothing logs an unexpected failure."""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.parse
from typing import Any

from aiortc import RTCPeerConnection
from hypothesis import given
from hypothesis import strategies as st

from eyeline.cloud.ingress.webrtc_peer import CHANNEL_LABEL, WhipError, check_offer
from eyeline.cloud.model import Mode
from eyeline.cloud.session.sessions import Session
from tests.fuzz.cloud_fixture import FuzzCloud, fuzz_cloud
from tests.fuzz.harness import UntypedOutcome, fuzz_target, run_case
from tests.fuzz.strategies import json_values, mutated

__all__ = ["fuzz_cloud"]


async def _real_offer() -> str:
    pc = RTCPeerConnection()
    pc.createDataChannel(CHANNEL_LABEL)
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    await pc.close()
    return offer


_OFFER: list[str] = []


def _offer(cloud: FuzzCloud) -> str:
    if not _OFFER:
        _OFFER.append(cloud.loop.run(_real_offer(), 30))
    return _OFFER[0]


def _request(cloud: FuzzCloud, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", cloud.http.port, timeout=4)
    try:
        connection.request(method, path, body=body, headers={"Authorization": f"Bearer {cloud.token()}",
                                                             **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def _refused_untyped(cloud: FuzzCloud, status: int, allowed: set[int], what: str) -> None:
    logged = cloud.errors.take()
    if status not in allowed or logged:
        raise UntypedOutcome(f"{what}: status {status}, logged {logged}")


@st.composite
def sdp_offers(draw: st.DrawFn, offer: str) -> str:
    """The real offer with lines dropped, repeated, swapped for others or damaged; or any text at all."""
    lines = offer.split("\r\n")
    extra = st.sampled_from(["m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=sctp-port:99999999",
                             "a=fingerprint:sha-256 00", "a=setup:bogus", "m=video 9 UDP/TLS/RTP/SAVPF 96",
                             "a=rtpmap:96 VP8/90000", "a=ice-ufrag:", "a=max-message-size:-1", "c=IN IP4 999.1.1.1",
                             "a=mid:", "a=group:BUNDLE 7", "a=candidate:x", "v=1", "\x00", "a=ssrc:4294967296 x"])
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        match draw(st.sampled_from(["drop", "dup", "insert", "damage"])):
            case "drop":
                del lines[at]
            case "dup":
                lines.insert(at, lines[at])
            case "insert":
                lines.insert(at, draw(extra))
            case "damage":
                lines[at] = lines[at][:draw(st.integers(0, len(lines[at])))] + draw(st.text(max_size=6))
        if not lines:
            break
    joined = st.just("\r\n".join(lines))
    return draw(st.one_of(joined, joined, joined, joined, st.text(max_size=200)))


@fuzz_target
@given(data=st.data())
def test_whip_offers_are_answered_or_refused_typed(fuzz_cloud: FuzzCloud, data: st.DataObject) -> None:
    offer = data.draw(sdp_offers(_offer(fuzz_cloud)))
    content_type = data.draw(st.sampled_from(["application/sdp", "application/sdp", "application/sdp; charset=utf-8",
                                              "application/sdp; charset=nonesuch", "text/plain"]))
    body = data.draw(st.one_of(st.just(offer.encode()), mutated((offer.encode(),), max_edits=2)))

    def case() -> None:
        run_case("SDP offers: the cloud's check", lambda: check_offer(offer), (WhipError,))
        status, _, headers = _request(fuzz_cloud, "POST", "/whip", body, {"Content-Type": content_type})
        if status == 201:
            _request(fuzz_cloud, "DELETE", headers["Location"])
        _refused_untyped(fuzz_cloud, status, {201, 400, 413, 415, 429}, "POST /whip")
    run_case("SDP offers: WHIP over HTTP (aiortc)", case, ())


def _live_session(cloud: FuzzCloud) -> str:
    server = cloud.server
    live = [info.session_id for info in server.sessions.active() if info.subject == "fuzz"]
    if live:
        return live[0]

    async def open_one() -> str:
        session = server.sessions.open("fuzz", "viewer-fuzz", Mode.INSTANT, server.cloud.clock.now_ns())
        # What an edge's stream does: read what the session sends, so its bounded queue never holds it up.
        _DRAINS.append(asyncio.create_task(_drain(session)))
        return session.session_id
    return cloud.loop.run(open_one())


_DRAINS: list[asyncio.Task[None]] = []


async def _drain(session: Session) -> None:
    while await session.outbound.get() is not None:
        pass


def _question_bodies() -> st.SearchStrategy[bytes]:
    good: dict[str, Any] = {"text": "what is this?", "mode": "thinking"}
    objects = st.dictionaries(st.sampled_from(["text", "mode", "frame", "x"]), json_values(8), max_size=3)
    return st.one_of(st.just(json.dumps(good).encode()), objects.map(lambda o: json.dumps(o).encode()),
                     json_values().map(lambda v: json.dumps(v).encode()),
                     st.integers(1, 6000).map(lambda depth: b"[" * depth + b"]" * depth),
                     st.integers(1, 3000).map(lambda depth: b'{"text":' + b'{"a":' * depth + b"1" + b"}" * depth
                                              + b"}"),
                     mutated((json.dumps(good).encode(),)), st.binary(max_size=64))


@fuzz_target
@given(body=_question_bodies(), content_type=st.sampled_from(["application/json", "text/plain",
                                                              "application/json; charset=nonesuch"]))
def test_viewer_question_bodies_are_taken_or_refused_typed(fuzz_cloud: FuzzCloud, body: bytes,
                                                           content_type: str) -> None:
    session_id = _live_session(fuzz_cloud)

    def case() -> None:
        status, _, _ = _request(fuzz_cloud, "POST", f"/api/sessions/{session_id}/query", body,
                                {"Content-Type": content_type})
        _refused_untyped(fuzz_cloud, status, {202, 400, 413}, "POST /query")
    run_case("viewer JSON bodies", case, ())


@fuzz_target
@given(session=st.one_of(st.just("LIVE"), st.text(min_size=1, max_size=20)), seq=st.text(min_size=1, max_size=24),
       route=st.sampled_from(["frames", "preview", "events-head"]))
def test_viewer_path_parameters_are_answered_or_refused_typed(fuzz_cloud: FuzzCloud, session: str, seq: str,
                                                              route: str) -> None:
    session_id = _live_session(fuzz_cloud) if session == "LIVE" else session
    quoted = urllib.parse.quote(session_id, safe="")
    path = {"frames": f"/api/sessions/{quoted}/frames/{urllib.parse.quote(seq, safe='')}",
            "preview": f"/api/sessions/{quoted}/preview", "events-head": f"/api/watch/{quoted}"}[route]
    method = "DELETE" if route == "events-head" else "GET"

    def case() -> None:
        status, _, _ = _request(fuzz_cloud, method, path)
        _refused_untyped(fuzz_cloud, status, {200, 400, 404}, f"{method} {route}")
    run_case("viewer JSON bodies", case, ())
