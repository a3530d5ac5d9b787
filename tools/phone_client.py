"""A reference phone app for the edge's push-ingest service: it pushes frames, asks, and prints what comes back.

    python -m eyeline.tools.phone_client --edge HOST:PORT --token-file F --image shelf.jpg --question "..."
    eyeline phone --edge HOST:PORT --token-file F --video clip.mp4 --question "..." --json

It plays a phone that already receives the glasses' camera: the picture (or the video's frames, looped) is pushed as
JPEG ``Frame``s at ``--fps`` on the ``eyeline.v1`` Session stream, with the phone's own sequence numbers and capture
times; after ``--ask-after`` seconds the question goes up as a ``Query``, and every overlay, answer, error and flow
advice the edge relays is printed (one JSON object a line with ``--json``) until the final answer arrives.
``--battery``/``--charging``/``--thermal`` send a ``DeviceStatus`` first, as a phone on a low battery would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import grpc
import numpy as np

from eyeline.edge.errors import EdgeError
from eyeline.protos.v1 import session_pb2 as pb
from eyeline.protos.v1 import session_pb2_grpc

MODES = {"": pb.MODE_UNSPECIFIED, "instant": pb.MODE_INSTANT, "thinking": pb.MODE_THINKING,
         "contemplating": pb.MODE_CONTEMPLATING}
THERMAL = {"": pb.THERMAL_STATE_UNSPECIFIED, "nominal": pb.THERMAL_STATE_NOMINAL, "fair": pb.THERMAL_STATE_FAIR,
           "serious": pb.THERMAL_STATE_SERIOUS, "critical": pb.THERMAL_STATE_CRITICAL}
QUERY_ID = "phone-q1"
Event = dict[str, object]


class PhoneClientError(EdgeError):
    """The edge could not be reached, refused the phone, or a frame source could not be read."""

    def __init__(self, message: str, *, status: str = "") -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class PhoneStatus:
    battery_percent: float | None = None
    charging: bool = False
    thermal: str = ""


@dataclass(frozen=True, slots=True)
class PhoneOptions:
    edge: str                        # host:port of the edge's ingest service
    token: str
    question: str = ""               # "" = push only, for duration_s
    mode: str = ""
    fps: float = 5.0
    ask_after_s: float = 1.0
    timeout_s: float = 60.0          # for the final answer, after asking
    duration_s: float = 3.0          # how long to push when there is no question
    first_seq: int = 1
    status: PhoneStatus | None = None
    connect_timeout_s: float = 10.0
    tls_ca: Path | None = None       # PEM roots to trust: connect over TLS


@dataclass(slots=True)
class PhoneReport:
    pushed: list[int] = field(default_factory=list)       # the phone's sequence numbers, in order
    events: list[Event] = field(default_factory=list)     # everything the edge sent, as printed

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["type"] == kind]

    @property
    def answer(self) -> Event | None:
        finals = [e for e in self.of_type("answer") if e["final"]]
        return finals[-1] if finals else None


# ------------------------------------------------------------------ frames


def jpeg_bytes(image: np.ndarray, quality: int = 85) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise PhoneClientError("JPEG encoding failed")
    return buffer.tobytes()


def image_frames(path: Path) -> Iterator[bytes]:
    """The picture at ``path`` (any format OpenCV reads) as one JPEG, forever."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PhoneClientError(f"--image {path}: not an image OpenCV can read")
    return itertools.repeat(jpeg_bytes(image))


def video_frames(path: Path) -> Iterator[bytes]:
    """The video's frames as JPEGs, looped."""
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read()
    if not ok:
        capture.release()
        raise PhoneClientError(f"--video {path}: no frame could be read")

    def frames() -> Iterator[bytes]:
        image = first
        while True:
            yield jpeg_bytes(image)
            ok, image = capture.read()
            if not ok:
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, image = capture.read()
                if not ok:
                    return

    return frames()


# ------------------------------------------------------------------ the stream


