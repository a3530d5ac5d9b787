"""Whisper decoding on a window fitted to the utterance instead of Whisper's fixed 30 seconds.

faster-whisper pads every input to 30 s of log-mel frames, so the encoder does the same work for "stop" as for a
half-minute monologue, and that work is most of a spoken command's recognition time on a small CPU. Here the
utterance (plus a short stretch of real silence, so the decoder sees where speech ends) is encoded on a window of
whole seconds just long enough to hold it. Without the padding the decoder sometimes starts the text over again
once it has said everything; the output is bounded by the audio's length and cut where it restarts. Beam search
(the transcriber's ``beam_size``) is worth its cost here: the short window leaves the decoder less sure.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from eyeline.devices.audio import SPEECH_RATE, Samples

_FRAMES_PER_S = 100             # Whisper's log-mel hop is 10 ms
_MAX_FRAMES = 30 * _FRAMES_PER_S
_TAIL_S = 1.0                   # silence after the speech
_TOKENS_PER_S = 6               # speech at a brisk 3 words/s is about 4 tokens/s with punctuation
_TOKENS_SPARE = 4
_SENTENCE = re.compile(r"(?<=[.?!])\s+")


def without_restated(text: str) -> str:
    """``text`` without the sentences that say an earlier one over again: one starting with the same word, most
    of whose words an earlier sentence already said (the decoding began again, not quite word for word)."""
    kept: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        said = sentence.lower().strip(".?!,").split()
        if kept and said and any(_restates(said, earlier.lower().strip(".?!,").split()) for earlier in kept):
            break
        kept.append(sentence)
    return " ".join(kept)


def _restates(said: list[str], earlier: list[str]) -> bool:
    return bool(earlier) and said[0] == earlier[0] and sum(word in earlier for word in said) >= 0.6 * len(said)


def restart_cut(tokens: list[int]) -> list[int]:
    """The tokens up to where the text begins again from its start (its first two or three tokens repeat)."""
    for at in range(2, len(tokens)):
        head = min(at, 3)
        if tokens[at:at + head] == tokens[:head]:
            return tokens[:at]
    return tokens


class FittedDecoder:
    """Decoding of one utterance on a fitted window; blocking (the transcriber's worker thread)."""

    def __init__(self, model: Any, language: str | None, prompt: str, beam_size: int = 1) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._model = model
        self._tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                                    language=language or "en")
        previous = self._tokenizer.encode(" " + prompt.strip()) if prompt.strip() else []
        self._prompt = model.get_prompt(self._tokenizer, previous, without_timestamps=True)
        self._suppress = get_suppressed_tokens(self._tokenizer, [-1])
        self.language = language or "en"
        self._beam_size = beam_size

    def decode(self, samples: Samples) -> tuple[str, float]:
        """(text, confidence 0..1) of 16 kHz mono ``samples``."""
        from faster_whisper.audio import pad_or_trim

        audio = np.concatenate([np.asarray(samples, np.float32), np.zeros(int(_TAIL_S * SPEECH_RATE), np.float32)])
        features = self._model.feature_extractor(audio)
        frames = min(_MAX_FRAMES, math.ceil(features.shape[-1] / _FRAMES_PER_S) * _FRAMES_PER_S)
        encoded = self._model.encode(pad_or_trim(features, frames))
        budget = _TOKENS_SPARE + int(len(samples) / SPEECH_RATE * _TOKENS_PER_S)
        result = self._model.model.generate(encoded, [self._prompt], beam_size=self._beam_size,
                                            return_scores=True,
                                            max_length=min(len(self._prompt) + budget, self._model.max_length),
                                            suppress_blank=True, suppress_tokens=self._suppress)[0]
        tokens = restart_cut([t for t in result.sequences_ids[0] if t < self._tokenizer.eot])
        text = without_restated(self._tokenizer.decode(tokens))
        return text, math.exp(float(result.scores[0])) if tokens else 0.0
