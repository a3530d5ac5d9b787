"""Speech recognition in the cloud, for an edge too weak to run Whisper (``--asr cloud``).

``CloudTranscriber`` is a ``Transcriber`` like the edge's own: the voice front end hands it the samples of one
utterance its VAD found, so silence never leaves the device. It sends them as ``AudioChunk``s (16-bit mono,
at most ``chunk_ms`` each, no faster than ``realtime_factor`` times real time, through the uplink's bounded
queue), waits for the cloud's ``Utterance`` of the same id, and returns its text, which the front end routes
through the same intents as locally recognised speech.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass

import numpy as np

from eyeline.devices.audio import SPEECH_RATE, Samples
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import CloudErrorReport, CloudEvent, HeardInCloud
from eyeline.edge.transport.uplink import MessageSender
from eyeline.edge.transport.wire import audio_messages
from eyeline.edge.voice.asr import Transcript
from eyeline.protos.clock import Clock, MonotonicClock

log = logging.getLogger(__name__)

_NS_PER_S = 1_000_000_000
ASR_PLACES = ("edge", "cloud")


@dataclass(frozen=True, slots=True)
class CloudAsrOptions:
    chunk_ms: int = 200               # audio per AudioChunk
    realtime_factor: float = 8.0      # send no faster than this many seconds of audio per second
    timeout_s: float = 30.0           # waiting for the cloud's transcript


@dataclass(slots=True)
class CloudAsrStats:
    utterances: int = 0
    bytes_sent: int = 0               # PCM bytes of speech sent up
    failed: int = 0                   # no transcript: a cloud error or the timeout


class CloudTranscriber:
    """Sends an utterance's audio to the cloud and waits for what it heard; ``deliver`` takes the cloud's events."""

    def __init__(self, sender: MessageSender, *, clock: Clock | None = None,
                 options: CloudAsrOptions | None = None) -> None:
        self._sender = sender
        self._clock = clock or MonotonicClock()
        self.options = options or CloudAsrOptions()
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[HeardInCloud]] = {}
        self.stats = CloudAsrStats()

    def deliver(self, event: CloudEvent) -> None:
        """The runtime's event hook: resolve the utterance the event answers, if it is one of ours."""
        if isinstance(event, HeardInCloud):
            self._settle(event.utterance_id, event)
        elif isinstance(event, CloudErrorReport) and event.query_id in self._waiting:
            self._settle(event.query_id, event)

    def _settle(self, utterance_id: str, outcome: HeardInCloud | CloudErrorReport) -> None:
        future = self._waiting.get(utterance_id)
        if future is None or future.done():
            return
        if isinstance(outcome, HeardInCloud):
            future.set_result(outcome)
        else:
            future.set_exception(CloudAsrError(f"{outcome.code}: {outcome.message}"))

    async def transcribe(self, samples: Samples) -> Transcript:
        """What the cloud heard in ``samples`` (16 kHz mono); an empty transcript when it could not say."""
        utterance_id = f"u{next(self._ids)}"
        future = self._waiting[utterance_id] = asyncio.get_running_loop().create_future()
        try:
            await self._send(utterance_id, samples)
            heard = await asyncio.wait_for(future, self.options.timeout_s)
        except (CloudAsrError, TimeoutError) as exc:
            self.stats.failed += 1
            log.warning("the cloud did not transcribe utterance %s: %s", utterance_id,
                        str(exc) or f"no transcript within {self.options.timeout_s:g} s")
            return Transcript("", "", 0.0)
        finally:
            self._waiting.pop(utterance_id, None)
        return Transcript(heard.text, heard.language, heard.confidence)

    async def _send(self, utterance_id: str, samples: Samples) -> None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        # The segment has just closed: its first sample was captured about its length ago.
        start_ns = self._clock.now_ns() - len(samples) * _NS_PER_S // SPEECH_RATE
        chunk_bytes = SPEECH_RATE * self.options.chunk_ms // 1000 * 2
        began_ns = self._clock.now_ns()
        for index, message in enumerate(audio_messages(utterance_id, pcm, start_ns, SPEECH_RATE, chunk_bytes)):
            await self._sender.send_message(message)
            sent_ns = min(len(pcm), (index + 1) * chunk_bytes) // 2 * _NS_PER_S // SPEECH_RATE
            await self._clock.sleep_until(began_ns + int(sent_ns / self.options.realtime_factor))
        self.stats.utterances += 1
        self.stats.bytes_sent += len(pcm)


class CloudAsrError(EdgeError):
    """The cloud answered an utterance with an error (the transcriber then returns no text)."""

    retryable = True
