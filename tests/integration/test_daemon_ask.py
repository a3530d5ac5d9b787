"""The daemon takes questions: ``POST /ask`` on its control port (token-checked like /pause) and ``[voice]``, with a
real daemon streaming a synthetic shelf to a real cloud on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.synthetic import make_shelf_scene
from eyeline.edge.daemon.config import ConfigError, DaemonConfig, parse_config
from eyeline.edge.daemon.service import EdgeDaemon
from eyeline.edge.voice.asr import PACKAGED_MODEL, WhisperTranscriber

from ..speech_helpers import spoken_wav

QUESTION = "which of these has the most protein?"


def best_product(seed: int) -> str:
    return max(make_shelf_scene(seed).products, key=lambda product: product.protein_g).name.lower()


async def until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    for _ in range(int(within_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within_s} s: {what}")


async def post(port: int, path: str, body: bytes, **headers: str) -> tuple[int, bytes]:
    """POST with exactly ``headers`` (and Host unless given), as curl or another page would send it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    headers = {"Host": f"127.0.0.1:{port}", **headers}
    lines = [f"POST {path} HTTP/1.1", f"Content-Length: {len(body)}", "Content-Type: application/json",
             "Connection: close", *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 180)
    writer.close()
    head, _, content = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), content


def config(address: str, tmp_path: Path, **more: object) -> DaemonConfig:
    return DaemonConfig(device="synthetic:shelf?seed=1&fps=10", cloud=address, profile="webcam",
                        connect_timeout_s=2.0, metrics_port=0, redact_faces=False,
                        control_token_file=tmp_path / "control-token", **more)  # type: ignore[arg-type]


@pytest.fixture
async def running() -> AsyncIterator[Callable[[EdgeDaemon], Awaitable[None]]]:
    started: list[tuple[EdgeDaemon, asyncio.Task[None]]] = []

    async def start(daemon: EdgeDaemon) -> None:
        started.append((daemon, asyncio.create_task(daemon.run())))
        await until(lambda: daemon.metrics_port != 0, 20, "the control port")

    yield start
    for daemon, task in started:
        daemon.stop()
        await asyncio.wait_for(task, 30)


@pytest.mark.slow
async def test_post_ask_answers_about_what_is_in_view_for_the_control_token_only(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path,
        running: Callable[[EdgeDaemon], Awaitable[None]]) -> None:
    daemon = EdgeDaemon(config(cloud.address, tmp_path), signer.mint("glasses"))
    await running(daemon)
    await until(lambda: (runtime := daemon.sessions.runtime) is not None and runtime.stats.keyframes_sent >= 1, 30,
                "a keyframe sent")
    port, question = daemon.metrics_port, json.dumps({"text": QUESTION}).encode()
    token = (tmp_path / "control-token").read_text().strip()
    bearer = f"Bearer {token}"

    assert (await post(port, "/ask", question))[0] == 401
    assert (await post(port, "/ask", question, Authorization="Bearer wrong"))[0] == 401
    assert (await post(port, "/ask", question, Authorization=bearer, Origin="http://evil.example"))[0] == 403
    assert (await post(port, "/ask", question, Authorization=bearer, Host="evil.example"))[0] == 403
    for bad in (b"not json", b'{"text": ""}', b'{"text": "hi", "mode": "deep"}', b'["hi"]',
                b'{"text": "hi", "timeout_s": 0}'):
        status, reason = await post(port, "/ask", bad, Authorization=bearer)
        assert status == 400, (bad, reason)
    assert (await post(port, "/ask", b'{"text": "' + b"x" * 20_000 + b'"}', Authorization=bearer))[0] == 413

    status, body = await post(port, "/ask", question, Authorization=bearer)
    assert status == 200, body
    answer = json.loads(body)
    assert best_product(1) in answer["answer"].lower() and answer["final"] is True
    assert answer["query_id"].startswith("d")
    assert (await post(port, "/talk", b'{"pressed": true}', Authorization=bearer))[0] == 409   # no push-to-talk


