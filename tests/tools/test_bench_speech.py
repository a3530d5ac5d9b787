"""The speech benchmark's arithmetic and one clip through it; its figures live in docs/PERFORMANCE.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyeline.devices.audio import read_audio_file
from eyeline.edge.voice.asr import WhisperTranscriber
from eyeline.tools.bench_speech import (
    HEADING,
    PATHS,
    STREAMING,
    TODAY,
    ClipResult,
    hear,
    render_speech_section,
    replace_section,
    word_errors,
    words,
)


def test_word_errors_count_substitutions_deletions_and_insertions() -> None:
    assert word_errors(["a", "b", "c"], ["a", "b", "c"]) == 0
    assert word_errors(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert word_errors(["a", "b", "c"], ["a", "c"]) == 1
    assert word_errors(["a", "b"], ["x", "a", "b", "y"]) == 2
    assert word_errors([], ["a"]) == 1


def test_words_ignore_case_punctuation_and_spelled_numbers() -> None:
    assert words("Go forward 10 meters.") == words("go forward ten meters")
    assert words("He was not an ill-disposed young man.") == "he was not an ill disposed young man".split()


def test_the_section_reports_rates_per_path_and_names_each_miss() -> None:
    clips = [ClipResult("espeak en-us", "next step", "Next step.", (800.0,), 2.0, True, True),
             ClipResult("espeak en-us", "go back", "Go bark.", (1000.0,), 2.0, False, True),
             ClipResult("jfk.flac", "ask not", "Ask not.", (600.0, 700.0), 4.0, True, True),
             ClipResult("espeak en-us", "next step", "Next step.", (300.0,), 2.0, True, True, STREAMING, 1),
             ClipResult("espeak en-us", "go back", "Go back.", (500.0,), 2.0, True, True, STREAMING, 0)]
    section = render_speech_section(clips, "eyeline bench")
    today, streaming = PATHS[TODAY], PATHS[STREAMING]
    assert f"| {today} | espeak-ng, en-us, en-gb, en-us+f3, en-gb-scotland | 2 | 900 | " in section
    assert "| 25.0 % | 50 % | 0 |" in section      # 1 wrong word of 4; one of two intents right; no early end
    assert f"| {today} | real recordings (shared/data) | 1 | 650 |" in section
    assert f"| {streaming} | espeak-ng, en-us, en-gb, en-us+f3, en-gb-scotland | 2 | 400 | " in section
    assert "| 0.0 % | 100 % | 1 |" in section
    assert f"| {streaming} | real recordings" not in section   # no such clips on that path: no row
    assert '- today, espeak en-us: said "go back", heard "Go bark."' in section


def test_the_section_replaces_its_old_self_and_keeps_the_others() -> None:
    document = f"# Performance\n\n## Before\n\nkept\n\n{HEADING}\n\nold figures\n\n## After\n\nkept too\n"
    updated = replace_section(document, f"{HEADING}\n\nnew figures\n")
    assert "old figures" not in updated and "new figures" in updated
    assert updated.index("## Before") < updated.index("new figures") < updated.index("## After")
    assert replace_section("# Performance\n", f"{HEADING}\n\nnew\n").endswith(f"{HEADING}\n\nnew\n")


@pytest.mark.slow
async def test_a_real_recording_is_heard_with_its_latency(shared_data: Path, whisper: WhisperTranscriber) -> None:
    samples, _ = read_audio_file(shared_data / "speech" / "pocketsphinx_goforward.wav")
    clip = await hear("goforward", "go forward ten meters", ("ignore", "", ""), samples, whisper)
    assert clip.errors <= 1 and clip.intent_ok
    (latency,) = clip.latencies_ms
    assert latency > 600     # at least the VAD's wait for 600 ms of silence


def test_the_bench_can_measure_speech_alone() -> None:
    from eyeline.tools.cli import build_parser

    args = build_parser().parse_args(["bench", "--only-speech", "--output", "out.md"])
    assert args.only_speech and str(args.output) == "out.md"
    assert not build_parser().parse_args(["bench"]).only_speech