def event_of(message: pb.CloudMessage) -> Event:
    """What the edge sent, as a JSON-able dict (the ``--json`` line)."""
    kind = message.WhichOneof("kind") or "empty"
    match kind:
        case "overlay":
            o = message.overlay
            items = [{"id": i.id, "kind": i.WhichOneof("shape") or ""} for i in o.items]
            return {"type": kind, "overlay_id": o.overlay_id, "query_id": o.query_id, "frame_seq": o.frame_seq,
                    "final": o.final, "items": items}
        case "answer":
            a = message.answer
            return {"type": kind, "query_id": a.query_id, "text": a.text, "frame_seq": a.frame_seq,
                    "mode": pb.Mode.Name(a.mode).removeprefix("MODE_").lower(), "final": a.final}
        case "error":
            e = message.error
            return {"type": kind, "code": pb.ErrorCode.Name(e.code).removeprefix("ERROR_CODE_").lower(),
                    "message": e.message, "retryable": e.retryable, "frame_seq": e.frame_seq, "query_id": e.query_id}
        case "trace":
            t = message.trace
            return {"type": kind, "query_id": t.query_id, "index": t.index, "text": t.text}
        case "flow":
            return {"type": kind, "max_keyframes_per_s": round(message.flow.max_keyframes_per_s, 3)}
        case "welcome":
            return {"type": kind, "session_id": message.welcome.session_id}
        case "utterance":
            return {"type": kind, "utterance_id": message.utterance.utterance_id, "text": message.utterance.text}
    return {"type": kind}


def _status_message(status: PhoneStatus) -> pb.EdgeMessage:
    report = pb.DeviceStatus(charging=status.charging, thermal=THERMAL[status.thermal],
                             reported_ns=time.monotonic_ns())
    if status.battery_percent is not None:
        report.battery_percent = status.battery_percent
    return pb.EdgeMessage(device_status=report)


class _Finished:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    def check(self, event: Event) -> None:
        if event.get("query_id") == QUERY_ID and (event["type"] == "error" or event.get("final")) \
                and event["type"] in ("answer", "error"):
            self.event.set()


async def run_phone(options: PhoneOptions, frames: Iterator[bytes],
                    emit: Callable[[Event], None] = lambda _: None) -> PhoneReport:
    """Push ``frames`` to the edge, ask, and collect what comes back until the final answer (or the time is up)."""
    report = PhoneReport()
    channel = _channel(options)
    try:
        try:
            await asyncio.wait_for(channel.channel_ready(), options.connect_timeout_s)
        except TimeoutError as exc:
            raise PhoneClientError(f"cannot reach the edge at {options.edge}") from exc
        stub = session_pb2_grpc.SessionStub(channel)  # type: ignore[no-untyped-call]
        call = stub.Connect(metadata=(("authorization", f"Bearer {options.token}"),))
        try:
            await _session(call, options, frames, report, emit)
        finally:
            call.cancel()
    finally:
        await channel.close()
    return report


def _channel(options: PhoneOptions) -> grpc.aio.Channel:
    if options.tls_ca is None:
        return grpc.aio.insecure_channel(options.edge)
    try:
        roots = options.tls_ca.read_bytes()
    except OSError as exc:
        raise PhoneClientError(f"cannot read --tls-ca {options.tls_ca}: {exc.strerror}") from exc
    return grpc.aio.secure_channel(options.edge, grpc.ssl_channel_credentials(roots))


async def _session(call: grpc.aio.StreamStreamCall, options: PhoneOptions, frames: Iterator[bytes],
                   report: PhoneReport, emit: Callable[[Event], None]) -> None:
    await _open(call, options, report, emit)
    finished = _Finished()
    reader = asyncio.create_task(_read(call, report, emit, finished))
    try:
        await _push(call, options, frames, report, finished)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _open(call: grpc.aio.StreamStreamCall, options: PhoneOptions, report: PhoneReport,
                emit: Callable[[Event], None]) -> None:
    hello = pb.Hello(token=options.token, mode=MODES[options.mode], capabilities=["overlay"],
                     client_version="eyeline-phone-client/0.1",
                     profile=pb.DeviceProfile(name="phone-relay", has_display=True))
    try:
        await call.write(pb.EdgeMessage(hello=hello))
        first = await call.read()
    except grpc.aio.AioRpcError as exc:
        raise PhoneClientError(f"the edge refused the phone: {exc.code().name}: {exc.details()}",
                               status=exc.code().name) from exc
    if first is grpc.aio.EOF:
        code = await call.code()
        raise PhoneClientError(f"the edge refused the phone: {code.name}: {await call.details()}", status=code.name)
    welcome = event_of(first)
    report.events.append(welcome)
    emit(welcome)
    if options.status is not None:
        await call.write(_status_message(options.status))


