"""Spoken answers: espeak-ng makes real speech, a wav recorder keeps it, bad input fails clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from eyeline.edge.voice.speech import EspeakSynthesizer, SpeechError, WavRecorder, best_synthesizer


async def test_espeak_speaks_and_the_recorder_writes_each_answer(tmp_path: Path) -> None:
    audio = await EspeakSynthesizer("en-us").synthesize("Protein bar has the most protein.")
    assert 1.0 < audio.duration_s < 6.0
    assert np.abs(audio.samples).max() > 0.1        # sound, not silence
    recorder = WavRecorder(tmp_path / "spoken")
    await recorder.say(audio)
    await recorder.say(audio)
    assert [p.name for p in recorder.written] == ["answer-001.wav", "answer-002.wav"]
    info = soundfile.info(str(recorder.written[0]))
    assert info.samplerate == audio.sample_rate and abs(info.duration - audio.duration_s) < 0.01


async def test_voices_differ() -> None:
    us = await EspeakSynthesizer("en-us").synthesize("next step")
    scottish = await EspeakSynthesizer("en-gb-scotland").synthesize("next step")
    assert len(us.samples) != len(scottish.samples) or not np.array_equal(us.samples, scottish.samples)


async def test_nothing_to_say_and_a_missing_command_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SpeechError, match="no text"):
        await EspeakSynthesizer().synthesize("   ")
    with pytest.raises(SpeechError, match="not-a-tts"):
        EspeakSynthesizer(command="not-a-tts")
    with pytest.raises(SpeechError, match="failed"):
        await EspeakSynthesizer(command="false").synthesize("hello")   # a command that exits non-zero
    monkeypatch.setenv("EYELINE_PIPER_VOICE", "/nowhere/voice.onnx")
    assert isinstance(best_synthesizer(), EspeakSynthesizer)   # piper named but absent: espeak-ng stands in
