"""Speech recognition with the packaged Whisper base model: assembled once from its two packages, then
real recordings and espeak-ng speech transcribed (a few only: the full set runs in ``eyeline bench``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyeline.devices.audio import read_audio_file
from eyeline.edge.voice.asr import AsrError, WhisperOptions, WhisperTranscriber, packaged_whisper_base, resolve_model
from eyeline.edge.voice.intents import parse_intent
from tests.speech_helpers import spoken

pytestmark = pytest.mark.slow


def test_the_packaged_model_is_joined_once_and_repaired_when_truncated(tmp_path: Path) -> None:
    folder = packaged_whisper_base(tmp_path)
    model = folder / "model.bin"
    assert {p.name for p in folder.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    size, stamp = model.stat().st_size, model.stat().st_mtime_ns
    assert size > 100_000_000
    assert packaged_whisper_base(tmp_path) == folder and model.stat().st_mtime_ns == stamp   # not rebuilt
    with open(model, "r+b") as handle:
        handle.truncate(1000)
    packaged_whisper_base(tmp_path)
    assert model.stat().st_size == size
    assert resolve_model("", tmp_path) == str(folder)
    assert resolve_model("/some/other/model") == "/some/other/model"


def test_a_model_that_cannot_load_is_a_clear_error(tmp_path: Path) -> None:
    transcriber = WhisperTranscriber(WhisperOptions(model=str(tmp_path / "no-model")))
    with pytest.raises(AsrError, match="no-model"):
        transcriber.load()
    transcriber.close()


async def test_a_real_spoken_question_is_transcribed(shared_data: Path, whisper: WhisperTranscriber) -> None:
    samples, _ = read_audio_file(shared_data / "speech" / "voice2json_what_time_is_it.wav")
    transcript = await whisper.transcribe(samples)
    assert transcript.text.lower().strip(" ?.") == "what time is it"
    assert transcript.language == "en" and 0.5 < transcript.confidence <= 1.0


async def test_a_synthetic_voice_asking_for_protein_routes_to_the_protein_skill(
        whisper: WhisperTranscriber) -> None:
    transcript = await whisper.transcribe(await spoken("Which of these has the most protein?", "en-gb"))
    intent = parse_intent(transcript.text)
    assert "protein" in transcript.text.lower()
    assert (intent.kind, intent.skill) == ("ask", "protein")


async def test_the_fitted_window_hears_what_the_full_one_hears(shared_data: Path, whisper: WhisperTranscriber) -> None:
    assert whisper.options.cache_dir is not None
    fitted = WhisperTranscriber(WhisperOptions(cache_dir=whisper.options.cache_dir, window="fitted"))
    try:
        samples, _ = read_audio_file(shared_data / "speech" / "voice2json_what_time_is_it.wav")
        transcript = await fitted.transcribe(samples)
        assert transcript.text.lower().strip(" ?.") == "what time is it"     # once, not started over
        assert transcript.language == "en" and 0.5 < transcript.confidence <= 1.0
        stop = await fitted.transcribe(await spoken("Stop.", "en-gb"))
        assert parse_intent(stop.text).kind == "stop"
    finally:
        fitted.close()


def test_an_unknown_window_is_a_clear_error() -> None:
    with pytest.raises(AsrError, match="window"):
        WhisperTranscriber(WhisperOptions(window="10s"))