async def _read(call: grpc.aio.StreamStreamCall, report: PhoneReport, emit: Callable[[Event], None],
                finished: _Finished) -> None:
    with contextlib.suppress(grpc.aio.AioRpcError):
        while (message := await call.read()) is not grpc.aio.EOF:
            event = event_of(message)
            report.events.append(event)
            emit(event)
            finished.check(event)
    finished.event.set()  # the stream ended: nothing more will come


async def _push(call: grpc.aio.StreamStreamCall, options: PhoneOptions, frames: Iterator[bytes],
                report: PhoneReport, finished: _Finished) -> None:
    start = time.monotonic()
    asked_at: float | None = None
    for seq, data in zip(itertools.count(options.first_seq), frames, strict=False):
        now = time.monotonic()
        if finished.event.is_set() or (asked_at is not None and now - asked_at > options.timeout_s):
            return
        if not options.question and now - start > options.duration_s:
            return
        await call.write(pb.EdgeMessage(frame=pb.Frame(
            seq=seq, trace_id=f"phone-{seq}", hops=pb.HopTimes(capture_ns=time.monotonic_ns()),
            encoding=pb.IMAGE_ENCODING_JPEG, data=data, keyframe=True)))
        report.pushed.append(seq)
        if options.question and asked_at is None and now - start >= options.ask_after_s:
            await call.write(pb.EdgeMessage(query=pb.Query(query_id=QUERY_ID, text=options.question,
                                                           mode=MODES[options.mode])))
            asked_at = now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.event.wait(), 1.0 / options.fps)


# ------------------------------------------------------------------ the command


def add_phone_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("phone", help="play a phone app: push frames to an edge's ingest service and ask")
    _arguments(p)
    p.set_defaults(run=run_command)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--edge", required=True, metavar="HOST:PORT", help="the edge daemon's ingest.listen address")
    p.add_argument("--token-file", type=Path, required=True, help="the edge's ingest token")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", type=Path, help="a picture, pushed over and over")
    source.add_argument("--video", type=Path, help="a video, its frames pushed in turn (looped)")
    p.add_argument("--question", default="", metavar="TEXT", help="asked after --ask-after seconds")
    p.add_argument("--mode", default="", choices=sorted(MODES))
    p.add_argument("--fps", type=float, default=5.0, help="frames pushed a second")
    p.add_argument("--ask-after", type=float, default=1.0, metavar="S")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="wait this long for the final answer")
    p.add_argument("--duration", type=float, default=3.0, metavar="S", help="how long to push with no question")
    p.add_argument("--battery", type=float, metavar="PERCENT", help="report this battery level first")
    p.add_argument("--charging", action="store_true")
    p.add_argument("--thermal", default="", choices=sorted(THERMAL))
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.add_argument("--tls-ca", type=Path, help="PEM roots to trust: connect over TLS (the edge's ingest.tls_cert)")


def options_from(args: argparse.Namespace) -> PhoneOptions:
    try:
        token = args.token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PhoneClientError(f"--token-file {args.token_file}: cannot read: {exc.strerror}") from exc
    if args.fps <= 0:
        raise PhoneClientError(f"--fps must be positive, got {args.fps}")
    reported = args.battery is not None or args.charging or args.thermal
    status = PhoneStatus(args.battery, args.charging, args.thermal) if reported else None
    return PhoneOptions(args.edge, token, question=args.question, mode=args.mode, fps=args.fps,
                        ask_after_s=args.ask_after, timeout_s=args.timeout, duration_s=args.duration, status=status,
                        tls_ca=args.tls_ca)


def _line(event: Event, as_json: bool) -> str:
    if as_json:
        return json.dumps(event, sort_keys=True)
    fields = " ".join(f"{k}={v!r}" for k, v in event.items() if k not in ("type", "items"))
    items = event.get("items")
    count = f" items={len(items)}" if isinstance(items, list) else ""
    return f"{event['type']}: {fields}{count}"


def run_command(args: argparse.Namespace) -> int:
    options = options_from(args)
    frames = image_frames(args.image) if args.image is not None else video_frames(args.video)
    report = asyncio.run(run_phone(options, frames, lambda event: print(_line(event, args.json), flush=True)))
    if options.question and report.answer is None:
        print("no final answer arrived", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="phone_client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except EdgeError as exc:
        print(f"phone_client: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
