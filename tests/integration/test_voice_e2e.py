"""Voice end to end: a spoken question in an audio file, heard on the edge (Silero VAD + Whisper), asked of
a real cloud over loopback gRPC about the synthetic shelf in view, and the answer spoken back into a wav."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.audio import AudioFileSource, MicrophoneSource, read_audio_file
from eyeline.devices.profiles import RAYBAN_CLASS
from eyeline.devices.spec import open_device
from eyeline.edge.app import EdgeAppOptions, hello_for, run_edge
from eyeline.edge.display.render import OverlayRenderer
from eyeline.edge.runtime import EdgeRuntime
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.voice.asr import PACKAGED_MODEL, WhisperTranscriber
from eyeline.edge.voice.front_end import VoiceFrontEnd
from eyeline.edge.voice.intents import parse_intent
from eyeline.edge.voice.listen import ListenOptions, open_audio
from eyeline.edge.voice.speech import EspeakSynthesizer, WavRecorder
from eyeline.protos.clock import VirtualClock
from tests.speech_helpers import spoken_wav

pytestmark = pytest.mark.slow


async def test_a_spoken_question_about_the_shelf_is_answered_aloud(
        cloud: CloudServer, signer: TokenSigner, whisper: WhisperTranscriber, tmp_path: Path) -> None:
    question = await spoken_wav(tmp_path / "question.wav", "Which of these has the most protein?", "en-us+f3")
    options = EdgeAppOptions(device="synthetic:shelf?seed=3", cloud=cloud.address, token=signer.mint("voice"),
                             profile=RAYBAN_CLASS)
    uplink = GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5))
    await uplink.open(hello_for(options))
    runtime = EdgeRuntime(open_device(options.device, profile=RAYBAN_CLASS), uplink, renderer=OverlayRenderer())
    running = asyncio.create_task(runtime.run())
    recorder = WavRecorder(tmp_path / "spoken")
    try:
        await asyncio.wait_for(runtime.wait_for_keyframe(), 20)
        voice = VoiceFrontEnd(AudioFileSource(question, clock=VirtualClock()), whisper, runtime,
                              synthesizer=EspeakSynthesizer(), output=recorder)
        await asyncio.wait_for(voice.run(), 120)
    finally:
        await runtime.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await uplink.aclose()

    (turn,) = voice.turns
    assert (turn.intent.kind, turn.intent.skill) == ("ask", "protein")
    assert "protein" in turn.heard.text.lower() and not turn.error
    answered = runtime.overlays[f"answer-{turn.query_id}"]
    frame = runtime.keyframe(answered.frame_seq)
    assert frame is not None
    best = frame.truth.best_product()
    assert best.display_name.lower() in turn.answer.lower()

    (wav,) = recorder.written
    said, _ = read_audio_file(wav)
    heard_back = (await whisper.transcribe(said)).text.lower()
    assert "protein" in heard_back and parse_intent(heard_back).skill == "protein"
    # The wav really says the answer: the winner's protein figure comes back (invented brand names do not
    # survive espeak-ng and Whisper reliably, numbers do).
    assert f"{best.protein_g:g}" in heard_back


async def test_the_edge_app_listens_to_a_file_and_writes_its_spoken_answers(
        cloud: CloudServer, signer: TokenSigner, whisper: WhisperTranscriber, tmp_path: Path) -> None:
    question = await spoken_wav(tmp_path / "question.wav", "Which of these has the most protein?", "en-gb")
    assert whisper.options.cache_dir is not None
    listen = ListenOptions(str(question), speak_to=tmp_path / "spoken",
                           whisper_model=str(whisper.options.cache_dir / PACKAGED_MODEL))
    options = EdgeAppOptions(device="synthetic:shelf?seed=1", cloud=cloud.address, token=signer.mint("voice"),
                             profile=RAYBAN_CLASS, video_path=tmp_path / "edge.mp4", linger_s=0.2, listen=listen)
    report = await asyncio.wait_for(run_edge(options), 120)
    (turn,) = report.voice_turns
    assert turn.intent.skill == "protein" and "has the most protein" in turn.answer
    assert [p.name for p in (tmp_path / "spoken").iterdir()] == ["answer-001.wav"]


def test_audio_specs_name_a_microphone_or_a_file(tmp_path: Path) -> None:
    clock = VirtualClock()
    assert isinstance(open_audio("mic", clock), MicrophoneSource)
    by_index, by_name = open_audio("mic:2", clock), open_audio("mic:USB Headset", clock)
    assert isinstance(by_index, MicrophoneSource) and by_index.device == 2
    assert isinstance(by_name, MicrophoneSource) and by_name.device == "USB Headset"
    from_file = open_audio(str(tmp_path / "q.flac"), clock)
    assert isinstance(from_file, AudioFileSource) and from_file.path == tmp_path / "q.flac"
