"""Voice activity detection: Silero VAD (the ONNX model shipped in the ``faster-whisper`` wheel) on
onnxruntime, streaming, and a segmenter that cuts a chunk stream into utterances.

Both are plain, blocking objects: the voice front end runs them in its worker thread, never on the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort

from eyeline.devices.audio import SPEECH_RATE, AudioChunk, Samples
from eyeline.edge.errors import EdgeError

_NS_PER_S = 1_000_000_000


class AudioFormatError(EdgeError):
    """Audio arrived in a form the voice pipeline cannot take (e.g. a sample rate other than 16 kHz)."""


def silero_model_path() -> Path:
    """The Silero VAD model inside the installed ``faster_whisper`` package."""
    try:
        assets = resources.files("faster_whisper") / "assets" / "silero_vad_v6.onnx"
    except ModuleNotFoundError as exc:
        raise EdgeError("voice activity detection needs the `voice` extra (faster-whisper)") from exc
    return Path(str(assets))


class SileroVad:
    """Speech probability of each 32 ms window (512 samples at 16 kHz), carrying the model state across windows."""

    WINDOW = 512
    _CONTEXT = 64

    def __init__(self, model_path: Path | None = None) -> None:
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        path = model_path or silero_model_path()
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(self._CONTEXT, np.float32)

    def probability(self, window: Samples) -> float:
        if len(window) != self.WINDOW:
            raise AudioFormatError(f"a VAD window holds {self.WINDOW} samples, got {len(window)}")
        batch = np.concatenate([self._context, window]).astype(np.float32)[None, :]
        probs, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = window[-self._CONTEXT:].astype(np.float32)
        return float(np.asarray(probs).reshape(-1)[0])


@dataclass(frozen=True, slots=True)
class VadConfig:
    threshold: float = 0.5            # speech starts above this probability
    release: float = 0.35             # ...and continues until it drops below this one
    min_speech_ms: int = 250          # shorter bursts (clicks, a cough) are not utterances
    min_silence_ms: int = 600         # a pause this long ends the utterance
    pad_ms: int = 200                 # audio kept before and after the speech
    max_utterance_ms: int = 15_000    # cut a monologue here so a query never waits forever


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    """One utterance: 16 kHz mono samples and the capture times of its first and last speech sample."""

    start_ns: int
    end_ns: int
    samples: Samples = field(repr=False)
    sample_rate: int = SPEECH_RATE

    @property
    def duration_ms(self) -> int:
        return len(self.samples) * 1000 // self.sample_rate


@dataclass(frozen=True, slots=True)
class OpenUtterance:
    """The utterance still being spoken, as far as it has been heard (capture times)."""

    start_ns: int
    last_speech_ns: int      # end of the newest window the VAD called speech
    end_ns: int              # end of the newest window

    @property
    def quiet_ms(self) -> int:
        return (self.end_ns - self.last_speech_ns) // 1_000_000


@dataclass(slots=True)
class _Open:
    start_ns: int
    windows: list[Samples] = field(default_factory=list)
    speech_windows: int = 0
    silent_windows: int = 0
    last_speech_ns: int = 0


class SpeechSegmenter:
    """Turns a stream of 16 kHz chunks into speech segments with hysteresis, padding and a length cap."""

    def __init__(self, vad: SileroVad, config: VadConfig | None = None) -> None:
        self._vad = vad
        self.config = config or VadConfig()
        self._pending = np.zeros(0, np.float32)
        self._pending_ns = 0
        self._history: list[Samples] = []     # windows before speech, kept for the leading pad
        self._open: _Open | None = None
        self.windows_seen = 0

    def push(self, chunk: AudioChunk) -> list[SpeechSegment]:
        if chunk.sample_rate != SPEECH_RATE:
            raise AudioFormatError(f"audio chunk {chunk.seq} is at {chunk.sample_rate} Hz; the voice pipeline "
                                   f"takes {SPEECH_RATE} Hz (resample at the source)")
        if len(self._pending) == 0:
            self._pending_ns = chunk.capture_ns
        self._pending = np.concatenate([self._pending, np.asarray(chunk.samples, np.float32)])
        done: list[SpeechSegment] = []
        window = SileroVad.WINDOW
        while len(self._pending) >= window:
            piece, self._pending = self._pending[:window], self._pending[window:]
            start_ns = self._pending_ns
            self._pending_ns += window * _NS_PER_S // SPEECH_RATE
            segment = self._step(piece, start_ns)
            if segment is not None:
                done.append(segment)
        return done

    def flush(self) -> list[SpeechSegment]:
        """End of input (or push-to-talk released): close any open utterance."""
        segment = self._close() if self._open is not None else None
        self._pending = np.zeros(0, np.float32)
        self._history.clear()
        self._vad.reset()
        return [segment] if segment is not None else []

    def open_utterance(self) -> OpenUtterance | None:
        state = self._open
        if state is None:
            return None
        return OpenUtterance(state.start_ns, state.last_speech_ns,
                             state.start_ns + len(state.windows) * self._window_ns())

    def open_samples(self) -> Samples:
        """The samples of the open utterance so far (empty when none is open)."""
        return np.concatenate(self._open.windows) if self._open is not None else np.zeros(0, np.float32)

    def end_now(self) -> list[SpeechSegment]:
        """Close the open utterance here: its end was recognised by what was said, before the silence timeout."""
        segment = self._close() if self._open is not None else None
        return [segment] if segment is not None else []

    def _ms_to_windows(self, ms: int) -> int:
        return max(1, ms * SPEECH_RATE // (1000 * SileroVad.WINDOW))

    def _step(self, window: Samples, start_ns: int) -> SpeechSegment | None:
        self.windows_seen += 1
        p = self._vad.probability(window)
        if self._open is None:
            self._idle(window, start_ns, p)
            return None
        return self._speaking(window, start_ns, p)

    def _idle(self, window: Samples, start_ns: int, p: float) -> None:
        if p < self.config.threshold:
            self._history = [*self._history, window][-self._ms_to_windows(self.config.pad_ms):]
            return
        pad = self._history
        pad_ns = len(pad) * SileroVad.WINDOW * _NS_PER_S // SPEECH_RATE
        self._open = _Open(start_ns - pad_ns, [*pad, window], 1, 0, start_ns + self._window_ns())
        self._history = []

    def _speaking(self, window: Samples, start_ns: int, p: float) -> SpeechSegment | None:
        state = self._open
        assert state is not None
        state.windows.append(window)
        if p >= self.config.release:
            state.speech_windows += 1
            state.silent_windows = 0
            state.last_speech_ns = start_ns + self._window_ns()
        else:
            state.silent_windows += 1
        too_long = len(state.windows) >= self._ms_to_windows(self.config.max_utterance_ms)
        if state.silent_windows >= self._ms_to_windows(self.config.min_silence_ms) or too_long:
            return self._close()
        return None

    def _close(self) -> SpeechSegment | None:
        state, self._open = self._open, None
        assert state is not None
        if state.speech_windows < self._ms_to_windows(self.config.min_speech_ms):
            return None
        keep = len(state.windows) - max(0, state.silent_windows - self._ms_to_windows(self.config.pad_ms))
        samples = np.concatenate(state.windows[:keep])
        return SpeechSegment(state.start_ns, state.last_speech_ns, samples)

    @staticmethod
    def _window_ns() -> int:
        return SileroVad.WINDOW * _NS_PER_S // SPEECH_RATE
