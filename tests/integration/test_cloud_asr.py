"""Speech recognised in the cloud (``--asr cloud``): the edge's VAD finds the speech, only that audio goes up
as AudioChunks over loopback gRPC, the cloud's Whisper sends back the Utterance, and the edge routes it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.devices.audio import ArraySource
from eyeline.devices.profiles import RAYBAN_CLASS
from eyeline.devices.spec import open_device
from eyeline.edge.app import EdgeAppOptions, hello_for, run_edge
from eyeline.edge.display.render import OverlayRenderer
from eyeline.edge.messages import CloudErrorReport, HeardInCloud
from eyeline.edge.runtime import EdgeRuntime
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.wire import audio_messages, hello_message
from eyeline.edge.voice.asr import PACKAGED_MODEL, WhisperTranscriber
from eyeline.edge.voice.cloud_asr import CloudTranscriber
from eyeline.edge.voice.front_end import VoiceFrontEnd
from eyeline.edge.voice.intents import parse_intent
from eyeline.edge.voice.listen import ListenOptions
from eyeline.protos.clock import VirtualClock
from eyeline.protos.v1 import session_pb2 as pb
from tests.speech_helpers import spoken, spoken_wav

from .helpers import Session, hello

pytestmark = pytest.mark.slow


@pytest.fixture
async def asr_cloud(signer: TokenSigner, whisper: WhisperTranscriber) -> AsyncIterator[CloudServer]:
    """A cloud whose recogniser uses the Whisper base already joined for the run (not the user's cache)."""
    assert whisper.options.cache_dir is not None
    config = CloudConfig(port=0, warm_up=False, asr_model=str(whisper.options.cache_dir / PACKAGED_MODEL))
    server = CloudServer(config, signer)
    await server.start()
    yield server
    await server.stop(grace_s=0.5)


class CountingSender:
    """The uplink, with the AudioChunk payload bytes that went through it counted."""

    def __init__(self, uplink: GrpcUplink) -> None:
        self._uplink = uplink
        self.audio_bytes = 0
        self.chunks = 0

    async def send_message(self, message: pb.EdgeMessage) -> None:
        if message.WhichOneof("kind") == "audio":
            self.audio_bytes += len(message.audio.pcm_s16le)
            self.chunks += 1
        await self._uplink.send_message(message)


async def test_only_the_spoken_question_goes_up_and_the_cloud_transcript_is_answered(
        asr_cloud: CloudServer, signer: TokenSigner) -> None:
    # Long silences around the question: an edge that sent everything would send all of them too.
    audio = await spoken("Which of these has the most protein?", "en-us+m3", lead_s=3.0, tail_s=3.0)
    uplink = GrpcUplink(UplinkOptions(asr_cloud.address, connect_timeout_s=5))
    options = EdgeAppOptions(device="synthetic:shelf?seed=3", cloud=asr_cloud.address, token=signer.mint("weak"),
                             profile=RAYBAN_CLASS)
    await uplink.open(hello_for(options))
    sender = CountingSender(uplink)
    transcriber = CloudTranscriber(sender)
    runtime = EdgeRuntime(open_device(options.device, profile=RAYBAN_CLASS), uplink, renderer=OverlayRenderer(),
                          on_event=transcriber.deliver)
    running = asyncio.create_task(runtime.run())
    try:
        await asyncio.wait_for(runtime.wait_for_keyframe(), 20)
        voice = VoiceFrontEnd(ArraySource(audio, 16_000, clock=VirtualClock()), transcriber, runtime)
        await asyncio.wait_for(voice.run(), 120)
    finally:
        await runtime.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await uplink.aclose()

    (turn,) = voice.turns
    assert (turn.intent.kind, turn.intent.skill) == ("ask", "protein") and not turn.error
    assert "protein" in turn.heard.text.lower()
    frame = runtime.keyframe(runtime.overlays[f"answer-{turn.query_id}"].frame_seq)
    assert frame is not None and frame.truth.best_product().display_name.lower() in turn.answer.lower()
    whole_file_bytes = len(audio) * 2
    speech_bytes = (len(audio) - 6 * 16_000) * 2
    assert sender.audio_bytes == transcriber.stats.bytes_sent and sender.chunks > 1
    assert speech_bytes <= sender.audio_bytes < whole_file_bytes // 2


async def test_the_edge_app_with_asr_cloud_answers_a_spoken_question(
        asr_cloud: CloudServer, signer: TokenSigner, tmp_path: Path) -> None:
    question = await spoken_wav(tmp_path / "question.wav", "Which of these has the most protein?", "en-gb")
    listen = ListenOptions(str(question), speak_to=tmp_path / "spoken", asr="cloud",
                           whisper_model=str(tmp_path / "no-model-on-this-edge"))
    options = EdgeAppOptions(device="synthetic:shelf?seed=1", cloud=asr_cloud.address, token=signer.mint("weak"),
                             profile=RAYBAN_CLASS, video_path=tmp_path / "edge.mp4", linger_s=0.2, listen=listen)
    heard: list[HeardInCloud] = []
    report = await asyncio.wait_for(run_edge(options, on_event=lambda e: heard.append(e) if isinstance(
        e, HeardInCloud) else None), 120)
    (turn,) = report.voice_turns
    assert turn.intent.skill == "protein" and "has the most protein" in turn.answer
    assert [h.text for h in heard] == [turn.heard.text]


async def test_bad_audio_gets_a_typed_error_naming_the_utterance_and_the_session_goes_on(
        asr_cloud: CloudServer, signer: TokenSigner) -> None:
    uplink = GrpcUplink(UplinkOptions(asr_cloud.address, connect_timeout_s=5))
    await uplink.open(hello(signer.mint("bad-audio")))
    session = Session(uplink)
    try:
        await uplink.send_message(pb.EdgeMessage(audio=pb.AudioChunk(
            utterance_id="u1", seq=4, sample_rate=16_000, channels=1, pcm_s16le=b"\0\0\0", last=True)))
        error = await session.next(CloudErrorReport)
        assert isinstance(error, CloudErrorReport) and error.code == "malformed_message"
        assert error.query_id == "u1" and "AudioChunk 4" in error.message and "3 bytes" in error.message
        # Silence transcribes to nothing, and still answers: the session went on.
        for message in audio_messages("u2", b"\0\0" * 8000, 0, 16_000, 6400):
            await uplink.send_message(message)
        utterance = await session.next(HeardInCloud, within_s=60)
        assert isinstance(utterance, HeardInCloud) and utterance.utterance_id == "u2"
    finally:
        await session.close()


@pytest.fixture
async def asr_http(asr_cloud: CloudServer) -> AsyncIterator[HttpServer]:
    server = HttpServer(asr_cloud.cloud)
    await server.start()
    yield server
    await server.stop()


async def _whip(http: HttpServer, pc: RTCPeerConnection, token: str) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as client, client.post(
            f"{http.url}/whip", data=pc.localDescription.sdp,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}) as response:
        assert response.status == 201, await response.text()
        answer = await response.text()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


