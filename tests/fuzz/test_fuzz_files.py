"""Files a user or a stranger hands over: knowledge packs (JSON or TOML) and the daemon's TOML configuration.
Each loads, or fails with the package's typed error naming the problem."""

from __future__ import annotations

import json
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from eyeline.cloud.knowledge.packs import KnowledgePackError, load_pack_file
from eyeline.edge.daemon import config as daemon_config
from eyeline.edge.daemon.config import ConfigError, load_config, parse_config
from tests.fuzz.harness import fuzz_target, run_case
from tests.fuzz.strategies import document_like, json_values, mutated, scalars

_KIT: dict[str, Any] = {
    "kind": "repair_kit", "version": 1, "id": "grinder", "machine": "Burr Grinder", "text_cues": ["BURR"],
    "reference_images": ["ref.png"],
    "components": [{"id": "hopper", "name": "Hopper", "region": [0.1, 0.1, 0.5, 0.4]}],
    "steps": [{"instruction": "Lift the hopper", "target": "hopper", "done_cue": "REMOVED"}],
    "safety": ["Unplug the grinder first."],
}
_CATALOG: dict[str, Any] = {
    "kind": "catalog", "version": 1,
    "products": [{"id": "bar", "brand": "Acme", "name": "Bar", "serving_g": 60, "protein_per_serving_g": 20}],
}
_REFERENCES = st.sampled_from(["ref.png", "../ref.png", "/etc/hostname", "sub/../ref.png", "", ".", "ref.png\x00",
                               "~/ref.png", "C:\\ref.png", "//server/share", "ref.png/.."])
_EXAMPLE_TOML = re.search(r"```toml\n(.*?)```", daemon_config.__doc__ or "", re.S)
assert _EXAMPLE_TOML is not None
EXAMPLE_CONFIG = _EXAMPLE_TOML.group(1)


def _pack_documents() -> st.SearchStrategy[Any]:
    kits = document_like(_KIT)
    kits_with_paths = st.builds(lambda doc, refs: {**doc, "reference_images": refs}, kits, st.lists(_REFERENCES,
                                                                                                    max_size=3))
    return st.one_of(kits, kits_with_paths, document_like(_CATALOG), json_values())


def _write_pack(folder: Path, text: bytes, suffix: str) -> Path:
    (folder / "ref.png").write_bytes(b"\x89PNG")
    path = folder / "pack" / f"grinder{suffix}"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(text)
    return path


@fuzz_target
@given(document=_pack_documents())
def test_knowledge_pack_documents_load_or_name_their_fault(document: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write_pack(Path(folder), json.dumps(document).encode(), ".json")
        run_case("knowledge packs", lambda: load_pack_file(path), (KnowledgePackError,))


@fuzz_target
@given(text=st.one_of(mutated((json.dumps(_KIT).encode(), json.dumps(_CATALOG).encode())), st.binary(max_size=256)),
       suffix=st.sampled_from([".json", ".toml"]))
def test_knowledge_pack_bytes_load_or_name_their_fault(text: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write_pack(Path(folder), text, suffix)
        run_case("knowledge packs", lambda: load_pack_file(path), (KnowledgePackError,))


@fuzz_target
@given(text=st.one_of(mutated((EXAMPLE_CONFIG.encode(),), max_edits=4), st.binary(max_size=256)))
def test_daemon_config_files_load_or_name_their_fault(text: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "eyeline.toml"
        path.write_bytes(text)
        run_case("daemon TOML config", lambda: load_config(path), (ConfigError,))


def _config_documents() -> st.SearchStrategy[dict[str, Any]]:
    example = tomllib.loads(EXAMPLE_CONFIG)

    paths = st.sampled_from(["~nosuchuser/token", "~/token", "tok\x00en", "", "/", "relative/token"])

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        sections = draw(document_like(example, scalars(), extra_keys=1))
        document = {section: draw(document_like(table, scalars(), extra_keys=1)) if isinstance(table, dict) else table
                    for section, table in sections.items()}
        if isinstance(document.get("cloud"), dict) and draw(st.booleans()):
            document["cloud"]["token_file"] = draw(paths)
        return document
    return build()


@fuzz_target
@given(document=_config_documents())
def test_daemon_config_values_load_or_name_their_fault(document: dict[str, Any]) -> None:
    run_case("daemon TOML config", lambda: parse_config(document, source="fuzz.toml", base=Path("/tmp")),
             (ConfigError,))
