"""A real cloud (gRPC ingress, WHIP and the viewer over HTTP) in a background loop, for the synchronous fuzzers."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.cloud.model import Mode
from tests.fuzz.harness import LoopThread


class ErrorLog(logging.Handler):
    """Every ERROR the cloud logs: a failure it caught but did not expect (a task that died, a skill that broke)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        taken, self.records = self.records, []
        return [f"{r.name}: {r.getMessage()}" for r in taken]


@dataclass
class FuzzCloud:
    loop: LoopThread
    server: CloudServer
    http: HttpServer
    signer: TokenSigner
    errors: ErrorLog = field(default_factory=ErrorLog)

    def token(self, subject: str = "fuzz") -> str:
        return self.signer.mint(subject)


async def _warm_up_ocr(server: CloudServer) -> None:
    """Load the OCR models now, so the first fuzzed question that reaches a skill is not taken for a hang."""
    session = server.sessions.open("warm-up", "warm-up", Mode.INSTANT, server.cloud.clock.now_ns())
    try:
        await server.dispatcher.reader(session).read(np.full((48, 64, 3), 255, np.uint8))
    finally:
        await server.sessions.close(session)


@pytest.fixture(scope="module")
def fuzz_cloud() -> Iterator[FuzzCloud]:
    loop = LoopThread()
    signer = TokenSigner(os.urandom(32))
    server = CloudServer(CloudConfig(port=0, warm_up=False, agent_workers=0, hello_timeout_s=2.0), signer)
    http = HttpServer(server.cloud)
    loop.run(server.start(), 30)
    loop.run(http.start(), 30)
    loop.run(_warm_up_ocr(server), 120)
    cloud = FuzzCloud(loop, server, http, signer)
    logging.getLogger("eyeline").addHandler(cloud.errors)
    try:
        yield cloud
    finally:
        logging.getLogger("eyeline").removeHandler(cloud.errors)
        loop.run(http.stop(), 30)
        loop.run(server.stop(grace_s=0.5), 30)
        loop.close()
