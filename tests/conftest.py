"""Fixtures shared by the suite: a real cloud on loopback and the real test data beside the repo."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from eyeline.cloud.ingress.auth import TokenSigner

if TYPE_CHECKING:
    from eyeline.cloud.app import CloudServer
    from eyeline.edge.voice.asr import WhisperTranscriber

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")   # a path: module-scoped fixtures that read the real photos take it too
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(os.urandom(32))


@pytest.fixture
async def cloud(signer: TokenSigner) -> AsyncIterator[CloudServer]:
    from eyeline.cloud.app import CloudConfig, CloudServer

    server = CloudServer(CloudConfig(port=0, warm_up=False), signer)
    await server.start()
    yield server
    await server.stop(grace_s=0.5)


@pytest.fixture(scope="session")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WhisperTranscriber]:
    """The packaged Whisper base model, assembled and loaded once for the whole run."""
    from eyeline.edge.voice.asr import WhisperOptions, WhisperTranscriber

    transcriber = WhisperTranscriber(WhisperOptions(cache_dir=tmp_path_factory.mktemp("models")))
    transcriber.load()
    yield transcriber
    transcriber.close()
