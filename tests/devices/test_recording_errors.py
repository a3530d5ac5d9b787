"""Bad recordings fail with an error that names the file and the problem, never as a silent empty replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcap.writer import CompressionType, Writer

from eyeline.devices.recording import (
    CorruptRecordingError,
    EmptyRecordingError,
    MissingChannelError,
    NotMcapError,
    RecordingError,
    RecordingReader,
    SchemaVersionError,
    TruncatedRecordingError,
)
from eyeline.devices.replay import ReplaySource
from eyeline.devices.spec import open_device
from eyeline.devices.synthetic import SyntheticShelfSource
from eyeline.edge.recording.recorder import RecorderOptions, RecordingSource, SessionRecorder
from eyeline.protos import recording as layout
from eyeline.protos.clock import VirtualClock


async def good_recording(path: Path, frames: int = 4) -> Path:
    source = SyntheticShelfSource(width=160, height=90, fps=10.0, frames=frames, clock=VirtualClock(0), seed=1)
    recorder = SessionRecorder(path, RecorderOptions(chunk_bytes=1))  # a chunk per record
    recorder.open()
    async for _ in RecordingSource(source, recorder):
        pass
    await recorder.aclose()
    return path


def handmade(path: Path, *, profile: str = layout.PROFILE, version: str | None = layout.SCHEMA_VERSION,
             topic: str = layout.QUERIES) -> Path:
    """An MCAP file written directly with the `mcap` library, to get layouts our recorder never writes."""
    with path.open("wb") as stream:
        writer = Writer(stream, compression=CompressionType.NONE)
        writer.start(profile=profile, library="test")
        if version is not None:
            writer.add_metadata(layout.METADATA_NAME, {"schema_version": version})
        from eyeline.protos.recording_io import ChannelTable

        channels = ChannelTable(writer, upfront=())
        writer.add_message(channels[topic], log_time=1, data=b"", publish_time=1)
        writer.finish()  # type: ignore[no-untyped-call]
    return path


async def replay_all(path: Path) -> int:
    return len([frame async for frame in ReplaySource(path, clock=VirtualClock(0))])


async def test_a_file_that_is_not_mcap(tmp_path: Path) -> None:
    path = tmp_path / "notes.mcap"
    path.write_text("these are not the frames you are looking for")
    with pytest.raises(NotMcapError, match=r"notes\.mcap is not an MCAP file"):
        await replay_all(path)


async def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mcap"
    path.touch()
    with pytest.raises(NotMcapError, match=r"empty\.mcap is empty"):
        await replay_all(path)


async def test_an_mcap_file_that_is_not_an_eyeline_recording(tmp_path: Path) -> None:
    path = handmade(tmp_path / "robot.mcap", profile="ros2")
    with pytest.raises(NotMcapError, match="profile 'ros2'"):
        await replay_all(path)


async def test_an_unknown_schema_version(tmp_path: Path) -> None:
    path = handmade(tmp_path / "future.mcap", version="99", topic=layout.CAMERA)
    with pytest.raises(SchemaVersionError, match=r"future\.mcap has schema version '99'; this reader knows 1, 2"):
        await replay_all(path)


async def test_no_schema_version_at_all(tmp_path: Path) -> None:
    path = handmade(tmp_path / "unversioned.mcap", version=None, topic=layout.CAMERA)
    with pytest.raises(SchemaVersionError, match="schema version is unknown"):
        await replay_all(path)


async def test_a_recording_without_camera_frames(tmp_path: Path) -> None:
    path = handmade(tmp_path / "blind.mcap", topic=layout.QUERIES)
    with pytest.raises(MissingChannelError, match=r"blind\.mcap lacks channel\(s\) /camera/image"):
        await replay_all(path)


async def test_a_complete_recording_with_no_frame(tmp_path: Path) -> None:
    path = await good_recording(tmp_path / "short.mcap", frames=0)
    with pytest.raises(EmptyRecordingError, match=r"short\.mcap holds no camera frames"):
        await replay_all(path)


async def test_a_file_cut_before_its_first_chunk(tmp_path: Path) -> None:
    path = await good_recording(tmp_path / "cut.mcap")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(TruncatedRecordingError, match=r"cut\.mcap ends before its first complete chunk"):
        await replay_all(path)


async def test_a_file_cut_mid_chunk_replays_its_complete_chunks_and_says_so(tmp_path: Path) -> None:
    path = await good_recording(tmp_path / "cut.mcap", frames=4)
    data = path.read_bytes()
    full = await replay_all(path)
    path.write_bytes(data[: len(data) // 2])
    source = ReplaySource(path, clock=VirtualClock(0))
    frames = [frame async for frame in source]
    assert 0 < len(frames) < full
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert source.truncated


async def test_a_chunk_that_fails_its_checksum(tmp_path: Path) -> None:
    path = await good_recording(tmp_path / "flipped.mcap")
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptRecordingError, match=r"flipped\.mcap is corrupt after \d+ messages: crc"):
        await replay_all(path)


def test_a_missing_file_and_a_replay_device_string(tmp_path: Path) -> None:
    from eyeline.devices.base import DeviceNotFoundError

    with pytest.raises(DeviceNotFoundError, match="recording not found"):
        open_device(f"replay:{tmp_path / 'nowhere.mcap'}")


async def test_the_replay_device_string_opens_a_recording_fast(tmp_path: Path) -> None:
    path = await good_recording(tmp_path / "ok.mcap", frames=3)
    source = open_device(f"replay:{path}?fast=1")
    assert [f.seq async for f in source] == [0, 1, 2]


def test_the_reader_names_missing_channels_a_tool_needs(tmp_path: Path) -> None:
    import asyncio

    path = asyncio.run(good_recording(tmp_path / "frames-only.mcap", frames=1))
    reader = RecordingReader(path, required=layout.REQUIRED_FOR_EVAL)
    with pytest.raises(MissingChannelError, match="/eyeline/keyframes, /eyeline/queries"):
        list(reader.messages())
    assert CorruptRecordingError.__mro__[1] is RecordingError
