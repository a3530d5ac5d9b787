"""Printing what a session did, for people at a terminal. Never prints frame bytes."""

from __future__ import annotations

from eyeline.edge.app import EdgeRunReport
from eyeline.edge.messages import Answer, AnswerTiming, CloudErrorReport, CloudEvent, TraceStep


def format_step(step: TraceStep) -> str:
    return (f"  [{step.index}] {step.kind:<8} {step.text}  "
            f"(agent {step.agent or '-'}, confidence {step.confidence:.2f}, {step.cost_us / 1000:.1f} ms)")


def format_timing(timing: AnswerTiming) -> str:
    """Where an answer's time went on the cloud, from the question's arrival to its overlay leaving."""
    stages = " · ".join(f"{s.stage} {s.us / 1000:.0f} ms" for s in timing.stages)
    warmth = "warm" if timing.warm else "cold: OCR loaded inside"
    parts = " · ".join(f"{s.stage} {s.us / 1000:.0f} ms" for s in timing.ocr_parts)
    inside = f"; ocr: {parts}" if parts else ""
    alongside = f"; segmentation {timing.segmentation_us / 1000:.0f} ms alongside" if timing.segmentation_us else ""
    return f"timing: {stages} of {timing.total_us / 1000:.0f} ms ({warmth}){inside}{alongside}"


def print_event(event: CloudEvent) -> None:
    match event:
        case TraceStep():
            print(format_step(event), flush=True)
        case Answer() if event.proactive:
            print(f"offer: {event.offer}: {event.text}", flush=True)
        case Answer():
            print(f"answer ({event.mode}{'' if event.final else ', refining'}): {event.text}", flush=True)
            if event.timing is not None:
                print(f"  {format_timing(event.timing)}", flush=True)
        case CloudErrorReport():
            print(f"cloud error {event.code}: {event.message}", flush=True)


def print_report(report: EdgeRunReport) -> None:
    stats = report.stats
    if stats is not None:
        print(f"frames: captured {stats.captured}, keyframes sent {stats.keyframes_sent}, "
              f"rendered {stats.frames_rendered}, dropped (uplink/render) "
              f"{stats.uplink_dropped}/{stats.render_dropped}, overlays {stats.overlays_received}, "
              f"offers {stats.offers_received}")
    if report.latencies:
        last = report.latencies[-1]
        print(f"last overlay: capture -> rendered {(last.rendered_ns - last.capture_ns) / 1e6:.0f} ms "
              f"(reasoning {(last.reasoned_ns - last.received_ns) / 1e6:.0f} ms)")
