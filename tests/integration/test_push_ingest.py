"""Phone push-ingest end to end: the reference phone client, the edge daemon's ingest service, a real cloud."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import aiohttp
import cv2
import grpc
import numpy as np
import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.push import PushedFrameRef, PushedFrameSource
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge import overlays as ov
from eyeline.edge.daemon.config import ConfigError, DaemonConfig, parse_config
from eyeline.edge.daemon.ingest import SERVICE_NAME, IngestError, IngestOptions, PhoneIngest
from eyeline.edge.daemon.power import PowerState
from eyeline.edge.daemon.reconnect import BackoffSettings
from eyeline.edge.daemon.service import EdgeDaemon
from eyeline.edge.messages import Answer, CloudErrorReport, OverlayArrival
from eyeline.protos.clock import MonotonicClock, VirtualClock
from eyeline.protos.v1 import session_pb2 as pb
from eyeline.tools.phone_client import (
    QUERY_ID,
    PhoneClientError,
    PhoneOptions,
    PhoneStatus,
    jpeg_bytes,
    run_phone,
)

from .conftest import OpenSession
from .test_daemon import until

PHONE_TOKEN = "phone-ingest-token-0123456789"
QUESTION = "which of these has the most protein?"


def shelf_jpeg(seed: int = 0) -> bytes:
    image, _ = render_shelf_frame(make_shelf_scene(seed), 0.0)
    return jpeg_bytes(np.ascontiguousarray(image))


def ingest_config(cloud: str, tmp_path: Path, **changes: object) -> DaemonConfig:
    token_file = tmp_path / "phone-token"
    token_file.write_text(PHONE_TOKEN + "\n")
    config = DaemonConfig(device="push:phone", cloud=cloud, profile="rayban-class", connect_timeout_s=2.0,
                          metrics_port=0, redact_faces=False, reconnect=BackoffSettings(0.2, 1.0, 2.0, 0.1),
                          max_keyframes_per_s=4.0, ingest_listen="127.0.0.1:0", ingest_token_file=token_file)
    return replace(config, **changes)  # type: ignore[arg-type]


@asynccontextmanager
async def running(daemon: EdgeDaemon) -> AsyncIterator[str]:
    """The daemon running and connected to its cloud; yields the ingest address."""
    task = asyncio.create_task(daemon.run())
    try:
        await until(lambda: daemon.metrics.connected and daemon.ingest is not None and daemon.ingest.port > 0,
                    20, "the daemon connects and listens for phones")
        assert daemon.ingest is not None
        yield f"127.0.0.1:{daemon.ingest.port}"
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 20)


async def scrape(port: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


@pytest.fixture
async def noop_cloud(signer: TokenSigner) -> AsyncIterator[CloudServer]:
    """A cloud that answers every keyframe with an (empty) overlay, besides answering questions."""
    server = CloudServer(CloudConfig(port=0, warm_up=False, frame_skill="noop"), signer)
    await server.start()
    yield server
    await server.stop(grace_s=0.5)


@pytest.mark.slow
async def test_the_phone_gets_overlays_and_the_answer_for_frames_it_pushed(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    daemon = EdgeDaemon(ingest_config(cloud.address, tmp_path), signer.mint("glasses"))
    async with running(daemon) as ingest:
        options = PhoneOptions(ingest, PHONE_TOKEN, question=QUESTION, fps=5.0, ask_after_s=0.6, timeout_s=90,
                               first_seq=1000)
        report = await run_phone(options, itertools.repeat(shelf_jpeg()))
        await until(lambda: daemon.ingest is not None and daemon.ingest.stats.frames_pushed == len(report.pushed),
                    5, "every pushed frame reached the edge")
        metrics = await scrape(daemon.metrics_port)
    answer = report.answer
    assert answer is not None and answer["query_id"] == QUERY_ID
    assert "protein" in str(answer["text"]).lower()
    assert answer["frame_seq"] in report.pushed
    overlays = [o for o in report.of_type("overlay") if o["query_id"] == QUERY_ID]
    assert overlays, report.events
    for overlay in overlays:
        assert overlay["frame_seq"] in report.pushed  # the phone's own sequence numbers, not the edge's
        items = overlay["items"]
        assert isinstance(items, list) and items
    kinds = {item["kind"] for o in overlays for item in o["items"]}  # type: ignore[attr-defined]
    assert "badge" in kinds
    assert metrics["eyeline_edge_phone_frames_pushed_total"] == len(report.pushed)
    assert metrics["eyeline_edge_phone_frames_rejected_total"] == 0
    assert metrics["eyeline_edge_phone_messages_relayed_total"] >= len(overlays) + 1
    assert metrics["eyeline_edge_frames_captured_total"] >= 1


async def test_a_wrong_ingest_token_is_refused(noop_cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    daemon = EdgeDaemon(ingest_config(noop_cloud.address, tmp_path), signer.mint("glasses"))
    async with running(daemon) as ingest:
        for token in ("not-the-phone-token", signer.mint("a cloud token is not the ingest token")):
            with pytest.raises(PhoneClientError, match="wrong ingest token") as refused:
                await run_phone(PhoneOptions(ingest, token, duration_s=0.2), itertools.repeat(shelf_jpeg()))
            assert refused.value.status == "UNAUTHENTICATED"
        assert daemon.ingest is not None and daemon.ingest.stats.frames_pushed == 0


def _frames_with_bad_ones(good: bytes) -> Iterator[bytes]:
    truncated = good[: len(good) // 2]
    yield truncated
    yield b"definitely not an image"
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 3: len(corrupt) // 3 + 4096] = bytes(4096)  # scan data wiped, header intact
    yield bytes(corrupt)
    huge = cv2.imencode(".png", np.zeros((3000, 3000, 3), np.uint8))[1].tobytes()  # small file, too many pixels
    yield huge
    yield from itertools.repeat(good)


async def test_corrupt_and_oversized_frames_get_typed_errors_and_lose_nothing_else(
        noop_cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    daemon = EdgeDaemon(ingest_config(noop_cloud.address, tmp_path), signer.mint("glasses"))
    async with running(daemon) as ingest:
        report = await run_phone(PhoneOptions(ingest, PHONE_TOKEN, duration_s=2.5, fps=8.0, first_seq=1),
                                 _frames_with_bad_ones(shelf_jpeg()))
        await until(lambda: daemon.ingest is not None and daemon.ingest.stats.frames_pushed >= len(report.pushed) - 4,
                    5, "the good frames reached the edge")
        metrics = await scrape(daemon.metrics_port)
    errors = {e["frame_seq"]: e["code"] for e in report.of_type("error")}
    assert errors[1] == "undecodable_image"
    assert errors[2] == "undecodable_image"
    assert errors[4] == "frame_too_large"
    bad = {1, 2, 4} | ({3} if 3 in errors else set())  # libjpeg may repair a wiped scan rather than refuse it
    assert bad == set(errors)
    overlays = report.of_type("overlay")
    assert overlays, "the good frames after the bad ones still get their overlays"
    assert {o["frame_seq"] for o in overlays} <= set(report.pushed) - bad
    assert metrics["eyeline_edge_phone_frames_rejected_total"] == len(bad)
    assert metrics["eyeline_edge_phone_frames_pushed_total"] == len(report.pushed) - len(bad)


@pytest.mark.slow
async def test_a_critical_battery_report_lowers_the_frame_rate_and_the_mode(
        noop_cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    daemon = EdgeDaemon(ingest_config(noop_cloud.address, tmp_path), signer.mint("glasses"))
    async with running(daemon) as ingest:
        options = PhoneOptions(ingest, PHONE_TOKEN, question=QUESTION, mode="thinking", fps=10.0, ask_after_s=1.5,
                               timeout_s=90, status=PhoneStatus(battery_percent=3.0, charging=False))
        sent_before = (await scrape(daemon.metrics_port))["eyeline_edge_frames_sent_total"]
        started = asyncio.get_running_loop().time()
        report = await run_phone(options, itertools.repeat(shelf_jpeg()))
        elapsed = asyncio.get_running_loop().time() - started
        metrics = await scrape(daemon.metrics_port)
    advice = report.of_type("flow")
    assert advice and advice[0]["max_keyframes_per_s"] == 1.0  # the phone is told to push less
    answer = report.answer
    assert answer is not None and answer["mode"] == "instant"  # asked to think; the battery says instant
    assert metrics['eyeline_edge_power_level{level="critical"}'] == 1
    assert metrics["eyeline_edge_power_max_fps"] == 1
    assert metrics["eyeline_edge_frames_throttled_total"] > 0
    # 10 frames a second pushed, at most one a second sent (plus the one at the start of the window).
    assert metrics["eyeline_edge_frames_sent_total"] - sent_before <= elapsed * 1.0 + 1
    assert len(report.pushed) > 2 * (elapsed * 1.0 + 1)


async def test_the_cloud_ignores_a_device_status_sent_to_it(connect: OpenSession) -> None:
    session = await connect()
    await session.uplink.send_message(pb.EdgeMessage(device_status=pb.DeviceStatus(battery_percent=10.0)))
    await session.uplink.send_message(pb.EdgeMessage(query=pb.Query(query_id="q1", text=QUESTION)))
    report = await session.next(CloudErrorReport, within_s=10)
    # The status earns nothing, not even an error; the next message is answered as usual (no frame yet).
    assert (report.code, report.query_id) == ("no_frame", "q1")


# ------------------------------------------------------------------ the ingest service against a fake daemon


class FakeHost:
    """The daemon's side, recorded: questions get ids q1, q2... while ``online``."""

    def __init__(self) -> None:
        self.paused = False
        self.online = True
        self.asked: list[tuple[str, str]] = []
        self.forwarded: list[pb.EdgeMessage] = []
        self.reports: list[PowerState] = []

    async def ask(self, text: str, mode: str) -> str | None:
        self.asked.append((text, mode))
        return f"q{len(self.asked)}" if self.online else None

    async def forward(self, message: pb.EdgeMessage) -> bool:
        self.forwarded.append(message)
        return self.online

    def report_power(self, state: PowerState) -> None:
        self.reports.append(state)


