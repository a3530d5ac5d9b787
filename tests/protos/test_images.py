"""The frame image header reader both wire sides use: sizes without decoding, and a clear refusal otherwise."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from eyeline.protos.images import ImageHeaderError, image_size


def encoded(ext: str, width: int, height: int) -> bytes:
    ok, data = cv2.imencode(ext, np.zeros((height, width, 3), np.uint8))
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_the_size_comes_from_the_header(ext: str) -> None:
    assert image_size(encoded(ext, 321, 123)) == (321, 123)


@pytest.mark.parametrize(("data", "problem"), [
    (b"GIF89a" + b"\x00" * 40, "neither a JPEG nor a PNG"),
    (encoded(".jpg", 64, 48)[:-40], "truncated"),
    (b"\xff\xd8\xff\xd9", "no readable start-of-frame"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\x00" * 8 + b"\x00" * 20, "says 0x0"),
])
def test_anything_but_a_whole_jpeg_or_png_is_refused_by_name(data: bytes, problem: str) -> None:
    with pytest.raises(ImageHeaderError, match=problem):
        image_size(data)