async def test_post_ask_without_a_cloud_session_is_503_and_nothing_is_sent(
        tmp_path: Path, running: Callable[[EdgeDaemon], Awaitable[None]]) -> None:
    daemon = EdgeDaemon(config("127.0.0.1:9", tmp_path), "token")
    await running(daemon)
    token = (tmp_path / "control-token").read_text().strip()
    status, reason = await post(daemon.metrics_port, "/ask", json.dumps({"text": QUESTION}).encode(),
                                Authorization=f"Bearer {token}")
    assert status == 503 and b"no cloud session is up" in reason


def test_the_voice_section_parses_and_push_to_talk_needs_audio(tmp_path: Path) -> None:
    base = {"device": {"spec": "webcam:0"}, "cloud": {"address": "cloud:50051"}}
    parsed = parse_config({**base, "voice": {"audio": "mic", "push_to_talk": True, "speak_to": "answers"}},
                          base=tmp_path)
    assert (parsed.voice_audio, parsed.voice_push_to_talk, parsed.voice_speak_to) == ("mic", True, tmp_path / "answers")
    with pytest.raises(ConfigError, match=r"voice\.push_to_talk needs voice\.audio"):
        parse_config({**base, "voice": {"push_to_talk": True}})
    with pytest.raises(ConfigError, match=r"unknown key voice\.wake_word"):
        parse_config({**base, "voice": {"wake_word": "glasses"}})


@pytest.mark.slow
async def test_a_spoken_question_to_the_daemon_is_answered(
        cloud: CloudServer, signer: TokenSigner, whisper: WhisperTranscriber, tmp_path: Path,
        running: Callable[[EdgeDaemon], Awaitable[None]]) -> None:
    assert whisper.options.cache_dir is not None
    audio = await spoken_wav(tmp_path / "question.wav", QUESTION)
    await asyncio.sleep(0)
    daemon = EdgeDaemon(config(cloud.address, tmp_path, voice_audio=str(audio), voice_speak_to=tmp_path / "said",
                               voice_whisper_model=str(whisper.options.cache_dir / PACKAGED_MODEL)),
                        signer.mint("glasses"))
    await running(daemon)
    voice = daemon.voice
    assert voice is not None
    await until(lambda: bool(voice.turns), 150, "a voice turn")
    (turn,) = voice.turns
    assert turn.intent.kind == "ask" and not turn.error, turn
    assert best_product(1) in turn.answer.lower()


async def test_push_to_talk_is_pressed_and_released_over_post_talk_with_the_token(
        cloud: CloudServer, signer: TokenSigner, tmp_path: Path,
        running: Callable[[EdgeDaemon], Awaitable[None]]) -> None:
    import numpy as np
    import soundfile

    silence = tmp_path / "silence.wav"
    await asyncio.to_thread(soundfile.write, str(silence), np.zeros(16_000 * 30, np.float32), 16_000)
    daemon = EdgeDaemon(config(cloud.address, tmp_path, voice_audio=str(silence), voice_push_to_talk=True),
                        signer.mint("glasses"))
    await running(daemon)
    voice = daemon.voice
    assert voice is not None
    await until(lambda: voice.gate is not None, 30, "the voice front end")
    gate, port = voice.gate, daemon.metrics_port
    assert gate is not None
    bearer = f"Bearer {(tmp_path / 'control-token').read_text().strip()}"
    assert (await post(port, "/talk", b'{"pressed": true}'))[0] == 401
    assert (await post(port, "/talk", b'{"pressed": true}', Authorization=bearer, Origin="https://evil.example"))[0] \
        == 403
    assert not gate.is_open(daemon_now())
    assert (await post(port, "/talk", b'{"pressed": "yes"}', Authorization=bearer))[0] == 400
    assert (await post(port, "/talk", b'{"pressed": true}', Authorization=bearer))[0] == 200
    assert gate.is_open(daemon_now())
    assert (await post(port, "/talk", b'{"pressed": false}', Authorization=bearer))[0] == 200
    assert not gate.is_open(daemon_now() + 1)


def daemon_now() -> int:
    from eyeline.protos.clock import MonotonicClock

    return MonotonicClock().now_ns()
