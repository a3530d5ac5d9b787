"""What is known of a session's connection, for the viewer's connection panel.

For a WebRTC session it comes from the cloud-side aiortc peer: its ICE and connection states, and from
``getStats()`` the received RTP streams (packets received and lost, jitter) and the transport's bytes. The round
trip comes from a ``remote-inbound-rtp`` record where the cloud sends media the far end reports on; the edge's peer
only sends media to the cloud, so otherwise it is the data channel's: SCTP times the acknowledgement of every chunk
the cloud sends (its messages) and keeps a smoothed round trip (RFC 4960 6.3.1), which aiortc holds but does not
report in ``getStats``. ``rtt_source`` says which; ``rtt_note`` why there is none. For a gRPC session only what
the session counted is known.
"""

from __future__ import annotations

from typing import Any

from aiortc import RTCPeerConnection

NO_RTT = "not measured yet: no media report, and no data channel message acknowledged"


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
            # aiortc reports jitter in RTP timestamp units: 90 kHz for video, 48 kHz for Opus audio.
            clock_hz = 90_000 if getattr(stats, "kind", "") == "video" else 48_000
            jitter.append(1000 * float(getattr(stats, "jitter", 0)) / clock_hz)
        elif stats.type == "remote-inbound-rtp" and getattr(stats, "roundTripTime", None) is not None:
            rtts.append(float(stats.roundTripTime))
        elif stats.type == "transport":
            transport_bytes += int(getattr(stats, "bytesReceived", 0))
    expected = received + lost
    source = "rtcp" if rtts else ""
    if not rtts and (srtt := _sctp_smoothed_rtt(pc)) is not None:
        rtts, source = [srtt], "sctp"
    return {
        "transport": "webrtc",
        "ice_state": pc.iceConnectionState,
        "connection_state": pc.connectionState,
        "rtt_ms": round(max(rtts) * 1000, 1) if rtts else None,
        "rtt_source": source,
        "rtt_note": "" if rtts else NO_RTT,
        "packets_received": received,
        "packets_lost": lost,
        "loss_percent": round(100 * lost / expected, 2) if expected else 0.0,
        "jitter_ms": round(max(jitter), 2) if jitter else None,
        "transport_bytes_in": transport_bytes,
    }


def _sctp_smoothed_rtt(pc: RTCPeerConnection) -> float | None:
    """The data channel's smoothed round trip in seconds, once a chunk the cloud sent was acknowledged."""
    # aiortc keeps it private (RTCSctpTransport._srtt): read defensively, so a release without it gives None.
    srtt = getattr(pc.sctp, "_srtt", None) if pc.sctp is not None else None
    return float(srtt) if isinstance(srtt, int | float) else None


def grpc_connection() -> dict[str, Any]:
    """A gRPC session: HTTP/2 over TCP, which reports no loss or round trip to the cloud's handler."""
    return {"transport": "grpc", "ice_state": None, "connection_state": "open", "rtt_ms": None, "rtt_source": "",
            "rtt_note": "not measured: gRPC exposes no round-trip time to the handler",
            "packets_received": None, "packets_lost": None, "loss_percent": None, "jitter_ms": None}
