"""HTTPS on the cloud's HTTP port (WHIP, the viewer, /glasses) with ``--tls-cert``/``--tls-key``: a phone's browser
opens the camera only on a secure origin."""

from __future__ import annotations

import re
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.errors import CloudError
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpConfig, HttpServer


async def test_the_http_port_serves_https_to_a_client_that_trusts_the_certificate(
        cloud: CloudServer, signer: TokenSigner, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = HttpServer(cloud.cloud, HttpConfig(tls_cert=cert, tls_key=key))
    await server.start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{server.url}/glasses", ssl=trust) as page:
                assert page.status == 200 and "glasses.js" in await page.text()
            headers = {"Authorization": f"Bearer {signer.mint('phone')}"}
            async with client.get(f"{server.url}/api/sessions", ssl=trust, headers=headers) as sessions:
                assert sessions.status == 200
            with pytest.raises(aiohttp.ClientError):   # plain HTTP is not served on the port
                async with client.get(f"http://127.0.0.1:{server.port}/glasses") as plain:
                    await plain.read()
            with pytest.raises(aiohttp.ClientConnectorCertificateError):   # nor TLS to a client that trusts nothing
                async with client.get(f"{server.url}/glasses") as untrusted:
                    await untrusted.read()
    finally:
        await server.stop()


async def test_a_certificate_without_its_key_is_a_clear_error(
        cloud: CloudServer, certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, _ = certificate
    with pytest.raises(CloudError, match="--tls-key"):
        await HttpServer(cloud.cloud, HttpConfig(tls_cert=cert)).start()
    with pytest.raises(CloudError, match=r"absent\.pem"):
        await HttpServer(cloud.cloud, HttpConfig(tls_cert=cert, tls_key=tmp_path / "absent.pem")).start()


@pytest.mark.slow
def test_eyeline_cloud_serves_the_viewer_over_https_with_its_tls_flags(
        certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = certificate
    secret = tmp_path / "secret"
    secret.write_bytes(b"tls-test-secret-0123456789abcdef")
    process = subprocess.Popen([sys.executable, "-m", "eyeline.tools.cli", "cloud", "--port", "0", "--http-port", "0",
                                "--secret-file", str(secret), "--tls-cert", str(cert), "--tls-key", str(key)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        assert "listening on" in lines[0]
        match = re.search(r"viewer listening on (https://\S+)/", lines[1])
        assert match, lines
        page = urllib.request.urlopen(f"{match.group(1)}/glasses", context=ssl.create_default_context(cafile=str(cert)),
                                      timeout=10)
        assert page.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