class RawPhone:
    """The contract spoken byte for byte, so a test can send what no well-behaved client would."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        connect = self.channel.stream_stream(f"/{SERVICE_NAME}/Connect", request_serializer=lambda raw: raw,
                                             response_deserializer=pb.CloudMessage.FromString)
        self.call = connect(metadata=(("authorization", f"Bearer {PHONE_TOKEN}"),))

    async def send(self, message: pb.EdgeMessage | bytes) -> None:
        await self.call.write(message if isinstance(message, bytes) else message.SerializeToString())

    async def next(self, kind: str) -> pb.CloudMessage:
        async with asyncio.timeout(10):
            while True:
                message = await self.call.read()
                assert message is not grpc.aio.EOF, f"the stream ended before a {kind}"
                if message.WhichOneof("kind") == kind:
                    return message

    async def close(self) -> None:
        self.call.cancel()
        await self.channel.close()


@pytest.fixture
async def fake_ingest() -> AsyncIterator[tuple[PhoneIngest, FakeHost]]:
    host = FakeHost()
    ingest = PhoneIngest(IngestOptions("127.0.0.1:0", PHONE_TOKEN), PushedFrameSource(MonotonicClock()), host)
    await ingest.start()
    yield ingest, host
    await ingest.aclose()


def _overlay(frame_seq: int, query_id: str) -> OverlayArrival:
    badge = ov.Item("b1", ov.BadgeShape((0.5, 0.5), "1"))
    return OverlayArrival(ov.Overlay(f"answer-{query_id}", query_id, frame_seq, "t", 0, (badge,), True))


async def test_the_ingest_maps_frames_and_questions_to_the_phones_own_terms(
        fake_ingest: tuple[PhoneIngest, FakeHost]) -> None:
    ingest, host = fake_ingest
    phone = RawPhone(f"127.0.0.1:{ingest.port}")
    try:
        await phone.send(pb.EdgeMessage(hello=pb.Hello(token=PHONE_TOKEN, mode=pb.MODE_THINKING)))
        await phone.next("welcome")
        await phone.send(pb.EdgeMessage(frame=pb.Frame(seq=70, data=shelf_jpeg(), hops=pb.HopTimes(capture_ns=5))))
        await phone.send(pb.EdgeMessage(query=pb.Query(query_id="mine", text=QUESTION)))
        await phone.send(pb.EdgeMessage(audio=pb.AudioChunk(utterance_id="u1", pcm_s16le=b"\0\0", last=True)))
        await phone.send(pb.EdgeMessage(device_status=pb.DeviceStatus(battery_percent=9.0, charging=True)))
        await phone.send(b"\xff\xfe not a message")
        malformed = await phone.next("error")
        assert malformed.error.code == pb.ERROR_CODE_MALFORMED_MESSAGE
        await until(lambda: bool(host.asked and host.forwarded and host.reports), 5, "the host hears it all")
        assert host.asked == [(QUESTION, "thinking")]  # an unspecified mode is the phone's Hello mode
        assert host.forwarded[0].audio.utterance_id == "u1"
        assert host.reports == [PowerState(9.0, True, "unknown")]
        edge_seq = (await anext(aiter(ingest.source))).seq  # the daemon takes the pushed frame
        assert ingest.source.origin(edge_seq) == PushedFrameRef(1, 70, 5)
        ingest.relay(_overlay(edge_seq, "q2"))  # another asker's question: not the phone's business
        ingest.relay(_overlay(edge_seq + 5, ""))  # a frame the phone never pushed
        ingest.relay(_overlay(edge_seq, "q1"))
        overlay = (await phone.next("overlay")).overlay
        assert (overlay.frame_seq, overlay.query_id, overlay.hops.capture_ns) == (70, "mine", 5)
        assert overlay.items[0].badge.text == "1"
        ingest.relay(Answer("q1", "the second one", edge_seq, "t", "thinking", True))
        answer = (await phone.next("answer")).answer
        assert (answer.query_id, answer.frame_seq, answer.text) == ("mine", 70, "the second one")
        assert ingest.stats.relayed == 2
    finally:
        await phone.close()


async def test_the_ingest_says_when_no_cloud_session_is_up_and_a_new_phone_replaces_the_old(
        fake_ingest: tuple[PhoneIngest, FakeHost]) -> None:
    ingest, host = fake_ingest
    host.online = False
    first, second = RawPhone(f"127.0.0.1:{ingest.port}"), RawPhone(f"127.0.0.1:{ingest.port}")
    try:
        await first.send(pb.EdgeMessage(hello=pb.Hello(token=PHONE_TOKEN)))
        await first.next("welcome")
        await first.send(pb.EdgeMessage(query=pb.Query(query_id="a", text=QUESTION)))
        error = (await first.next("error")).error
        assert (error.code, error.query_id, error.retryable) == (pb.ERROR_CODE_UNAVAILABLE, "a", True)
        await second.send(pb.EdgeMessage(hello=pb.Hello(token=PHONE_TOKEN)))
        await second.next("welcome")
        replaced = (await first.next("error")).error
        assert "replaced" in replaced.message
        assert await first.call.read() is grpc.aio.EOF
        ingest.source.push(np.zeros((4, 4, 3), np.uint8), PushedFrameRef(1, 9, 0))  # a frame of the old stream
        ingest.relay(_overlay((await anext(aiter(ingest.source))).seq, ""))
        ingest.relay(CloudErrorReport("internal", "boom", True))  # about nothing in particular: relayed
        assert (await second.next("error")).error.message == "boom"
        assert ingest.stats.relayed == 1
    finally:
        await first.close()
        await second.close()


def test_ingest_configuration_keys_and_their_errors(tmp_path: Path) -> None:
    base = {"device": {"spec": "push:phone"}, "cloud": {"address": "127.0.0.1:1"}}
    config = parse_config({**base, "ingest": {"listen": "0.0.0.0:50061", "token_file": "phone-token"}},
                          base=tmp_path)
    assert (config.ingest_listen, config.ingest_token_file) == ("0.0.0.0:50061", tmp_path / "phone-token")
    problems = [({"listen": "nowhere"}, r"ingest\.listen must be HOST:PORT"),
                ({"listen": "127.0.0.1:50061"}, r"ingest\.token_file is required"),
                ({}, r"device\.spec 'push:phone' takes pushed frames: set ingest\.listen"),
                ({"listen": "127.0.0.1:1", "token_file": "t", "max_frame_bytes": 0}, r"ingest\.max_frame_bytes"),
                ({"listen": "127.0.0.1:1", "token_file": "t", "tls_cert": "c.pem"}, r"tls_cert and tls_key go")]
    for table, problem in problems:
        with pytest.raises(ConfigError, match=problem):
            parse_config({**base, "ingest": table} if table else base)


async def test_an_unreadable_ingest_token_stops_the_daemon_with_a_clear_error(tmp_path: Path) -> None:
    config = replace(ingest_config("127.0.0.1:1", tmp_path), ingest_token_file=tmp_path / "absent")
    with pytest.raises(IngestError, match=r"ingest\.token_file .*absent: cannot read"):
        await asyncio.wait_for(EdgeDaemon(config, "token").run(), 10)


async def test_the_phone_command_prints_json_lines(fake_ingest: tuple[PhoneIngest, FakeHost], tmp_path: Path) -> None:
    ingest, host = fake_ingest
    picture, token = tmp_path / "shelf.png", tmp_path / "phone-token"
    cv2.imwrite(str(picture), np.ascontiguousarray(render_shelf_frame(make_shelf_scene(1), 0.0, 320, 180)[0]))
    token.write_text(PHONE_TOKEN)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eyeline.tools.phone_client", "--edge", f"127.0.0.1:{ingest.port}",
        "--token-file", str(token), "--image", str(picture), "--duration", "0.6", "--fps", "10",
        "--battery", "4", "--thermal", "fair", "--json", stdout=asyncio.subprocess.PIPE)
    stdout, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    assert lines[0]["type"] == "welcome" and lines[0]["session_id"].startswith("phone-")
    assert host.reports == [PowerState(4.0, False, "fair")]
    assert ingest.stats.frames_pushed >= 3


async def test_the_pushed_frame_source_is_latest_wins_with_contiguous_seqs() -> None:
    source = PushedFrameSource(VirtualClock(1_000), remembered=2)
    frames = aiter(source)
    image = np.zeros((2, 2, 3), np.uint8)
    for phone_seq in (10, 11, 12):
        source.push(image, PushedFrameRef(1, phone_seq, phone_seq * 100))
    first = await anext(frames)
    source.push(image, PushedFrameRef(1, 13, 1300))
    second = await anext(frames)
    assert (first.seq, second.seq) == (0, 1)   # the superseded frames cost no sequence numbers
    assert first.capture_ns == 1_000            # the edge's clock at arrival, not the phone's
    assert (source.origin(0), source.origin(1)) == (PushedFrameRef(1, 12, 1200), PushedFrameRef(1, 13, 1300))
    assert (source.pushed, source.dropped) == (4, 2)
    source.renumber(1, 41)                      # a consumer that numbers frames itself
    assert (source.origin(41), source.origin(1)) == (PushedFrameRef(1, 13, 1300), None)
    source.push(image, PushedFrameRef(1, 14, 0))
    await anext(frames)
    assert source.origin(0) is None             # only the last `remembered` are kept
    assert source.origin(41) is not None
    waiting = asyncio.ensure_future(anext(frames))
    await asyncio.sleep(0.01)
    await source.aclose()
    with pytest.raises(StopAsyncIteration):
        await waiting


async def test_a_phone_on_a_tls_ingest_port_is_served_and_a_plaintext_one_is_not(
        noop_cloud: CloudServer, signer: TokenSigner, tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    config = ingest_config(noop_cloud.address, tmp_path, ingest_tls_cert=cert, ingest_tls_key=key)
    daemon = EdgeDaemon(config, signer.mint("glasses"))
    async with running(daemon) as ingest:
        report = await run_phone(PhoneOptions(ingest, PHONE_TOKEN, duration_s=0.5, tls_ca=cert,
                                              connect_timeout_s=5), itertools.repeat(shelf_jpeg()))
        assert report.pushed
        with pytest.raises(PhoneClientError, match="cannot reach"):
            await run_phone(PhoneOptions(ingest, PHONE_TOKEN, duration_s=0.2, connect_timeout_s=1),
                            itertools.repeat(shelf_jpeg()))
    assert daemon.ingest is not None and daemon.ingest.stats.frames_pushed >= len(report.pushed) >= 1


async def test_an_unreadable_ingest_certificate_is_a_clear_error(tmp_path: Path,
                                                                 certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate
    options = IngestOptions("127.0.0.1:0", PHONE_TOKEN, tls_cert=cert, tls_key=tmp_path / "absent.pem")
    ingest = PhoneIngest(options, PushedFrameSource(MonotonicClock()), FakeHost())
    with pytest.raises(IngestError, match=r"absent\.pem"):
        await ingest.start()
    await ingest.aclose()
