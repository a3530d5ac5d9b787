"""What is known of a session's connection, for the viewer's connection panel.

For a WebRTC session it comes from the cloud-side aiortc peer: its ICE and connection states, and from
``getStats()`` the received RTP streams (packets received and lost, jitter) and the transport's bytes. A
round-trip time is known only where the cloud sends media that the far end reports on (a ``remote-inbound-rtp``
record); the edge's peer only sends to the cloud, so it is usually ``None``, and ``rtt_note`` says why. For a gRPC
session only what the session counted is known: bytes and frames in.
"""

from __future__ import annotations

from typing import Any

from aiortc import RTCPeerConnection

NO_RTT = "not measured: the cloud sends this peer no media for it to report on"


async def webrtc_connection(pc: RTCPeerConnection) -> dict[str, Any]:
    """The peer's states and the counters of its statistics report."""
    report = await pc.getStats()
    received = lost = 0
    jitter: list[float] = []
    rtts: list[float] = []
    transport_bytes = 0
    for stats in report.values():
        if stats.type == "inbound-rtp":
            received += int(getattr(stats, "packetsReceived", 0))
            lost += max(0, int(getattr(stats, "packetsLost", 0)))
            jitter.append(float(getattr(stats, "jitter", 0)))
        elif stats.type == "remote-inbound-rtp" and getattr(stats, "roundTripTime", None) is not None:
            rtts.append(float(stats.roundTripTime))
        elif stats.type == "transport":
            transport_bytes += int(getattr(stats, "bytesReceived", 0))
    expected = received + lost
    return {
        "transport": "webrtc",
        "ice_state": pc.iceConnectionState,
        "connection_state": pc.connectionState,
        "rtt_ms": round(max(rtts) * 1000, 1) if rtts else None,
        "rtt_note": "" if rtts else NO_RTT,
        "packets_received": received,
        "packets_lost": lost,
        "loss_percent": round(100 * lost / expected, 2) if expected else 0.0,
        "jitter": max(jitter) if jitter else None,   # in RTP timestamp units, as aiortc reports it
        "transport_bytes_in": transport_bytes,
    }


def grpc_connection() -> dict[str, Any]:
    """A gRPC session: HTTP/2 over TCP, which reports no loss or round trip to the cloud's handler."""
    return {"transport": "grpc", "ice_state": None, "connection_state": "open", "rtt_ms": None,
            "rtt_note": "not measured: gRPC exposes no round-trip time to the handler",
            "packets_received": None, "packets_lost": None, "loss_percent": None, "jitter": None}
