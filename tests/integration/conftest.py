"""Fixtures the integration tests share: sessions on the real cloud of the ``cloud`` fixture (closed afterwards),
a cloud that records its sessions, WHIP and the viewer over HTTP, and a self-signed certificate for TLS."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions

from .helpers import Session, hello

OpenSession = Callable[..., Awaitable[Session]]


@pytest.fixture
async def connect(cloud: CloudServer, signer: TokenSigner) -> AsyncIterator[OpenSession]:
    opened: list[Session] = []

    async def open_session(token: str | None = None) -> Session:
        uplink = GrpcUplink(UplinkOptions(cloud.address, connect_timeout_s=5))
        await uplink.open(hello(signer.mint("test") if token is None else token))
        session = Session(uplink)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        await session.close()


@pytest.fixture
async def recording_cloud(signer: TokenSigner, tmp_path: Path) -> AsyncIterator[CloudServer]:
    """A cloud that records each session into ``tmp_path / "cloud"``."""
    server = CloudServer(CloudConfig(port=0, warm_up=False, record_dir=tmp_path / "cloud"), signer)
    await server.start()
    yield server
    await server.stop(grace_s=0.5)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
async def http(cloud: CloudServer) -> AsyncIterator[HttpServer]:
    """WHIP and the viewer, served for the ``cloud`` fixture on a free port."""
    server = HttpServer(cloud.cloud)
    await server.start()
    yield server
    await server.stop()
