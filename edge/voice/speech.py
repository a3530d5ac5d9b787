"""Spoken answers for glasses without a display: text to speech, then played or written to a wav file.

The synthesizer is ``espeak-ng`` through its command (a separate process, so the loop never waits on it);
``piper`` is used instead when its command and a voice model are installed, as it sounds far more natural.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from eyeline.devices.audio import Samples, read_audio_file
from eyeline.devices.base import DeviceError
from eyeline.edge.errors import EdgeError


class SpeechError(EdgeError):
    """Text could not be turned into speech, or speech could not be played or written."""


@dataclass(frozen=True, slots=True)
class SpokenAudio:
    samples: Samples = field(repr=False)
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class SpeechSynthesizer(Protocol):
    async def synthesize(self, text: str) -> SpokenAudio: ...


async def _run_to_wav(argv: list[str], text: str) -> SpokenAudio:
    """Run a TTS command that reads text on stdin and writes a wav file named by the last argument."""
    handle, name = tempfile.mkstemp(suffix=".wav", prefix="eyeline-tts-")
    os.close(handle)
    try:
        process = await asyncio.create_subprocess_exec(*argv, name, stdin=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.PIPE)
        try:
            _, stderr = await process.communicate(text.encode())
        except asyncio.CancelledError:   # "stop" while synthesizing: reap the process before the loop goes
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            raise SpeechError(f"{argv[0]} failed ({process.returncode}): {stderr.decode(errors='replace')[:200]}")
        try:
            samples, rate = await asyncio.to_thread(read_audio_file, Path(name), None)
        except DeviceError as exc:
            raise SpeechError(f"{argv[0]} wrote no usable speech: {exc}") from exc
        return SpokenAudio(samples, rate)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


class EspeakSynthesizer:
    """``espeak-ng``: always available (Debian package ``espeak-ng``), many voices, robotic but clear."""

    def __init__(self, voice: str = "en-us", words_per_minute: int = 165, command: str = "espeak-ng") -> None:
        path = shutil.which(command)
        if path is None:
            raise SpeechError(f"the {command!r} command is not installed (Debian package espeak-ng)")
        self.voice = voice
        self._argv = [path, "-v", voice, "-s", str(words_per_minute), "--stdin", "-w"]

    async def synthesize(self, text: str) -> SpokenAudio:
        if not text.strip():
            raise SpeechError("there is no text to speak")
        return await _run_to_wav(self._argv, text)


class PiperSynthesizer:
    """``piper`` with an installed voice model (``.onnx``), when the wearer has one."""

    def __init__(self, voice_model: Path, command: str = "piper") -> None:
        path = shutil.which(command)
        if path is None or not voice_model.is_file():
            raise SpeechError(f"piper needs its command and a voice model; have {path!r} and {voice_model}")
        self._argv = [path, "--model", str(voice_model), "--output_file"]

    async def synthesize(self, text: str) -> SpokenAudio:
        if not text.strip():
            raise SpeechError("there is no text to speak")
        return await _run_to_wav(self._argv, text)


def best_synthesizer(voice: str = "en-us") -> SpeechSynthesizer:
    """Piper when ``$EYELINE_PIPER_VOICE`` names an installed voice model, else espeak-ng."""
    piper_voice = os.environ.get("EYELINE_PIPER_VOICE")
    if piper_voice:
        with contextlib.suppress(SpeechError):
            return PiperSynthesizer(Path(piper_voice))
    return EspeakSynthesizer(voice)


def write_wav(path: Path, audio: SpokenAudio) -> None:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(audio.samples, -1.0, 1.0)
    soundfile.write(str(path), pcm, audio.sample_rate, subtype="PCM_16")


class SpeechOutput(Protocol):
    """Where spoken answers go: a speaker, a file. ``stop()`` cuts off what is being said."""

    async def say(self, audio: SpokenAudio) -> None: ...

    async def stop(self) -> None: ...


class WavRecorder:
    """Writes every spoken answer to ``folder/answer-NNN.wav`` (display-less glasses in tests and replays)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: list[Path] = []

    async def say(self, audio: SpokenAudio) -> None:
        path = self.folder / f"answer-{len(self.written) + 1:03d}.wav"
        await asyncio.to_thread(write_wav, path, audio)
        self.written.append(path)

    async def stop(self) -> None:
        return None


class SpeakerPlayer:
    """Plays through the default (or named) output device with ``sounddevice``."""

    def __init__(self, device: str | int | None = None) -> None:
        self.device = device
        self._sd: Any = None

    async def say(self, audio: SpokenAudio) -> None:
        sd = self._sounddevice()
        try:
            sd.play(audio.samples, audio.sample_rate, device=self.device)
        except sd.PortAudioError as exc:
            raise SpeechError(f"cannot play on {self.device!r}: {exc}") from exc
        await asyncio.sleep(audio.duration_s)   # playback runs on PortAudio's thread; wait as long as it lasts

    async def stop(self) -> None:
        if self._sd is not None:
            self._sd.stop()

    def _sounddevice(self) -> Any:
        if self._sd is None:
            try:
                import sounddevice
            except (ImportError, OSError) as exc:
                raise SpeechError(f"no audio output: {exc} (Debian package libportaudio2)") from exc
            self._sd = sounddevice
        return self._sd
