"""The checked-in generated code must be exactly what the generator makes from the sources."""

from __future__ import annotations

import shutil
from pathlib import Path

from eyeline.tools import gen_protos


def test_checked_in_code_matches_the_sources() -> None:
    assert gen_protos.drifted_files() == [], "run `python -m eyeline.tools.gen_protos` and commit the result"


def test_a_changed_source_is_reported_as_drift(tmp_path: Path) -> None:
    root = tmp_path / "protos"
    shutil.copytree(gen_protos.PROTO_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    source = root / "v1" / "session.proto"
    source.write_text(source.read_text().replace("message Ack {", "message Ack {\n  uint64 extra = 99;"))
    assert {"v1/session_pb2.py", "v1/session_pb2.pyi"} <= set(gen_protos.drifted_files(root))


def test_a_stale_generated_file_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "protos"
    shutil.copytree(gen_protos.PROTO_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "v1" / "removed_pb2.py").write_text("# left behind by a deleted .proto\n")
    assert "v1/removed_pb2.py" in gen_protos.drifted_files(root)


def test_every_overlay_item_kind_of_the_contract_exists() -> None:
    from eyeline.protos.v1 import session_pb2 as pb

    shapes = {f.name for f in pb.OverlayItem.DESCRIPTOR.oneofs_by_name["shape"].fields}
    assert shapes == {"box", "outline", "badge", "arrow", "label", "panel", "step_card", "notice"}
    hops = {f.name for f in pb.HopTimes.DESCRIPTOR.fields}
    assert hops == {"capture_ns", "sent_ns", "received_ns", "reasoned_ns", "overlay_sent_ns", "rendered_ns"}
