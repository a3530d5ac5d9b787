"""A question the wearer speaks into the phone: its audio goes to the cloud, the cloud's transcript comes back, and
a question or command in it is asked like a phone Query named by the utterance id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.audio import SPEECH_RATE
from eyeline.devices.push import PushedFrameSource
from eyeline.edge.daemon.ingest import IngestOptions, PhoneIngest
from eyeline.edge.daemon.service import EdgeDaemon
from eyeline.edge.messages import Answer, HeardInCloud
from eyeline.edge.transport.wire import audio_messages
from eyeline.edge.voice.asr import PACKAGED_MODEL, WhisperTranscriber
from eyeline.protos.clock import MonotonicClock
from eyeline.protos.v1 import session_pb2 as pb
from tests.speech_helpers import spoken

from .test_push_ingest import PHONE_TOKEN, QUESTION, FakeHost, RawPhone, ingest_config, running, shelf_jpeg


@pytest.fixture
async def phone_ingest() -> AsyncIterator[tuple[PhoneIngest, FakeHost]]:
    host = FakeHost()
    ingest = PhoneIngest(IngestOptions("127.0.0.1:0", PHONE_TOKEN), PushedFrameSource(MonotonicClock()), host)
    await ingest.start()
    yield ingest, host
    await ingest.aclose()


def heard(utterance_id: str, text: str) -> HeardInCloud:
    return HeardInCloud(utterance_id, text, 0, 1, 0.9, "en")


async def open_phone(ingest: PhoneIngest) -> RawPhone:
    phone = RawPhone(f"127.0.0.1:{ingest.port}")
    await phone.send(pb.EdgeMessage(hello=pb.Hello(token=PHONE_TOKEN)))
    await phone.next("welcome")
    return phone


async def speak(phone: RawPhone, utterance_id: str, pcm: bytes = b"\0\0") -> None:
    for message in audio_messages(utterance_id, pcm, 0, SPEECH_RATE, 6400):
        await phone.send(message)


async def test_a_transcribed_question_from_the_phone_is_asked_and_answered_under_its_utterance_id(
        phone_ingest: tuple[PhoneIngest, FakeHost]) -> None:
    ingest, host = phone_ingest
    phone = await open_phone(ingest)
    try:
        await speak(phone, "u1")
        await speak(phone, "u2")
        await speak(phone, "u3")
        await _settle(lambda: len(host.forwarded) == 3)
        ingest.relay(heard("u1", "Which of these has the most protein?"))
        assert (await phone.next("utterance")).utterance.utterance_id == "u1"  # the transcript itself still goes back
        await _settle(lambda: len(host.asked) == 1)
        assert host.asked == [("Which of these has the most protein?", "")]
        ingest.relay(Answer("q1", "the second one", 0, "t", "instant", True))
        answer = (await phone.next("answer")).answer
        assert (answer.query_id, answer.text, answer.final) == ("u1", "the second one", True)
        ingest.relay(heard("u2", "think harder"))            # the last question again, deeper
        ingest.relay(heard("u3", "nice weather today"))      # talk around the wearer: nothing asked
        ingest.relay(heard("u9", "what does this say?"))     # audio the phone never sent: not its question
        await _settle(lambda: len(host.asked) == 2)
        await asyncio.sleep(0.2)
        assert host.asked[1] == ("Which of these has the most protein?", "thinking") and len(host.asked) == 2
        assert ingest.stats.spoken_queries == 2
    finally:
        await phone.close()


async def _settle(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    for _ in range(int(within_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time allowed")


@pytest.fixture
async def asr_cloud(signer: TokenSigner, whisper: WhisperTranscriber) -> AsyncIterator[CloudServer]:
    """A cloud with the Whisper base already joined for the run as its recogniser."""
    assert whisper.options.cache_dir is not None
    config = CloudConfig(port=0, warm_up=False, asr_model=str(whisper.options.cache_dir / PACKAGED_MODEL))
    server = CloudServer(config, signer)
    await server.start()
    yield server
    await server.stop(grace_s=0.5)


@pytest.mark.slow
async def test_a_question_spoken_into_the_phone_is_transcribed_by_the_cloud_and_answered(
        asr_cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    speech = await spoken(QUESTION, "en-us+m3")
    pcm = (np.clip(speech, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    daemon = EdgeDaemon(replace(ingest_config(asr_cloud.address, tmp_path), metrics_port=-1), signer.mint("glasses"))
    async with running(daemon) as address:
        phone = RawPhone(address)
        try:
            await phone.send(pb.EdgeMessage(hello=pb.Hello(token=PHONE_TOKEN)))
            await phone.next("welcome")
            await phone.send(pb.EdgeMessage(frame=pb.Frame(seq=5, data=shelf_jpeg())))
            await speak(phone, "spoken-1", pcm)
            utterance = (await phone.next("utterance")).utterance
            assert utterance.utterance_id == "spoken-1" and "protein" in utterance.text.lower()
            async with asyncio.timeout(90):
                while True:
                    reply = await phone.call.read()
                    if reply.WhichOneof("kind") == "answer" and reply.answer.final:
                        break
        finally:
            await phone.close()
    assert reply.answer.query_id == "spoken-1"
    assert "protein" in reply.answer.text.lower()
    assert daemon.ingest is not None and daemon.ingest.stats.spoken_queries == 1
