"""Ground truth in recordings: the espresso machine's components as well as the shelf's products, and files of
schema version 1 (shelf truth only, no scene named) still replay with their truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from mcap.writer import CompressionType, Writer

from eyeline.devices.base import CapturedFrame
from eyeline.devices.espresso import EspressoTruth, make_espresso_scene, render_espresso_frame
from eyeline.devices.recording import SchemaVersionError, truth_record
from eyeline.devices.replay import ReplaySource
from eyeline.devices.synthetic import ShelfTruth, make_shelf_scene, render_shelf_frame
from eyeline.edge.recording.recorder import SessionRecorder
from eyeline.edge.recording.records import compressed_image
from eyeline.protos import recording as layout
from eyeline.protos.clock import VirtualClock
from eyeline.protos.recording_io import ChannelTable

WIDTH, HEIGHT = 320, 180


async def replayed_truth(path: Path) -> list[object]:
    return [frame.truth async for frame in ReplaySource(path, clock=VirtualClock(0))]


async def test_an_espresso_recording_replays_with_every_component_where_it_was(tmp_path: Path) -> None:
    scene, truths, recorder = make_espresso_scene(seed=2), [], SessionRecorder(tmp_path / "espresso.mcap")
    recorder.open()
    previous = None
    for seq in range(3):
        image, previous = render_espresso_frame(scene, seq * 0.5, WIDTH, HEIGHT, previous=previous)
        truths.append(previous)
        await recorder.record_frame(CapturedFrame(seq, seq * 500_000_000, image, previous))
    await recorder.aclose()

    replayed = await replayed_truth(tmp_path / "espresso.mcap")
    assert len(replayed) == 3
    for kept, true in zip(replayed, truths, strict=True):
        assert isinstance(kept, EspressoTruth)
        assert [(c.id, c.box) for c in kept.components] == [(c.id, c.box) for c in true.components]
        assert kept.component("steam_wand").center == pytest.approx(true.component("steam_wand").center, abs=1e-3)
        assert kept.motion == pytest.approx(true.motion, abs=1e-6)
        assert kept.display_text == "READY"


def version_one(path: Path, scene: str = "") -> Path:
    """A file as the version 1 recorder wrote it: a shelf frame with its truth, the record naming no scene."""
    image, truth = render_shelf_frame(make_shelf_scene(3), 0.0, WIDTH, HEIGHT)
    record = truth_record(0, 1, truth)
    assert record is not None
    record.scene = scene
    ok, png = cv2.imencode(".png", image)
    assert ok
    with path.open("wb") as stream:
        writer = Writer(stream, compression=CompressionType.NONE)
        writer.start(profile=layout.PROFILE, library="eyeline")
        writer.add_metadata(layout.METADATA_NAME, {"schema_version": "1"})
        channels = ChannelTable(writer)
        writer.add_message(channels[layout.TRUTH], log_time=1, publish_time=1, sequence=0,
                           data=record.SerializeToString())
        writer.add_message(channels[layout.CAMERA], log_time=1, publish_time=1, sequence=0,
                           data=compressed_image(1, png.tobytes(), "png").SerializeToString())
        writer.finish()  # type: ignore[no-untyped-call]
    return path


async def test_a_version_one_recording_replays_with_its_shelf_truth(tmp_path: Path) -> None:
    (truth,) = await replayed_truth(version_one(tmp_path / "v1.mcap"))
    assert isinstance(truth, ShelfTruth) and truth.products
    _, rendered = render_shelf_frame(make_shelf_scene(3), 0.0, WIDTH, HEIGHT)
    assert truth.best_product() == rendered.best_product()


async def test_ground_truth_of_an_unknown_scene_is_refused_by_name(tmp_path: Path) -> None:
    path = version_one(tmp_path / "kitchen.mcap", scene="kitchen")
    with pytest.raises(SchemaVersionError, match=r"kitchen\.mcap: frame 0 has ground truth of scene 'kitchen'"):
        await replayed_truth(path)
