"""The edge's choice of transport, and how one is opened.

``grpc`` and ``webrtc`` open that uplink; ``auto`` tries WebRTC and, when ICE does not connect in time (or
signaling fails), falls back to gRPC. Everything after ``open_uplink`` is the same code for both.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from eyeline.devices.base import CapturedFrame, FrameSource
from eyeline.edge.errors import EdgeError
from eyeline.edge.messages import Welcome
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import IceServer, PreviewSink, Uplink, UplinkError
from eyeline.edge.transport.wire import HelloOut
from eyeline.protos.clock import Clock

log = logging.getLogger(__name__)

TRANSPORTS = ("grpc", "webrtc", "auto")
DEFAULT_HTTP_PORT = 8080


@dataclass(frozen=True, slots=True)
class TransportOptions:
    kind: str                          # grpc, webrtc or auto
    cloud: str                         # host:port of the gRPC ingress
    whip_url: str = ""                 # "" = http://<cloud host>:8080/whip
    ice_servers: tuple[IceServer, ...] = ()
    ice_timeout_s: float = 5.0         # WebRTC must connect within this, or `auto` falls back to gRPC
    connect_timeout_s: float = 10.0
    tls_ca: Path | None = None
    preview_fps: float = 10.0          # WebRTC video track rate; 0 = no track

    @property
    def whip(self) -> str:
        if self.whip_url:
            return self.whip_url
        host = urlsplit(f"//{self.cloud}").hostname or "127.0.0.1"
        return f"http://{host}:{DEFAULT_HTTP_PORT}/whip"


async def open_uplink(options: TransportOptions, hello: HelloOut, *, clock: Clock) -> tuple[Uplink, Welcome]:
    """An open uplink of the chosen kind and the cloud's Welcome."""
    if options.kind not in TRANSPORTS:
        raise EdgeError(f"unknown transport {options.kind!r}; choose one of {', '.join(TRANSPORTS)}")
    if options.kind in ("webrtc", "auto"):
        try:
            return await _open(_webrtc(options, clock), hello)
        except UplinkError as exc:
            if options.kind == "webrtc":
                raise
            log.warning("WebRTC did not connect (%s); falling back to gRPC", exc)
    grpc_uplink = GrpcUplink(UplinkOptions(options.cloud, connect_timeout_s=options.connect_timeout_s,
                                           tls_ca=options.tls_ca), clock=clock)
    return await _open(grpc_uplink, hello)


def _webrtc(options: TransportOptions, clock: Clock) -> Uplink:
    try:
        from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink
    except ImportError as exc:
        raise UplinkError(f"the WebRTC transport needs the 'webrtc' extra ({exc.name} is missing): "
                          "pip install 'eyeline[webrtc]'", retryable=False) from exc
    return WebRtcUplink(WebRtcOptions(options.whip, ice_servers=options.ice_servers,
                                      ice_timeout_s=options.ice_timeout_s,
                                      connect_timeout_s=options.connect_timeout_s,
                                      preview_fps=options.preview_fps), clock=clock)


async def _open(uplink: Uplink, hello: HelloOut) -> tuple[Uplink, Welcome]:
    return uplink, await uplink.open(hello)


class PreviewTap:
    """A frame source that hands every frame it yields to an uplink's preview as well. It taps the privacy stage's
    output (``edge.frames.redact``): the preview refuses a frame that did not pass it."""

    def __init__(self, source: FrameSource, preview: PreviewSink) -> None:
        self._source = source
        self._preview = preview

    def __aiter__(self) -> AsyncIterator[CapturedFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[CapturedFrame]:
        async for frame in self._source:
            self._preview.offer_preview(frame)
            yield frame

    async def aclose(self) -> None:
        await self._source.aclose()


def with_preview(source: FrameSource, uplink: Uplink) -> FrameSource:
    """``source``, tapped for the uplink's preview video when the uplink has one."""
    return PreviewTap(source, uplink) if isinstance(uplink, PreviewSink) else source
