"""One phone's push-ingest stream and the phone side's small pieces of protobuf: parsing what it sends, the
errors it is told, which message settles which of its questions, and the power state it reports."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from eyeline.edge.daemon.power import PowerState
from eyeline.edge.voice.intents import Intent
from eyeline.protos.tasks import TaskSet
from eyeline.protos.v1 import session_pb2 as pb

log = logging.getLogger("eyeline.ingest")

_THERMAL_NAMES = {pb.THERMAL_STATE_NOMINAL: "nominal", pb.THERMAL_STATE_FAIR: "fair",
                  pb.THERMAL_STATE_SERIOUS: "serious", pb.THERMAL_STATE_CRITICAL: "critical"}
# Utterance ids of the phone's audio remembered, so its transcripts are known as its own.
_REMEMBERED_UTTERANCES = 256


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str


def parse_phone_message(raw: bytes) -> pb.EdgeMessage | Malformed:
    """gRPC request deserializer that never raises, so one bad message does not end the stream."""
    try:
        return pb.EdgeMessage.FromString(raw)
    except DecodeError as exc:
        return Malformed(f"{len(raw)} bytes that are not an EdgeMessage ({exc})")


class PhoneStream:
    """One phone's connection: a bounded outbound queue (the oldest give way) and the tasks it owns."""

    def __init__(self, number: int, mode: str, queue_size: int) -> None:
        self.number = number
        self.mode = mode
        self.outbound: asyncio.Queue[pb.CloudMessage | None] = asyncio.Queue(maxsize=queue_size)
        self.tasks = TaskSet(f"phone stream {number}", logger=log)   # its questions being asked
        self.unanswered: set[str] = set()
        self.utterances: OrderedDict[str, None] = OrderedDict()  # ids of the phone's audio, the newest kept
        self.last_question = ""                                   # what "think harder" asks again
        self.idle = asyncio.Event()
        self.idle.set()
        self.dropped = 0

    def send(self, message: pb.CloudMessage | None) -> None:
        while True:
            try:
                self.outbound.put_nowait(message)
                return
            except asyncio.QueueFull:
                self.outbound.get_nowait()
                self.dropped += 1

    def asked(self, query_id: str) -> None:
        self.unanswered.add(query_id)
        self.idle.clear()

    def settled(self, query_id: str) -> None:
        self.unanswered.discard(query_id)
        if not self.unanswered:
            self.idle.set()

    def spoke(self, utterance_id: str) -> None:
        self.utterances[utterance_id] = None
        self.utterances.move_to_end(utterance_id)
        while len(self.utterances) > _REMEMBERED_UTTERANCES:
            self.utterances.popitem(last=False)

    def question_for(self, intent: Intent) -> str:
        """The text to ask for a spoken intent (as the voice front end routes it), or "" when it asks nothing."""
        match intent.kind:
            case "ask":
                self.last_question = intent.text
                return intent.text
            case "deepen":
                return self.last_question
            case "next" | "back":
                return intent.kind
        return ""


def power_state(status: pb.DeviceStatus) -> PowerState:
    percent = status.battery_percent if status.HasField("battery_percent") else None
    return PowerState(percent, status.charging, _THERMAL_NAMES.get(status.thermal, "unknown"))


def settles(message: pb.CloudMessage) -> str:
    """The phone's query id a message finishes (a final answer, or an error about it), or ""."""
    if message.HasField("answer") and message.answer.final:
        return message.answer.query_id
    if message.HasField("error"):
        return message.error.query_id
    return ""


def phone_error(code: int, message: str, *, retryable: bool = False, frame_seq: int = 0,
           query_id: str = "") -> pb.CloudMessage:
    return pb.CloudMessage(error=pb.Error(code=code, message=message, retryable=retryable,  # type: ignore[arg-type]
                                          frame_seq=frame_seq, query_id=query_id))
