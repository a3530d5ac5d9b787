"""Per-hop latency of one overlay, from the camera to the edge's display, in the cloud's clock.

The edge reports, in an ``Ack``, each overlay it drew: the hops it arrived with, when it came off the
transport (``arrived_ns``) and when it was drawn (``rendered_ns``), both in the edge's clock. An edge on the
cloud's machine shares its monotonic clock, and the report is taken as it is. Any other edge (a browser's
``performance.now()``, another machine) has a clock of its own: then the downlink is estimated as half the
round trip (the overlay's way down plus the Ack's way up, less the time the edge held the overlay, the same
estimate NTP makes), and arrival and rendering are placed in the cloud's clock from there. Which case holds
is told by the timestamps themselves: in a shared clock they must fall in order between the overlay leaving
and the Ack arriving.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RenderedIn:
    """One overlay as the edge reports it (edge clock for ``arrived_ns`` and ``rendered_ns``)."""

    trace_id: str
    overlay_id: str
    capture_ns: int
    sent_ns: int
    received_ns: int
    reasoned_ns: int
    overlay_sent_ns: int
    arrived_ns: int
    rendered_ns: int


@dataclass(frozen=True, slots=True)
class LatencyRecord:
    """The hops of one rendered overlay, every timestamp in the cloud's clock (integer ns)."""

    trace_id: str
    overlay_id: str
    capture_ns: int
    sent_ns: int
    received_ns: int
    reasoned_ns: int
    overlay_sent_ns: int
    arrived_ns: int
    rendered_ns: int
    shared_clock: bool      # False: arrival and rendering were placed by the round-trip estimate

    def hops_ms(self) -> dict[str, float]:
        """The five hops the viewer graphs, in milliseconds."""
        spans = {"capture": (self.capture_ns, self.sent_ns), "uplink": (self.sent_ns, self.received_ns),
                 "reasoning": (self.received_ns, self.overlay_sent_ns),
                 "downlink": (self.overlay_sent_ns, self.arrived_ns), "render": (self.arrived_ns, self.rendered_ns)}
        return {name: max(0, end - start) / 1e6 for name, (start, end) in spans.items()}


def latency_record(rendered: RenderedIn, *, ack_sent_ns: int, ack_received_ns: int) -> LatencyRecord:
    """``rendered`` in the cloud's clock, given when the edge sent its Ack (edge clock) and the cloud read it."""
    r = rendered
    shared = r.overlay_sent_ns <= r.arrived_ns <= r.rendered_ns <= ack_sent_ns <= ack_received_ns
    if shared:
        arrived, drawn = r.arrived_ns, r.rendered_ns
    else:
        held = max(0, ack_sent_ns - r.arrived_ns)                 # edge clock: overlay in, Ack out
        round_trip = max(0, ack_received_ns - r.overlay_sent_ns - held)
        arrived = r.overlay_sent_ns + round_trip // 2
        drawn = arrived + max(0, r.rendered_ns - r.arrived_ns)
    return LatencyRecord(r.trace_id, r.overlay_id, r.capture_ns, r.sent_ns, r.received_ns, r.reasoned_ns,
                         r.overlay_sent_ns, arrived, drawn, shared)