async def test_speech_in_a_webrtc_audio_track_is_transcribed_for_the_session(
        asr_http: HttpServer, signer: TokenSigner, tmp_path: Path) -> None:
    question = await spoken_wav(tmp_path / "question.wav", "How do I descale this?", "en-us")
    token = signer.mint("browser")
    pc = RTCPeerConnection()
    player = MediaPlayer(str(question))    # plays the wav as an audio track, in real time (48 kHz stereo)
    assert player.audio is not None
    pc.addTrack(player.audio)
    channel = pc.createDataChannel("eyeline", ordered=True)
    heard: asyncio.Queue[pb.Utterance] = asyncio.Queue()

    def on_message(raw: bytes) -> None:
        message = pb.CloudMessage.FromString(raw)
        if message.WhichOneof("kind") == "utterance":
            heard.put_nowait(message.utterance)

    channel.on("message", on_message)
    channel.on("open", lambda: channel.send(hello_message(hello(token)).SerializeToString()))
    try:
        await _whip(asr_http, pc, token)
        utterance = await asyncio.wait_for(heard.get(), 60)
    finally:
        await pc.close()
    assert utterance.utterance_id.startswith("track-")
    assert parse_intent(utterance.text).skill == "repair" and "descale" in utterance.text.lower()
    assert 0 < utterance.end_ns - utterance.start_ns < 3_000_000_000


async def test_a_cloud_that_does_not_transcribe_says_so_for_the_utterance(
        cloud: CloudServer, signer: TokenSigner) -> None:
    cloud.dispatcher.speech = None
    uplink = GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5))
    await uplink.open(hello(signer.mint("no-asr")))
    session = Session(uplink)
    try:
        for message in audio_messages("u1", b"\0\0" * 4000, 0, 16_000, 6400):
            await uplink.send_message(message)
        error = await session.next(CloudErrorReport)
        assert isinstance(error, CloudErrorReport) and (error.code, error.query_id) == ("unsupported", "u1")
    finally:
        await session.close()
