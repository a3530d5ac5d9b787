"""The public surface of ``eyeline.devices`` is deliberate: adding or dropping a name must show up here."""

from __future__ import annotations

import eyeline.devices as devices

PUBLIC = {
    "CATALOG", "KNOWN_KINDS", "PROFILES", "RAYBAN_CLASS", "WEBCAM",
    "CameraReadError", "CapturedFrame", "DeviceError", "DeviceNotFoundError", "DeviceSpec",
    "DeviceSpecError", "FrameSource", "GlassesProfile", "Image", "ImageDecodeError", "ImageSource",
    "Product", "ProductTruth", "ShelfScene", "ShelfTruth", "SyntheticShelfSource",
    "VideoDecodeError", "VideoFileSource", "WebcamSource",
    "load_image", "make_shelf_scene", "open_device", "parse_device_spec", "profile_by_name", "render_shelf_frame",
    "RecordingReader", "ReplaySource", "RecordingError", "NotMcapError", "TruncatedRecordingError",
    "EmptyRecordingError", "MissingChannelError", "SchemaVersionError", "CorruptRecordingError",
}


def test_all_is_the_public_surface() -> None:
    assert set(devices.__all__) == PUBLIC
    assert all(hasattr(devices, name) for name in devices.__all__)


def test_every_error_shares_the_package_root() -> None:
    errors = [getattr(devices, name) for name in devices.__all__ if name.endswith("Error")]
    assert len(errors) == 13
    assert all(issubclass(error, devices.DeviceError) for error in errors)
