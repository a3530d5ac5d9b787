"""The round-trip section of ``eyeline bench``.

Round trip: frames of the synthetic shelf as 720p JPEG, paced at the profile's frame rate, go to a cloud
process on loopback whose per-frame skill is a no-op; the time until each frame's overlay is back at the
edge is measured. The baseline, measured in the same run, is a bare gRPC echo server (separate process,
same payloads, same pacing) that returns a tiny message per request: what any gRPC transport costs.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import cv2
import grpc

from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.messages import OverlayArrival
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import Uplink
from eyeline.edge.transport.wire import EncodedFrame, HelloOut

ECHO_METHOD = "/eyeline.bench.Echo/Connect"
# Handed to the cloud process through its environment, so it is text.
_SECRET = os.urandom(32).hex()


@dataclass(frozen=True, slots=True)
class Latencies:
    name: str
    samples_ms: tuple[float, ...]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples_ms, n=20)[18]


def make_payloads(frames: int) -> list[bytes]:
    """720p JPEGs of the shelf under head motion, encoded before timing starts."""
    scene = make_shelf_scene(seed=0)
    unique = [render_shelf_frame(scene, i / 30)[0] for i in range(min(frames, 30))]
    encoded = [cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes() for image in unique]
    return [encoded[i % len(encoded)] for i in range(frames)]


# ------------------------------------------------------------------ child processes

def _start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    match = re.search(r"listening on (\S+)", process.stdout.readline())
    if match is None:
        process.kill()
        raise RuntimeError(f"benchmark server {args} did not start")
    return process, match.group(1)


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


async def _serve_echo() -> None:
    async def echo(requests, context):  # type: ignore[no-untyped-def]
        async for _ in requests:
            yield b"ok"

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 16 << 20)])
    handler = grpc.stream_stream_rpc_method_handler(echo)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("eyeline.bench.Echo", {"Connect": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"echo listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


# ------------------------------------------------------------------ measurements

async def _paced(payload_count: int, fps: float) -> list[float]:
    start = time.perf_counter()
    return [start + i / fps for i in range(payload_count)]


def bench_hello(fps: float) -> HelloOut:
    return HelloOut(token=TokenSigner(_SECRET.encode()).mint("bench"), profile_name="bench", width=1280,
                    height=720, fps=fps, horizontal_fov_deg=70, uplink_budget_kbps=0, has_display=True)


async def measure_round_trip(uplink: Uplink, name: str, payloads: list[bytes], fps: float) -> Latencies:
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
    for seq, (deadline, data) in enumerate(zip(await _paced(len(payloads), fps), payloads, strict=True), 1):
        await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
        sent[seq] = time.perf_counter_ns()
        await uplink.push_frame(EncodedFrame(seq, f"b{seq}", sent[seq], data, 1280, 720))
    await asyncio.wait_for(reader, 60)
    return Latencies(name, tuple((received[s] - sent[s]) / 1e6 for s in sorted(sent)))


async def measure_eyeline(address: str, payloads: list[bytes], fps: float) -> Latencies:
    uplink = GrpcUplink(UplinkOptions(address))
    await uplink.open(bench_hello(fps))
    try:
        return await measure_round_trip(uplink, "eyeline frame -> overlay (no-op skill)", payloads, fps)
    finally:
        await uplink.aclose()


async def measure_echo(address: str, payloads: list[bytes], fps: float) -> Latencies:
    async with grpc.aio.insecure_channel(address, options=[("grpc.max_send_message_length", 16 << 20)]) as channel:
        call = channel.stream_stream(ECHO_METHOD)()
        samples = []
        for deadline, data in zip(await _paced(len(payloads), fps), payloads, strict=True):
            await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
            began = time.perf_counter_ns()
            await call.write(data)
            await call.read()
            samples.append((time.perf_counter_ns() - began) / 1e6)
        await call.done_writing()
    return Latencies("baseline: bare gRPC echo of the same JPEG", tuple(samples))


async def run_roundtrip(frames: int, fps: float) -> tuple[Latencies, Latencies, float]:
    """(eyeline, baseline, mean payload KiB)."""
    payloads = await asyncio.to_thread(make_payloads, frames)
    env = {**os.environ, "EYELINE_TOKEN_SECRET": _SECRET}
    echo, echo_address = _start(["-m", "eyeline.tools.bench_roundtrip", "--echo-server"], env)
    cloud, cloud_address = _start(["-m", "eyeline.tools.cli", "cloud", "--port", "0", "--frame-skill", "noop"], env)
    try:
        baseline = await measure_echo(echo_address, payloads, fps)
        eyeline = await measure_eyeline(cloud_address, payloads, fps)
    finally:
        _stop(echo)
        _stop(cloud)
    return eyeline, baseline, statistics.mean(len(p) for p in payloads) / 1024


# ------------------------------------------------------------------ report

def render_report(eyeline: Latencies, baseline: Latencies, frames: int, fps: float, payload_kib: float,
                  command: str) -> str:
    rows = "\n".join(f"| {m.name} | {len(m.samples_ms)} | {m.p50:.2f} | {m.p95:.2f} | "
                     f"{m.p50 / baseline.p50:.2f}x | {m.p95 / baseline.p95:.2f}x |" for m in (eyeline, baseline))
    return f"""# Performance

Every figure comes from the benchmark harness and is compared with a baseline measured in the same run.

## Round trip: frame -> overlay over loopback gRPC

{frames} frames of the synthetic shelf, 1280x720 JPEG (quality 80, ~{payload_kib:.0f} KiB), paced at {fps:g} fps.
The cloud runs in its own process with a no-op per-frame skill, so the figure is the transport and the
session machinery: JPEG header checks and decoding, dispatch, the overlay message and its way back. The
baseline is a bare gRPC echo server in its own process fed the same payloads at the same pace.

| path | frames | p50 ms | p95 ms | p50 vs baseline | p95 vs baseline |
|---|---:|---:|---:|---:|---:|
{rows}

Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.
Command: `{command}`
"""


if __name__ == "__main__":
    if sys.argv[1:] == ["--echo-server"]:
        asyncio.run(_serve_echo())
