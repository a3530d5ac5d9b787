from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from eyeline.cloud.session.frames import FrameLimits, FrameRejectedError, check_frame, decode_image, image_dimensions


def _jpeg(width: int, height: int) -> bytes:
    image = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", image)[1].tobytes()


def _png_header_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_dimensions_come_from_the_jpeg_header() -> None:
    assert image_dimensions(_jpeg(320, 200)) == (320, 200)


def test_dimensions_come_from_the_png_header() -> None:
    png = cv2.imencode(".png", np.zeros((30, 40, 3), np.uint8))[1].tobytes()
    assert image_dimensions(png) == (40, 30)


def test_an_image_claiming_too_many_pixels_is_refused_before_decoding() -> None:
    bomb = _png_header_claiming(60_000, 60_000)
    with pytest.raises(FrameRejectedError, match="60000x60000") as caught:
        check_frame(bomb, FrameLimits())
    assert caught.value.code == "frame_too_large"


def test_a_frame_over_the_byte_limit_is_refused() -> None:
    data = _jpeg(64, 64)
    with pytest.raises(FrameRejectedError, match="limit is 100") as caught:
        check_frame(data, FrameLimits(max_bytes=100))
    assert caught.value.code == "frame_too_large"


@pytest.mark.parametrize("data", [b"not an image at all", b"\xff\xd8\xff\xe0garbage", b"GIF89a...."])
def test_data_that_is_no_image_is_undecodable(data: bytes) -> None:
    with pytest.raises(FrameRejectedError) as caught:
        check_frame(data, FrameLimits())
    assert caught.value.code == "undecodable_image"


def test_a_truncated_jpeg_is_refused() -> None:
    data = _jpeg(320, 200)
    with pytest.raises(FrameRejectedError, match="truncated"):
        check_frame(data[: len(data) // 2], FrameLimits())


def test_a_jpeg_with_corrupt_pixels_fails_to_decode_with_a_clear_error() -> None:
    data = _jpeg(320, 200)
    header_end = data.index(b"\xff\xda")  # start of scan: everything after it is entropy-coded pixels
    corrupt = data[:header_end] + b"\xff\xda\x00\x02" + b"\xff\xd9"
    with pytest.raises(FrameRejectedError, match=r"corrupt|differs"):
        decode_image(corrupt, check_frame(corrupt, FrameLimits()))


def test_a_good_jpeg_decodes_to_bgr_of_its_size() -> None:
    data = _jpeg(320, 200)
    image = decode_image(data, check_frame(data, FrameLimits()))
    assert image.shape == (200, 320, 3)
