"""The speech section of ``eyeline bench``: spoken queries heard by the edge's voice front end.

The set: spoken queries said by espeak-ng in several voices, plus the real recordings in
``../shared/data/speech``. Each clip goes through the real pipeline (Silero VAD, Whisper base on the CPU,
intent rules) on two paths in the same run. Today's (the baseline): the utterance ends after 600 ms of silence and
Whisper runs on its fixed 30 s window; the clip is played on a virtual clock, so *end of speech → transcript* is
the VAD's wait (audio time) plus the recogniser's wall time. Streaming: partial transcripts while speaking, the
end found by what was said, Whisper on a window fitted to the utterance; the clip is played in real time, as
partial decodes compete with the audio for the CPU, and the latency is wall time from the end of speech to the
final transcript. Also from the same run: the clip's spoken length (real-time factor) and the intent rules
applied to the true text.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eyeline.devices.audio import SPEECH_RATE, ArraySource, Samples, read_audio_file, resample
from eyeline.edge.messages import Answer
from eyeline.edge.transport.wire import UtteranceOut
from eyeline.edge.voice.asr import WhisperOptions, WhisperTranscriber, streaming_options
from eyeline.edge.voice.front_end import PushToTalk, VoiceFrontEnd, VoiceOptions
from eyeline.edge.voice.intents import Intent, normalize, parse_intent
from eyeline.edge.voice.speech import EspeakSynthesizer
from eyeline.protos.clock import Clock, MonotonicClock, VirtualClock
from eyeline.tools.sections import replace_headed

VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-scotland")
Expected = tuple[str, str, str]   # intent kind, skill, mode: labelled by hand
QUERIES: tuple[tuple[str, Expected], ...] = (
    ("which of these has the most protein", ("ask", "protein", "")),
    ("which has the least sugar", ("ask", "protein", "")),
    ("how do I descale this", ("ask", "repair", "")),
    ("what does this say", ("ask", "read", "")),
    ("which one has the most protein, think harder", ("ask", "protein", "thinking")),
    ("next step", ("next", "", "")),
    ("go back", ("back", "", "")),
    ("repeat that", ("repeat", "", "")),
    ("think harder", ("deepen", "", "thinking")),
    ("really think about it", ("deepen", "", "contemplating")),
    ("stop", ("stop", "", "")),
)
# Real recordings: (file, true transcript, expected intent). Only the open question is for us.
RECORDINGS: tuple[tuple[str, str, Expected], ...] = (
    ("voice2json_what_time_is_it.wav", "what time is it", ("ask", "", "")),
    ("wyoming_turn_on_the_living_room_lamp.wav", "turn on the living room lamp", ("ignore", "", "")),
    ("pocketsphinx_goforward.wav", "go forward ten meters", ("ignore", "", "")),
    ("pocketsphinx_librivox_0880.wav", "he was not an ill disposed young man", ("ignore", "", "")),
    ("whisper_jfk.flac", "and so my fellow americans ask not what your country can do for you "
                         "ask what you can do for your country", ("ignore", "", "")),
)
HEADING = "## Speech: end of speech -> transcript, word error rate, intent accuracy"
TODAY, STREAMING = "today", "streaming"
PATHS = {TODAY: "today: 600 ms of silence ends it, Whisper on 30 s",
         STREAMING: "streaming: partials, end found by content, fitted window"}
_NUMBERS = dict(enumerate("zero one two three four five six seven eight nine ten eleven twelve".split()))


@dataclass(frozen=True, slots=True)
class ClipResult:
    name: str
    truth: str
    heard: str
    latencies_ms: tuple[float, ...]
    duration_s: float
    intent_ok: bool
    intent_ok_on_truth: bool
    path: str = TODAY
    early_ends: int = 0          # utterances ended by what was said, before the silence timeout

    @property
    def errors(self) -> int:
        return word_errors(words(self.truth), words(self.heard))


def words(text: str) -> list[str]:
    spelled = re.sub(r"\b\d+\b", lambda m: _NUMBERS.get(int(m.group()), m.group()), text)
    return normalize(spelled.replace("'", "")).split()


def word_errors(truth: list[str], heard: list[str]) -> int:
    """Levenshtein distance in words (substitutions + deletions + insertions)."""
    row = list(range(len(heard) + 1))
    for i, t in enumerate(truth, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (t != h))
    return row[-1]


def _intent_key(intent: Intent) -> tuple[str, str, str]:
    return (intent.kind, intent.skill, intent.mode)


class _Listener:
    """Answers every query at once: the benchmark measures hearing, not the cloud."""

    async def ask(self, text: str, mode: str = "", utterance: UtteranceOut | None = None) -> str:
        return "q"

    async def answer(self, query_id: str) -> Answer:
        return Answer(query_id, "", 0, "", "", True)


async def hear(name: str, truth: str, expected: Expected, samples: Samples,
               transcriber: WhisperTranscriber, path: str = TODAY) -> ClipResult:
    """One clip through the front end; streaming plays it in real time (its decodes overlap the speech)."""
    streaming = path == STREAMING
    clock: Clock = MonotonicClock() if streaming else VirtualClock()
    gate = PushToTalk(clock, intervals=((0, 1 << 62),))  # held throughout: open questions count too
    front = VoiceFrontEnd(ArraySource(samples, SPEECH_RATE, clock=clock), transcriber, _Listener(), gate=gate,
                          clock=clock, options=VoiceOptions(streaming=streaming))
    await front.run()
    heard = " ".join(turn.heard.text for turn in front.turns)
    got = [_intent_key(turn.intent) for turn in front.turns]
    return ClipResult(name, truth, heard, tuple(t.heard.latency_ns / 1e6 for t in front.turns),
                      len(samples) / SPEECH_RATE, bool(got) and all(g == expected for g in got),
                      _intent_key(parse_intent(truth)) == expected, path,
                      front.streaming.early_ends if front.streaming is not None else 0)


async def _synthetic_clip(text: str, voice: str) -> Samples:
    audio = await EspeakSynthesizer(voice).synthesize(text)
    silence = np.zeros(SPEECH_RATE // 2, np.float32)
    return np.concatenate([silence, resample(audio.samples, audio.sample_rate, SPEECH_RATE), silence, silence])


async def _clips(data_dir: Path | None) -> list[tuple[str, str, Expected, Samples]]:
    clips = [(f"espeak {voice}", text, expected, await _synthetic_clip(text, voice))
             for voice in VOICES for text, expected in QUERIES]
    speech_dir = data_dir / "speech" if data_dir is not None else None
    if speech_dir is not None and speech_dir.is_dir():
        clips += [(name, truth, expected, read_audio_file(speech_dir / name)[0])
                  for name, truth, expected in RECORDINGS]
    return clips


async def run_speech(data_dir: Path | None, paths: tuple[str, ...] = (TODAY, STREAMING)) -> list[ClipResult]:
    """Every clip through each path, one path after the other, each with its own recogniser."""
    clips = await _clips(data_dir)
    results = []
    for path in paths:
        whisper = WhisperTranscriber(streaming_options() if path == STREAMING else WhisperOptions())
        whisper.load()
        try:
            for name, truth, expected, samples in clips:
                results.append(await hear(name, truth, expected, samples, whisper, path))
        finally:
            whisper.close()
    return results


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]


def _row(label: str, clips: list[ClipResult]) -> str:
    if not clips:
        return ""
    latencies = [ms for clip in clips for ms in clip.latencies_ms]
    words_total = sum(len(words(clip.truth)) for clip in clips)
    wer = sum(clip.errors for clip in clips) / max(1, words_total)
    intent = sum(clip.intent_ok for clip in clips) / len(clips)
    rtf = statistics.median(ms / 1000 / clip.duration_s for clip in clips for ms in clip.latencies_ms) \
        if latencies else float("nan")
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = _p95(latencies) if latencies else float("nan")
    early = sum(clip.early_ends for clip in clips)
    return (f"| {PATHS.get(clips[0].path, clips[0].path)} | {label} | {len(clips)} | {p50:.0f} | {p95:.0f} | "
            f"{rtf:.2f} | {100 * wer:.1f} % | {100 * intent:.0f} % | {early} |")


def render_speech_section(results: list[ClipResult], command: str) -> str:
    rows = []
    for path in dict.fromkeys(r.path for r in results):
        ours = [r for r in results if r.path == path]
        rows += [_row("espeak-ng, " + ", ".join(VOICES), [r for r in ours if r.name.startswith("espeak")]),
                 _row("real recordings (shared/data)", [r for r in ours if not r.name.startswith("espeak")])]
    misses = "\n".join(f"- {r.path}, {r.name}: said \"{r.truth}\", heard \"{r.heard}\""
                       for r in results if not r.intent_ok)
    truth_accuracy = 100 * sum(r.intent_ok_on_truth for r in results) / max(1, len(results))
    return f"""{HEADING}

