"""TLS on the session stream when the cloud has a certificate."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.errors import CloudError
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import UplinkError

from .helpers import hello


async def test_a_tls_cloud_serves_an_edge_that_trusts_its_certificate(
        certificate: tuple[Path, Path], signer: TokenSigner) -> None:
    cert, key = certificate
    server = CloudServer(CloudConfig(port=0, warm_up=False, tls_cert=cert, tls_key=key), signer)
    await server.start()
    try:
        trusted = GrpcUplink(UplinkOptions(server.address, tls_ca=cert, connect_timeout_s=5))
        welcome = await trusted.open(hello(signer.mint("edge")))
        await trusted.aclose()
        assert welcome.session_id
        plaintext = GrpcUplink(UplinkOptions(server.address, connect_timeout_s=1))
        with pytest.raises(UplinkError, match="cannot reach"):
            await plaintext.open(hello(signer.mint("edge")))
    finally:
        await server.stop(0.5)


async def test_a_missing_key_file_is_a_clear_error(certificate: tuple[Path, Path], signer: TokenSigner,
                                                   tmp_path: Path) -> None:
    cert, _ = certificate
    server = CloudServer(CloudConfig(port=0, warm_up=False, tls_cert=cert, tls_key=tmp_path / "absent.pem"), signer)
    with pytest.raises(CloudError, match=r"absent\.pem"):
        await server.start()
