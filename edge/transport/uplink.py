"""The seam between the edge and its transports: the ``Uplink`` protocol both uplinks satisfy, the
capabilities one may add (preview video, ready-made messages), their one error, and ICE server settings.
``connect`` chooses and opens one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from eyeline.devices.base import CapturedFrame
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import CloudEvent, Welcome
from eyeline.edge.transport.wire import EncodedFrame, HelloOut, QueryOut
from eyeline.protos.v1 import session_pb2 as pb


class UplinkError(EdgeError):
    """The session stream could not be opened or broke; ``retryable`` says whether to reconnect."""

    def __init__(self, message: str, *, retryable: bool, status: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status



class Uplink(Protocol):
    """One session with the cloud: Hello/Welcome, keyframes and queries up, cloud events down."""

    async def open(self, hello: HelloOut) -> Welcome: ...

    async def push_frame(self, frame: EncodedFrame) -> None: ...

    async def ask(self, query: QueryOut) -> None: ...

    def __aiter__(self) -> AsyncIterator[CloudEvent]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class PreviewSink(Protocol):
    """An uplink that also streams live video at a preview rate (WebRTC's video track)."""

    def offer_preview(self, frame: CapturedFrame) -> None: ...


@runtime_checkable
class MessageSender(Protocol):
    """An uplink that sends ready-made messages (``wire`` builds them), such as the rendered-overlay Ack."""

    async def send_message(self, message: pb.EdgeMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class IceServer:
    urls: str                     # "stun:host:port" or "turn:host:port"
    username: str = ""
    credential: str = ""


def parse_ice_server(text: str) -> IceServer:
    """``stun:host:port``, or ``turn:user:password@host:port`` for a TURN server with credentials."""
    scheme, _, rest = text.partition(":")
    if scheme not in ("stun", "stuns", "turn", "turns") or not rest:
        raise EdgeError(f"ICE server {text!r} must look like stun:HOST:PORT or turn:USER:PASSWORD@HOST:PORT")
    credentials, at, address = rest.rpartition("@")
    if not at:
        return IceServer(text)
    username, _, password = credentials.partition(":")
    return IceServer(f"{scheme}:{address}", username, password)
