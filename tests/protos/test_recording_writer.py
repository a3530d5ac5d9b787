"""The writer thread both recorders share: with a stalled disk, ``wait`` holds the producer back and loses nothing,
``drop`` never holds it back and counts what it turned away; either way the file is whole afterwards."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from eyeline.devices.recording import RecordingReader
from eyeline.protos import recording as layout
from eyeline.protos.recording_io import DROP, WAIT, PendingRecord, RecordingWriter, WriterOptions
from eyeline.protos.v1 import session_pb2 as pb

RECORDS = 12


class StallingDisk(io.FileIO):
    """A file whose writes wait while ``open_gate`` is clear: a disk that has stopped keeping up."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "wb")
        self.open_gate = threading.Event()
        self.open_gate.set()

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.open_gate.wait()
        return super().write(data)


def _query(index: int) -> PendingRecord:
    return PendingRecord.of(layout.QUERIES, index, 0, pb.Query(query_id=f"q{index}", text="which?"))


def _stalled_writer(path: Path, when_full: str) -> tuple[RecordingWriter, StallingDisk]:
    disk = StallingDisk(path)
    writer = RecordingWriter(disk, {}, WriterOptions(when_full, chunk_bytes=1, flush_interval_s=0.05, queue_items=2))
    writer.start()
    disk.open_gate.clear()
    return writer, disk


def _recorded(path: Path) -> list[str]:
    reader = RecordingReader(path, required=(layout.QUERIES,))
    return [m.message.query_id for m in reader.messages(frozenset({layout.QUERIES}))]


def test_wait_holds_the_producer_back_while_the_disk_stalls_and_loses_nothing(tmp_path: Path) -> None:
    writer, disk = _stalled_writer(tmp_path / "wait.mcap", WAIT)
    producer = threading.Thread(target=lambda: [writer.submit(_query(i)) for i in range(RECORDS)])
    producer.start()
    producer.join(timeout=0.5)
    assert producer.is_alive()                      # held back by the full queue, not dropping
    disk.open_gate.set()
    producer.join(timeout=10)
    assert not producer.is_alive()
    writer.close()
    assert writer.failure is None and writer.stats.dropped == 0
    assert _recorded(tmp_path / "wait.mcap") == [f"q{i}" for i in range(RECORDS)]


def test_drop_never_holds_the_producer_back_and_counts_what_it_dropped(tmp_path: Path) -> None:
    writer, disk = _stalled_writer(tmp_path / "drop.mcap", DROP)
    for index in range(RECORDS):                    # returns at once although the disk has stopped
        writer.submit(_query(index))
    assert writer.stats.dropped >= RECORDS - 4       # at most: one being written, two queued, one taken
    disk.open_gate.set()
    writer.close()
    kept = _recorded(tmp_path / "drop.mcap")
    assert len(kept) == RECORDS - writer.stats.dropped and kept == sorted(kept, key=lambda q: int(q[1:]))


def test_an_unknown_back_pressure_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="when_full must be 'wait' or 'drop', not 'block'"):
        WriterOptions("block")
