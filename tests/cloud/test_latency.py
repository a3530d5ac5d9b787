"""Per-hop latency records from the edge's reports: a shared clock taken as it is, a foreign one placed by the
round trip."""

from __future__ import annotations

from eyeline.cloud.session.latency import RenderedIn, latency_record

CLOUD_HOPS = dict(capture_ns=1_000, sent_ns=2_000, received_ns=5_000, reasoned_ns=9_000, overlay_sent_ns=10_000)


def test_an_edge_on_the_cloud_clock_is_recorded_as_reported() -> None:
    rendered = RenderedIn("t1", "o1", **CLOUD_HOPS, arrived_ns=10_400, rendered_ns=10_900)
    record = latency_record(rendered, ack_sent_ns=11_000, ack_received_ns=11_300)
    assert record.shared_clock
    assert (record.arrived_ns, record.rendered_ns) == (10_400, 10_900)
    assert record.hops_ms()["downlink"] == 400 / 1e6


def test_a_browser_clock_is_placed_by_half_the_round_trip() -> None:
    # A symmetric path of 300 ns each way, a browser clock 7 s behind, 50 ns to draw, 200 ns before the Ack.
    offset, way = -7_000_000_000, 300
    arrived_true = CLOUD_HOPS["overlay_sent_ns"] + way
    rendered_true, ack_sent_true = arrived_true + 50, arrived_true + 200
    rendered = RenderedIn("t1", "o1", **CLOUD_HOPS, arrived_ns=arrived_true + offset,
                          rendered_ns=rendered_true + offset)
    record = latency_record(rendered, ack_sent_ns=ack_sent_true + offset, ack_received_ns=ack_sent_true + way)
    assert not record.shared_clock
    assert (record.arrived_ns, record.rendered_ns) == (arrived_true, rendered_true)
    times = [record.capture_ns, record.sent_ns, record.received_ns, record.reasoned_ns, record.overlay_sent_ns,
             record.arrived_ns, record.rendered_ns]
    assert times == sorted(times)
