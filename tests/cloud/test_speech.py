"""Cloud speech recognition's audio handling: utterances gathered from AudioChunks, and refused when bad."""

from __future__ import annotations

import numpy as np
import pytest

from eyeline.cloud.ingress import wire
from eyeline.cloud.perception.speech import (
    SPEECH_RATE,
    AssemblyLimits,
    AudioPiece,
    AudioRejectedError,
    UtteranceAssembler,
    pcm_to_mono,
)
from eyeline.edge.transport.wire import audio_messages
from eyeline.protos.v1 import session_pb2 as pb

_NS = 1_000_000_000


def _tone(seconds: float, rate: int, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _pcm(samples: np.ndarray) -> bytes:
    return (samples * 32767).astype("<i2").tobytes()


def _pieces(utterance_id: str, pcm: bytes, rate: int = SPEECH_RATE, chunk_bytes: int = 3200) -> list[AudioPiece]:
    """What the cloud receives of an edge's utterance: the edge's own messages through the cloud's wire."""
    events = [wire.edge_event(wire.parse_edge_message(m.SerializeToString()))
              for m in audio_messages(utterance_id, pcm, 5 * _NS, rate, chunk_bytes)]
    assert all(isinstance(e, AudioPiece) for e in events)
    return [e for e in events if isinstance(e, AudioPiece)]


def test_an_utterance_comes_whole_with_its_capture_times_on_the_last_chunk() -> None:
    tone = _tone(1.0, SPEECH_RATE)
    pieces = _pieces("u1", _pcm(tone))
    assert len(pieces) == 10 and [p.last for p in pieces].count(True) == 1 and pieces[-1].last
    assembler = UtteranceAssembler()
    assert all(assembler.add(p) is None for p in pieces[:-1])
    heard = assembler.add(pieces[-1])
    assert heard is not None and heard.utterance_id == "u1"
    assert heard.start_ns == 5 * _NS and heard.end_ns == 6 * _NS
    np.testing.assert_allclose(heard.samples, tone, atol=1e-4)


def test_48khz_stereo_is_taken_down_to_16khz_mono() -> None:
    left, right = _tone(0.5, 48_000, 300.0), _tone(0.5, 48_000, 300.0)
    stereo = np.stack([left, right], axis=1).reshape(-1)
    piece = AudioPiece("s", 0, 0, 48_000, 2, _pcm(stereo), last=True)
    heard = UtteranceAssembler().add(piece)
    assert heard is not None and len(heard.samples) == pytest.approx(SPEECH_RATE * 0.5, abs=2)
    spectrum = np.abs(np.fft.rfft(heard.samples))
    assert np.argmax(spectrum) * SPEECH_RATE / len(heard.samples) == pytest.approx(300.0, abs=3)
    assert pcm_to_mono(_pcm(stereo), 2).shape == left.shape


@pytest.mark.parametrize(("piece", "problem"), [
    (AudioPiece("", 0, 0, SPEECH_RATE, 1, b"\0\0"), "no utterance_id"),
    (AudioPiece("u", 3, 0, 0, 1, b"\0\0"), "sample_rate 0 Hz"),
    (AudioPiece("u", 3, 0, SPEECH_RATE, 6, b"\0" * 12), "6 channels"),
    (AudioPiece("u", 3, 0, SPEECH_RATE, 2, b"\0" * 6), "6 bytes"),
])
def test_bad_chunks_are_refused_naming_the_chunk_and_the_problem(piece: AudioPiece, problem: str) -> None:
    with pytest.raises(AudioRejectedError, match=problem) as caught:
        UtteranceAssembler().add(piece)
    assert caught.value.code == "malformed_message" and f"AudioChunk {piece.seq}" in str(caught.value)


def test_an_utterance_over_the_limit_is_dropped_not_buffered_on() -> None:
    assembler = UtteranceAssembler(AssemblyLimits(max_utterance_s=0.5))
    pieces = _pieces("long", _pcm(_tone(1.0, SPEECH_RATE)))
    with pytest.raises(AudioRejectedError, match=r"over 0\.5 s"):
        for piece in pieces:
            assembler.add(piece)
    # The rest of it starts a fresh utterance, and a new one still works.
    heard = assembler.add(AudioPiece("next", 0, 0, SPEECH_RATE, 1, _pcm(_tone(0.1, SPEECH_RATE)), last=True))
    assert heard is not None and len(heard.samples) == SPEECH_RATE // 10


def test_a_change_of_sample_rate_mid_utterance_is_refused() -> None:
    assembler = UtteranceAssembler()
    assembler.add(AudioPiece("u", 0, 0, SPEECH_RATE, 1, b"\0\0" * 100))
    with pytest.raises(AudioRejectedError, match="changed sample rate"):
        assembler.add(AudioPiece("u", 1, 0, 48_000, 1, b"\0\0" * 100, last=True))


def test_the_cloud_utterance_reaches_the_edge_as_what_was_heard() -> None:
    from eyeline.cloud.perception.speech import CloudTranscript
    from eyeline.edge.messages import HeardInCloud
    from eyeline.edge.transport.wire import cloud_event

    message = wire.utterance("u7", CloudTranscript("next step", "en", 0.8), start_ns=10, end_ns=20)
    event = cloud_event(pb.CloudMessage.FromString(message.SerializeToString()))
    assert event == HeardInCloud("u7", "next step", 10, 20, pytest.approx(0.8), "en")
