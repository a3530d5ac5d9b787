"""A fixture that opens sessions on the real cloud of the ``cloud`` fixture and closes them afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from eyeline.cloud.auth import TokenSigner
from eyeline.cloud.server import CloudServer
from eyeline.edge.uplink import GrpcUplink, UplinkOptions

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
