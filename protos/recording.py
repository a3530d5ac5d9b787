"""The layout of a session recording (an MCAP file), shared by the recorder and the replay device.

A recording is one MCAP file per session, profile :data:`PROFILE`, with every schema embedded as a
protobuf ``FileDescriptorSet``. The camera channel is declared first; the others when first used. Its
``eyeline.recording`` metadata record names :data:`SCHEMA_VERSION`; a reader refuses versions it does not
know rather than guessing at their layout. Message log times are the edge clock's integer nanoseconds.
"""

from __future__ import annotations

from typing import Final

PROFILE: Final = "eyeline"
METADATA_NAME: Final = "eyeline.recording"
SCHEMA_VERSION: Final = "2"
KNOWN_SCHEMA_VERSIONS: Final = frozenset({"1", SCHEMA_VERSION})
"""Version 2 added the espresso machine's ground truth (``FrameTruthRecord.scene`` and ``components``); a version 1
file is a version 2 file without them, so it reads unchanged. A reader that knows only version 1 refuses a
version 2 file rather than taking an espresso frame for a shelf with no products."""

# Topic -> fully qualified protobuf message name.
CAMERA: Final = "/camera/image"                    # foxglove.CompressedImage; sequence = frame seq
TRUTH: Final = "/camera/truth"                     # eyeline.v1.FrameTruthRecord (synthetic shelf and espresso)
AUDIO: Final = "/audio"                            # eyeline.v1.AudioChunk
UTTERANCES: Final = "/utterances"                  # eyeline.v1.Utterance
QUERIES: Final = "/eyeline/queries"                # eyeline.v1.Query
KEYFRAMES: Final = "/eyeline/keyframes"            # eyeline.v1.KeyframeRecord
OVERLAYS: Final = "/eyeline/overlays"              # eyeline.v1.Overlay
ANNOTATIONS: Final = "/camera/annotations"         # foxglove.ImageAnnotations (the overlays, for Foxglove)
ANSWERS: Final = "/eyeline/answers"                # eyeline.v1.Answer
TRACE: Final = "/eyeline/trace"                    # eyeline.v1.TraceStep
HOPS: Final = "/eyeline/hops"                      # eyeline.v1.HopRecord
ERRORS: Final = "/eyeline/errors"                  # eyeline.v1.Error

SCHEMAS: Final[dict[str, str]] = {
    CAMERA: "foxglove.CompressedImage",
    TRUTH: "eyeline.v1.FrameTruthRecord",
    AUDIO: "eyeline.v1.AudioChunk",
    UTTERANCES: "eyeline.v1.Utterance",
    QUERIES: "eyeline.v1.Query",
    KEYFRAMES: "eyeline.v1.KeyframeRecord",
    OVERLAYS: "eyeline.v1.Overlay",
    ANNOTATIONS: "foxglove.ImageAnnotations",
    ANSWERS: "eyeline.v1.Answer",
    TRACE: "eyeline.v1.TraceStep",
    HOPS: "eyeline.v1.HopRecord",
    ERRORS: "eyeline.v1.Error",
}

SEQUENCE_HIGH: Final = "eyeline.sequence_high"
"""Channel metadata: the high 32 bits of the sequence numbers of the channel's messages (absent: 0), whose
``sequence`` holds the low 32; a topic has one channel per high half it uses."""

REQUIRED_FOR_REPLAY: Final = (CAMERA,)
REQUIRED_FOR_EVAL: Final = (CAMERA, KEYFRAMES, QUERIES)
CAMERA_FRAME_ID: Final = "camera"
