"""Recognition while the wearer speaks: partial transcripts of the growing utterance, and its end found by what
was said (``endpoint``) as well as by silence.

While an utterance is open the recogniser runs again on all of it once ``decode_every_ms`` of new audio came
since it was last idle, and at once when a pause starts, each time in the transcriber's worker thread (never on
the loop), one decode at a time. Each result is a *partial* transcript, offered to a hook the edge can show.
When the newest partial heard all the speech so far, reads as a complete question and a short pause follows,
the utterance ends there; its final transcript is that partial, with no decode left to wait for. Otherwise the
utterance ends on the silence timeout as before, and its final transcript is the partial (if the audio since was
silence), the decode in flight (if it will cover the speech), or one decode of the whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from eyeline.devices.audio import Samples
from eyeline.edge.errors import EdgeError
from eyeline.edge.voice.asr import Transcriber, Transcript
from eyeline.edge.voice.endpoint import EndpointConfig, pause_needed_ms
from eyeline.edge.voice.vad import OpenUtterance, SpeechSegment
from eyeline.protos.clock import Clock
from eyeline.protos.tasks import TaskSet

log = logging.getLogger(__name__)

_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Partial:
    transcript: Transcript
    start_ns: int            # capture time of the utterance's first sample
    audio_end_ns: int        # capture time of the end of the audio it was recognised from


@dataclass(frozen=True, slots=True)
class Final:
    transcript: Transcript
    ready_ns: int            # when the transcript was final (the clock's time)


PartialHook = Callable[[Partial], None]


class StreamingRecognizer:
    """Partial transcripts of the open utterance and the final transcript of each closed one."""

    def __init__(self, transcriber: Transcriber, clock: Clock, *, silence_timeout_ms: int,
                 config: EndpointConfig | None = None, on_partial: PartialHook | None = None) -> None:
        self.config = config or EndpointConfig()
        self._transcriber = transcriber
        self._clock = clock
        self._timeout_ms = silence_timeout_ms
        self._on_partial = on_partial
        self._tasks = TaskSet("voice recognition", logger=log)
        self._generation = 0                   # bumped when an utterance closes: older decodes are stale
        self._partial: Partial | None = None
        self._decoding: asyncio.Task[Partial | None] | None = None
        self._decoding_until_ns = 0            # audio end of the decode in flight
        self._decoded_until_ns = 0             # audio end of the newest decode started
        self._idle_since_ns = 0                # when the newest decode finished (the clock's time)
        self.partials = 0
        self.early_ends = 0                    # utterances ended by what was said, before the timeout

    # ------------------------------------------------------------------ while the utterance is open

    def wants_end(self, view: OpenUtterance) -> bool:
        """Whether the newest partial heard all the speech, reads as complete, and a long enough pause followed."""
        partial = self._partial
        if partial is None or partial.audio_end_ns < view.last_speech_ns:
            return False
        needed = pause_needed_ms(partial.transcript.text, self.config, self._timeout_ms)
        if view.quiet_ms < needed or needed >= self._timeout_ms:
            return False   # the silence timeout closes it anyway (and is not an early end)
        self.early_ends += 1
        return True

    def wants_decode(self, view: OpenUtterance) -> bool:
        if self._decoding is not None and not self._decoding.done():
            return False
        if view.quiet_ms >= self.config.pause_decode_ms:
            return self._decoded_until_ns < view.last_speech_ns
        # Counted from when the recogniser fell idle, not from the last decode's start: on a busy CPU back-to-back
        # partials would leave it busy when the pause comes, and the decode that matters would wait behind one.
        heard_since = view.end_ns - max(self._decoded_until_ns, self._idle_since_ns, view.start_ns)
        return heard_since >= self.config.decode_every_ms * _NS_PER_MS

    def start_decode(self, samples: Samples, view: OpenUtterance) -> None:
        self._decoded_until_ns = self._decoding_until_ns = view.end_ns
        self._decoding = self._tasks.spawn(self._decode(samples, view, self._generation), name="voice-partial")

    async def _decode(self, samples: Samples, view: OpenUtterance, generation: int) -> Partial | None:
        try:
            transcript = await self._transcriber.transcribe(samples)
        except EdgeError as exc:
            log.warning("partial transcript failed: %s", exc)
            return None
        finally:
            self._idle_since_ns = self._clock.now_ns()
        partial = Partial(transcript, view.start_ns, view.end_ns)
        if generation == self._generation:
            self._partial = partial
            self.partials += 1
            if self._on_partial is not None:
                self._on_partial(partial)
        return partial

    # ------------------------------------------------------------------ when it has closed

    def finish(self, segment: SpeechSegment) -> asyncio.Task[Final]:
        """The final transcript of ``segment``, the utterance that just closed."""
        partial, decoding, decoding_until = self._partial, self._decoding, self._decoding_until_ns
        self._generation += 1
        self._partial, self._decoding, self._decoded_until_ns = None, None, 0
        if partial is not None and partial.audio_end_ns >= segment.end_ns:
            return self._tasks.spawn(self._ready(partial.transcript, self._clock.now_ns()), name="voice-final")
        if decoding is not None and not decoding.done() and decoding_until >= segment.end_ns:
            return self._tasks.spawn(self._after(decoding, segment), name="voice-final")
        return self._tasks.spawn(self._whole(segment), name="voice-final")

    @staticmethod
    async def _ready(transcript: Transcript, ready_ns: int) -> Final:
        return Final(transcript, ready_ns)

    async def _after(self, decoding: asyncio.Task[Partial | None], segment: SpeechSegment) -> Final:
        partial = await decoding
        if partial is None:
            return await self._whole(segment)
        return Final(partial.transcript, self._clock.now_ns())

    async def _whole(self, segment: SpeechSegment) -> Final:
        transcript = await self._transcriber.transcribe(segment.samples)
        return Final(transcript, self._clock.now_ns())

    async def aclose(self) -> None:
        await self._tasks.aclose()
