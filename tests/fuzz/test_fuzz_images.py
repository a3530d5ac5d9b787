"""Image headers (``protos/images.py``) and the cloud's frame check and decode: a size, or a typed refusal."""

from __future__ import annotations

from hypothesis import given

from eyeline.cloud.session.frames import FrameLimits, FrameRejectedError, check_and_decode
from eyeline.devices.push import PushedImageError, PushLimits, decode_pushed_image
from eyeline.protos.images import ImageHeaderError, image_size
from tests.fuzz.harness import fuzz_target, run_case
from tests.fuzz.strategies import images


@fuzz_target
@given(data=images())
def test_image_headers_give_a_size_or_a_typed_refusal(data: bytes) -> None:
    size = run_case("image headers", lambda: image_size(data), (ImageHeaderError,))
    if isinstance(size, tuple):
        assert size[0] > 0 and size[1] > 0


@fuzz_target
@given(data=images())
def test_cloud_frames_decode_to_their_header_size_or_are_refused(data: bytes) -> None:
    limits = FrameLimits(max_bytes=1 << 20, max_pixels=1 << 20)
    image = run_case("cloud frame decode", lambda: check_and_decode(data, limits), (FrameRejectedError,))
    if not isinstance(image, BaseException):
        assert (image.shape[1], image.shape[0]) == image_size(data)


@fuzz_target
@given(data=images())
def test_phone_frames_decode_or_are_refused(data: bytes) -> None:
    run_case("phone ingest frames", lambda: decode_pushed_image(data, PushLimits(max_pixels=1 << 20)),
             (PushedImageError,))
