"""Frame sources, synthetic scenes with exact ground truth, and glasses profiles.

Errors, all under one root::

    DeviceError                      (retryable: False)
    ├── DeviceNotFoundError          the camera or file does not exist / cannot be opened (retryable)
    ├── DeviceSpecError              a device string or setting is invalid
    ├── CameraReadError              an open camera stopped delivering frames (retryable)
    ├── VideoDecodeError             a file that is not a video, or holds no decodable frame
    ├── ImageDecodeError             a file that is not a decodable image
    └── RecordingError               a session recording that cannot be replayed
        ├── NotMcapError             not MCAP, or not an Eyeline recording
        ├── TruncatedRecordingError  ends mid-record with nothing complete to replay
        ├── EmptyRecordingError      complete, but holds no frame
        ├── MissingChannelError      lacks a channel the reader needs
        ├── SchemaVersionError       a schema version (or channel schema) this reader does not know
        └── CorruptRecordingError    a record fails its checksum or does not decode
"""

from eyeline.devices.base import (
    CapturedFrame,
    DeviceError,
    DeviceNotFoundError,
    DeviceSpecError,
    FrameSource,
    Image,
)
from eyeline.devices.image import ImageDecodeError, ImageSource, load_image
from eyeline.devices.profiles import PROFILES, RAYBAN_CLASS, WEBCAM, GlassesProfile, profile_by_name
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
from eyeline.devices.spec import KNOWN_KINDS, DeviceSpec, open_device, parse_device_spec
from eyeline.devices.synthetic import (
    CATALOG,
    Product,
    ProductTruth,
    ShelfScene,
    ShelfTruth,
    SyntheticShelfSource,
    make_shelf_scene,
    render_shelf_frame,
)
from eyeline.devices.video import VideoDecodeError, VideoFileSource
from eyeline.devices.webcam import CameraReadError, WebcamSource

__all__ = [
    "CATALOG",
    "KNOWN_KINDS",
    "PROFILES",
    "RAYBAN_CLASS",
    "WEBCAM",
    "CameraReadError",
    "CapturedFrame",
    "CorruptRecordingError",
    "DeviceError",
    "DeviceNotFoundError",
    "DeviceSpec",
    "DeviceSpecError",
    "EmptyRecordingError",
    "FrameSource",
    "GlassesProfile",
    "Image",
    "ImageDecodeError",
    "ImageSource",
    "MissingChannelError",
    "NotMcapError",
    "Product",
    "ProductTruth",
    "RecordingError",
    "RecordingReader",
    "ReplaySource",
    "SchemaVersionError",
    "ShelfScene",
    "ShelfTruth",
    "SyntheticShelfSource",
    "TruncatedRecordingError",
    "VideoDecodeError",
    "VideoFileSource",
    "WebcamSource",
    "load_image",
    "make_shelf_scene",
    "open_device",
    "parse_device_spec",
    "profile_by_name",
    "render_shelf_frame",
]
