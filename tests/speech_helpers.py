"""Spoken test input made on the spot with espeak-ng, padded with silence as a wearer's speech would be."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eyeline.devices.audio import SPEECH_RATE, Samples, resample
from eyeline.edge.voice.speech import EspeakSynthesizer, SpokenAudio, write_wav


async def spoken(text: str, voice: str = "en-us", *, lead_s: float = 0.5, tail_s: float = 1.0) -> Samples:
    """``text`` said by espeak-ng ``voice``, at 16 kHz, between stretches of silence."""
    audio = await EspeakSynthesizer(voice).synthesize(text)
    speech = resample(audio.samples, audio.sample_rate, SPEECH_RATE)
    lead, tail = np.zeros(int(lead_s * SPEECH_RATE), np.float32), np.zeros(int(tail_s * SPEECH_RATE), np.float32)
    return np.concatenate([lead, speech, tail])


async def spoken_wav(path: Path, text: str, voice: str = "en-us") -> Path:
    write_wav(path, SpokenAudio(await spoken(text, voice), SPEECH_RATE))
    return path
