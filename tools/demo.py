"""The embedded demo: a cloud on loopback and an edge on the synthetic shelf, talking real gRPC.

No camera, GPU or network: the shelf is rendered, the OCR models come from the ``rapidocr`` wheel, and
the token secret is made up for the run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.reasoning.budgets import ModelConfig
from eyeline.devices.profiles import RAYBAN_CLASS
from eyeline.edge.app import EdgeAppOptions, EdgeRunReport, run_edge
from eyeline.edge.messages import CloudEvent

DEMO_QUESTION = "which of these has the most protein?"


@dataclass(frozen=True, slots=True)
class DemoResult:
    report: EdgeRunReport
    video_path: Path
    snapshot_path: Path


async def run_demo(out_dir: Path, *, question: str = DEMO_QUESTION, seed: int = 0,
                   on_event: Callable[[CloudEvent], None] | None = None,
                   model: ModelConfig | None = None, ray: str = "") -> DemoResult:
    """``ray``: answer through Ray Serve deployments ("auto": a local Ray; else a cluster's address)."""
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    signer = TokenSigner(os.urandom(32))
    server = CloudServer(CloudConfig(port=0, model=model, ray=ray), signer)
    await server.start()
    try:
        options = EdgeAppOptions(
            device=f"synthetic:shelf?seed={seed}", cloud=server.address, token=signer.mint("demo", 600),
            profile=RAYBAN_CLASS, question=question, video_path=out_dir / "demo.mp4",
            snapshot_path=out_dir / "snapshot.png", linger_s=2.0)
        report = await run_edge(options, on_event=on_event)
    finally:
        await server.stop(grace_s=1.0)
    return DemoResult(report, out_dir / "demo.mp4", out_dir / "snapshot.png")
