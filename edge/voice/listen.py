"""Voice beside a running edge session: what ``eyeline edge --listen`` sets up.

``--listen mic`` (the default microphone), ``mic:NAME`` or ``mic:INDEX``, or the path of a wav/flac file;
answers are spoken through the speaker, or written as wav files into a folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eyeline.devices.audio import AudioFileSource, AudioSource, MicrophoneSource
from eyeline.edge.voice.asr import Transcriber, WhisperOptions, WhisperTranscriber, streaming_options
from eyeline.edge.voice.front_end import Asker, HandsFree, PushToTalk, TalkGate, VoiceFrontEnd, VoiceOptions, VoiceTurn
from eyeline.edge.voice.speech import SpeakerPlayer, SpeechOutput, WavRecorder, best_synthesizer
from eyeline.edge.voice.streaming import Partial, PartialHook
from eyeline.protos.clock import Clock


@dataclass(frozen=True, slots=True)
class ListenOptions:
    audio: str                           # "mic", "mic:NAME", "mic:INDEX", or a wav/flac path
    push_to_talk: bool = False           # Enter on the terminal presses, and Enter again releases
    speak_to: Path | None = None         # folder for spoken answers (wav); None = the speaker
    whisper_model: str = ""              # "" = the packaged Whisper base
    voice: str = "en-us"                 # espeak-ng voice of spoken answers
    asr: str = "edge"                    # where speech is recognised: "edge", or "cloud" for a weak edge
    streaming: bool = True               # edge recogniser: partials while speaking, ends found by what was said


def open_audio(spec: str, clock: Clock) -> AudioSource:
    if spec == "mic":
        return MicrophoneSource(clock=clock)
    if spec.startswith("mic:"):
        name = spec.removeprefix("mic:")
        return MicrophoneSource(int(name) if name.isdigit() else name, clock=clock)
    return AudioFileSource(Path(spec), clock=clock)


def _output(options: ListenOptions) -> SpeechOutput:
    return WavRecorder(options.speak_to) if options.speak_to is not None else SpeakerPlayer()


def _gate(options: ListenOptions, clock: Clock) -> TalkGate:
    return PushToTalk(clock) if options.push_to_talk else HandsFree()


def voice_front_end(asker: Asker, options: ListenOptions, clock: Clock,
                    on_turn: Callable[[VoiceTurn], None] | None = None,
                    audio: AudioSource | None = None, transcriber: Transcriber | None = None,
                    on_partial: PartialHook | None = None) -> VoiceFrontEnd:
    """The front end for ``options``; ``audio`` replaces the source ``options.audio`` names (e.g. wrapped),
    ``transcriber`` the edge's own Whisper (with ``asr="cloud"``, the cloud's, which hears whole utterances
    only: streaming would send the growing utterance up again and again)."""
    streaming = options.streaming and transcriber is None
    transcriber = transcriber or WhisperTranscriber(
        streaming_options(options.whisper_model) if streaming else WhisperOptions(model=options.whisper_model))
    source = audio if audio is not None else open_audio(options.audio, clock)
    return VoiceFrontEnd(source, transcriber, asker, gate=_gate(options, clock),
                         synthesizer=best_synthesizer(options.voice), output=_output(options), clock=clock,
                         on_turn=on_turn, options=VoiceOptions(streaming=streaming), on_partial=on_partial)


class TurnPrinter:
    """Prints what was heard and what came of it (on the wearer's own terminal, never in the logs)."""

    def __call__(self, turn: VoiceTurn) -> None:
        outcome = turn.answer or turn.error or ("(ignored)" if turn.intent.kind == "ignore" else "")
        print(f"heard: {turn.heard.text!r} -> {turn.intent.kind} {turn.intent.skill} {turn.intent.mode}".rstrip()
              + (f": {outcome}" if outcome else ""), flush=True)


class PartialPrinter:
    """Prints what is being heard while the wearer still speaks (each partial transcript, when it changes)."""

    def __init__(self) -> None:
        self._last = ""

    def __call__(self, partial: Partial) -> None:
        text = partial.transcript.text
        if text and text != self._last:
            print(f"hearing: {text!r}", flush=True)
        self._last = text


async def run_front_end(front: VoiceFrontEnd) -> None:
    """Run the front end; with push-to-talk, Enter on the terminal toggles the button."""
    gate = front.gate
    if not isinstance(gate, PushToTalk) or not sys.stdin.isatty():
        await front.run()
        return
    loop = asyncio.get_running_loop()

    def toggle() -> None:
        sys.stdin.readline()
        gate.toggle()

    loop.add_reader(sys.stdin, toggle)
    try:
        await front.run()
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(sys.stdin)

