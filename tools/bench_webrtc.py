"""The WebRTC round trip for the benchmark harness: frame -> overlay over WebRTC's data channel vs over gRPC.

One cloud process on loopback with a no-op per-frame skill serves both transports; the same 720p JPEG payloads
at the same pace go up as ``Frame`` messages either way, so the difference is the transport alone.
"""

from __future__ import annotations

import asyncio
import os
import re
import time

from eyeline.cloud.auth import TokenSigner
from eyeline.edge.messages import OverlayArrival
from eyeline.edge.transport import Uplink
from eyeline.edge.wire import EncodedFrame, HelloOut
from eyeline.tools import bench


def _hello(fps: float) -> HelloOut:
    return HelloOut(token=TokenSigner(bench._SECRET.encode()).mint("bench"), profile_name="bench", width=1280,
                    height=720, fps=fps, horizontal_fov_deg=70, uplink_budget_kbps=0, has_display=True)


async def measure_round_trip(uplink: Uplink, name: str, payloads: list[bytes], fps: float) -> bench.Latencies:
    """Send ``payloads`` paced at ``fps`` over an opened uplink; the time until each frame's overlay is back."""
    sent: dict[int, int] = {}
    received: dict[int, int] = {}

    async def read() -> None:
        async for event in uplink:
            if isinstance(event, OverlayArrival):
                received[event.overlay.frame_seq] = time.perf_counter_ns()
                if len(received) == len(payloads):
                    return

    reader = asyncio.create_task(read())
    start = time.perf_counter()
    for seq, data in enumerate(payloads, 1):
        await asyncio.sleep(max(0.0, start + (seq - 1) / fps - time.perf_counter()))
        sent[seq] = time.perf_counter_ns()
        await uplink.push_frame(EncodedFrame(seq, f"b{seq}", sent[seq], data, 1280, 720))
    await asyncio.wait_for(reader, 60)
    return bench.Latencies(name, tuple((received[s] - sent[s]) / 1e6 for s in sorted(sent)))


async def run_webrtc_vs_grpc(frames: int, fps: float) -> tuple[bench.Latencies, bench.Latencies]:
    from eyeline.edge.uplink import GrpcUplink, UplinkOptions
    from eyeline.edge.webrtc_uplink import WebRtcOptions, WebRtcUplink

    payloads = await asyncio.to_thread(bench.make_payloads, frames)
    env = {**os.environ, "EYELINE_TOKEN_SECRET": bench._SECRET}
    args = ["-m", "eyeline.tools.cli", "cloud", "--port", "0", "--http-port", "0", "--frame-skill", "noop"]
    cloud, address = bench._start(args, env)
    try:
        assert cloud.stdout is not None
        match = re.search(r"viewer listening on (http://\S+?)/?$", cloud.stdout.readline().strip())
        if match is None:
            raise RuntimeError("the cloud serves no WHIP endpoint: is the 'webrtc' extra installed?")
        results = []
        for name, uplink in (("gRPC frame -> overlay", GrpcUplink(UplinkOptions(address))),
                             ("WebRTC data channel frame -> overlay",
                              WebRtcUplink(WebRtcOptions(f"{match.group(1)}/whip", preview_fps=0)))):
            await uplink.open(_hello(fps))
            try:
                results.append(await measure_round_trip(uplink, name, payloads, fps))
            finally:
                await uplink.aclose()
    finally:
        bench._stop(cloud)
    return results[1], results[0]


def render_section(webrtc: bench.Latencies, grpc: bench.Latencies, frames: int, fps: float) -> str:
    rows = "\n".join(f"| {m.name} | {len(m.samples_ms)} | {m.p50:.2f} | {m.p95:.2f} | {m.p50 / grpc.p50:.2f}x | "
                     f"{m.p95 / grpc.p95:.2f}x |" for m in (webrtc, grpc))
    return f"""## Round trip: frame -> overlay over WebRTC vs gRPC

The same {frames} JPEG frames at {fps:g} fps, to one cloud process on loopback with the no-op per-frame skill,
once over the gRPC stream and once as the same protobuf messages on the WebRTC data channel (DTLS/SCTP over
ICE, the preview video track off). The baseline is the gRPC path, measured in the same run.

| path | frames | p50 ms | p95 ms | p50 vs gRPC | p95 vs gRPC |
|---|---:|---:|---:|---:|---:|
{rows}
"""


async def webrtc_section(frames: int, fps: float) -> str:
    webrtc, grpc = await run_webrtc_vs_grpc(frames, fps)
    return render_section(webrtc, grpc, frames, fps)