Spoken queries ({len(QUERIES)} phrases x {len(VOICES)} espeak-ng voices) and the real recordings in
`shared/data/speech`, each through the edge's voice front end (Silero VAD, Whisper base int8 on 2 CPU threads,
then the intent rules) on two paths, one after the other in the same run. *Today*: an utterance ends after
600 ms of silence, then Whisper runs on its fixed 30 s window (beam 1); the clip plays on a virtual clock, so
the latency is the VAD's wait (audio time) plus recognition (wall time). *Streaming*
(`VoiceOptions(streaming=True)`, what `eyeline edge --listen` uses with the edge's recogniser): Whisper re-runs
on the growing utterance once 400 ms of new audio came since it was last idle, and as soon as a pause starts,
on a window fitted to the utterance (beam 3); when the newest partial heard all the speech and reads as a
complete question or command, 200 ms of quiet ends the utterance (else the 600 ms timeout does) and that partial
is the transcript. The clip plays in real time, so partial decodes compete with the audio for the CPU, and the
latency is wall time from the end of speech to the final transcript. Early ends: utterances ended by what was
said. Baselines from the same run: the utterance's own length (real-time factor = latency / clip length) and
the intent rules applied to the true text instead of the transcript ({truth_accuracy:.0f} % of the
hand-labelled intents).

| path | clips | n | p50 ms | p95 ms | latency / clip length | WER | intent accuracy | early ends |
|---|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(row for row in rows if row)}

Intents missed:
{misses or "- none"}

Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average
{os.getloadavg()[0]:.1f} when the section was written (other work on the machine slows recognition).
Command: `{command}` (`--no-speech` leaves this section out of a full run; `--only-speech` measures only it)
"""


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the repository (or ``$EYELINE_SHARED_DATA``), when it exists."""
    named = os.environ.get("EYELINE_SHARED_DATA")
    folder = Path(named) if named else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return folder if folder.is_dir() else None


async def speech_section(command: str) -> str:
    return render_speech_section(await run_speech(shared_data_dir()), command)


def replace_section(document: str, section: str) -> str:
    """``document`` with this benchmark's section replaced by ``section``, or ``section`` added at the end."""
    return replace_headed(document, HEADING, section)


async def write_speech_section(output: Path) -> int:
    """Measure both paths, print the section and put it into ``output`` in place of the last one."""
    section = await speech_section("eyeline bench --only-speech")
    text = await asyncio.to_thread(lambda: output.read_text() if output.exists() else "# Performance\n")
    await asyncio.to_thread(output.write_text, replace_section(text, section))
    print(section)
    return 0
