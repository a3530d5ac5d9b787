"""What a session has said, kept for viewers that join late.

A viewer that opens a session's event stream after its first answer would otherwise see nothing until the next
one. The history keeps, bounded, the latest messages the session sent (answers, trace steps, overlays,
utterances, errors; not flow control), the questions it was asked, and the keyframes its overlays were computed on:
the session itself keeps only its last few frames to reason over, but an overlay is only readable on its own
frame, so that frame is pinned here for as long as the overlay is remembered.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from eyeline.cloud.session.frames import DecodedFrame
from eyeline.protos.v1 import session_pb2 as pb

# Kinds worth replaying: what a late viewer needs to show answers, traces, overlays and the transcript.
_KEPT_KINDS = frozenset({"overlay", "answer", "trace", "error", "utterance"})

FrameLookup = Callable[[int], DecodedFrame | None]


@dataclass(frozen=True, slots=True)
class Question:
    """A question the session was asked, for the transcript."""

    query_id: str
    text: str
    mode: str
    asked_ns: int       # the cloud clock when it arrived


class SessionHistory:
    """Bounded memory of a session's messages, questions and overlay keyframes."""

    # A pinned frame is decoded pixels (2.7 MB at 1280x720), beside the session's own kept frames: few are pinned.
    def __init__(self, messages_kept: int = 512, frames_kept: int = 4, questions_kept: int = 128) -> None:
        self._messages: deque[pb.CloudMessage] = deque(maxlen=messages_kept)
        self._questions: deque[Question] = deque(maxlen=questions_kept)
        self._frames: OrderedDict[int, DecodedFrame] = OrderedDict()
        self._frames_kept = frames_kept
        self.forgotten = 0      # messages pushed out by the bound
        self.questions_asked = 0   # ever; ``questions()`` keeps the latest

    def record(self, message: pb.CloudMessage, kept_frame: FrameLookup) -> None:
        """Remember ``message`` if a late viewer needs it; an overlay pins the frame it was computed on."""
        kind = message.WhichOneof("kind")
        if kind not in _KEPT_KINDS:
            return
        if kind == "answer" and message.answer.speech:
            message = _without_speech(message)
        if len(self._messages) == self._messages.maxlen:
            self.forgotten += 1
        self._messages.append(message)
        if kind == "overlay":
            self._pin(message.overlay.frame_seq, kept_frame)

    def asked(self, question: Question) -> None:
        self._questions.append(question)
        self.questions_asked += 1

    def messages(self) -> tuple[pb.CloudMessage, ...]:
        """Everything remembered, oldest first."""
        return tuple(self._messages)

    def questions(self) -> tuple[Question, ...]:
        return tuple(self._questions)

    def frame(self, seq: int) -> DecodedFrame | None:
        """A keyframe an overlay was computed on, if still remembered."""
        return self._frames.get(seq)

    def frames(self) -> tuple[DecodedFrame, ...]:
        return tuple(self._frames.values())

    def clear(self) -> None:
        self._frames.clear()

    def _pin(self, seq: int, kept_frame: FrameLookup) -> None:
        if seq in self._frames:
            self._frames.move_to_end(seq)
            return
        frame = kept_frame(seq)
        if frame is None:
            return
        self._frames[seq] = frame
        while len(self._frames) > self._frames_kept:
            self._frames.popitem(last=False)


def _without_speech(message: pb.CloudMessage) -> pb.CloudMessage:
    """An answer as the viewer shows it: its spoken audio (tens of kilobytes) is for the wearer, not remembered."""
    copy = pb.CloudMessage()
    copy.CopyFrom(message)
    copy.answer.ClearField("speech")
    copy.answer.ClearField("speech_mime")
    return copy
