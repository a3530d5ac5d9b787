"""The WebRTC round trip for the benchmark harness: frame -> overlay over WebRTC's data channel vs over gRPC.

One cloud process on loopback with a no-op per-frame skill serves both transports; the same 720p JPEG payloads
at the same pace go up as ``Frame`` messages either way, so the difference is the transport alone.
"""

from __future__ import annotations

import asyncio
import os
import re

from eyeline.tools import bench_roundtrip as bench


async def run_webrtc_vs_grpc(frames: int, fps: float) -> tuple[bench.Latencies, bench.Latencies]:
    from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
    from eyeline.edge.transport.webrtc_uplink import WebRtcOptions, WebRtcUplink

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
            await uplink.open(bench.bench_hello(fps))
            try:
                results.append(await bench.measure_round_trip(uplink, name, payloads, fps))
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
