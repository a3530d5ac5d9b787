"""The daemon's offline fallback cloud: ``eyeline cloud`` itself, in-process on loopback.

It starts when the daemon first falls back and stays up (its models loaded) until the daemon stops, so going
offline a second time costs no model loading. It has a secret of its own, made at start and never written
anywhere: only this process can mint a token it accepts, and nothing else can resume its sessions.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from eyeline.edge.daemon.fallback import FallbackEndpoint, FallbackError, FallbackSettings

if TYPE_CHECKING:
    from eyeline.cloud.app import CloudConfig, CloudServer
    from eyeline.cloud.ingress.auth import TokenSigner

_TOKEN_TTL_S = 24 * 3600   # minted afresh at each fallback; a day covers any one stretch offline


def fallback_cloud_config(settings: FallbackSettings | None = None) -> CloudConfig:
    """What a device can afford: a few sessions, no sub-agent processes (Contemplating thinks in-process); the
    model reasoner when the daemon's ``[fallback]`` names one."""
    from eyeline.cloud.app import CloudConfig
    from eyeline.cloud.reasoning.budgets import model_config

    model = None
    if settings is not None and settings.model_url:
        model = model_config(settings.model_url, settings.model, settings.model_key_file)
    return CloudConfig(host="127.0.0.1", port=0, max_sessions=4, agent_workers=0, ocr_workers=1, model=model)


class EmbeddedCloud:
    """A ``FallbackCloud`` (``eyeline.edge.daemon.fallback``) running a ``CloudServer`` on 127.0.0.1, any free port."""

    def __init__(self, config: CloudConfig | None = None) -> None:
        self._config = config
        self._signer: TokenSigner | None = None
        self.server: CloudServer | None = None

    async def start(self) -> FallbackEndpoint:
        if self.server is None or self._signer is None:
            # Importing the cloud and building its pipeline load models: kept off the event loop.
            signer, server = await asyncio.to_thread(self._build)
            try:
                await server.start()
            except Exception as exc:  # grpc reports a port it cannot bind as a bare RuntimeError
                raise FallbackError(f"the embedded cloud did not start: {exc}") from exc
            self._signer, self.server = signer, server
        return FallbackEndpoint(self.server.address, self._signer.mint("edge-fallback", _TOKEN_TTL_S))

    def _build(self) -> tuple[TokenSigner, CloudServer]:
        try:
            from eyeline.cloud.app import CloudServer
            from eyeline.cloud.ingress.auth import TokenSigner
        except ImportError as exc:
            raise FallbackError(f"no embedded cloud: {exc.name} is not installed") from exc
        from eyeline.cloud.errors import CloudError

        signer = TokenSigner(os.urandom(32))
        try:
            return signer, CloudServer(self._config or fallback_cloud_config(), signer)
        except CloudError as exc:
            raise FallbackError(f"the embedded cloud did not start: {exc}") from exc

    async def aclose(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.stop(grace_s=1.0)
