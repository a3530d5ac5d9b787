"""`eyeline eval --model-url ...` against Eyeline's own /v1 (the embedded engine as the model): it prints
accuracy, latency and model tokens per mode."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from eyeline.cloud.app import CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.ingress.http import HttpServer
from eyeline.tools.cli import main
from eyeline.tools.evalset import MODEL_SECTION_START, SECTION_START

pytestmark = pytest.mark.slow


async def test_eval_with_a_model_prints_tokens_per_mode(cloud: CloudServer, http: HttpServer, signer: TokenSigner,
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "key"
    key.write_text(signer.mint("eval-model"))
    code = await asyncio.to_thread(main, ["eval", "--mode", "thinking", "--shelf", "1", "--repair", "0",
                                          "--model-url", f"{http.url}/v1", "--model", "eyeline-instant",
                                          "--model-key-file", str(key), "--performance", str(tmp_path / "P.md")])
    out = capsys.readouterr().out
    assert code == 0
    assert "model tokens per answer" in out and "model tokens per correct answer" in out
    row = [line for line in out.splitlines() if line.startswith("| thinking |")]
    assert row, out
    cells = [cell.strip() for cell in row[0].strip("|").split("|")]
    assert cells[1] == "100%", out                # the embedded engine over /v1 names the right product
    assert int(cells[9]) > 85                      # the model pass cost tokens (an image alone is 85 or more)
    assert re.search(r"thinking\s+shelf-000\s+ok .* \d+ tokens", out)
    written = (tmp_path / "P.md").read_text()
    assert "--model-url" in written and MODEL_SECTION_START in written and SECTION_START not in written
