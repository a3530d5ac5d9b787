"""Barcodes: an EAN-13 drawn from its encoding table is read back by OpenCV's detector with its digits."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from eyeline.cloud.perception.barcode import check_digit_ok, gtin14, read_barcodes

# EAN-13's three digit codes (seven modules each, 1 = bar) and which of L/G encodes each of the six left digits,
# chosen by the first digit: the GS1 General Specifications' tables.
_L = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011"]
_G = ["0100111", "0110011", "0011011", "0100001", "0011101", "0111001", "0000101", "0010001", "0001001", "0010111"]
_R = ["1110010", "1100110", "1101100", "1000010", "1011100", "1001110", "1010000", "1000100", "1001000", "1110100"]
_PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]


def ean13_modules(digits: str) -> str:
    first, left, right = int(digits[0]), digits[1:7], digits[7:]
    tables = [_L if parity == "L" else _G for parity in _PARITY[first]]
    encoded_left = "".join(table[int(d)] for d, table in zip(left, tables, strict=True))
    return "101" + encoded_left + "01010" + "".join(_R[int(d)] for d in right) + "101"


def render_ean13(digits: str, *, module_px: int = 3, height_px: int = 120, quiet: int = 12,
                 canvas: tuple[int, int] | None = None) -> npt.NDArray[np.uint8]:
    modules = ean13_modules(digits)
    row = np.array([0 if m == "1" else 255 for m in "0" * quiet + modules + "0" * quiet], dtype=np.uint8)
    bars = np.tile(np.repeat(row, module_px), (height_px, 1))
    if canvas is None:
        return cv2.cvtColor(bars, cv2.COLOR_GRAY2BGR)
    page = np.full((*canvas, 3), 255, dtype=np.uint8)
    y, x = (canvas[0] - bars.shape[0]) // 2, (canvas[1] - bars.shape[1]) // 2
    page[y:y + bars.shape[0], x:x + bars.shape[1]] = bars[..., None]
    return page


def with_check_digit(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body12)))
    return body12 + str((10 - total % 10) % 10)


@pytest.mark.parametrize(("body", "module_px", "height_px"),
                         [("735000112345", 3, 150), ("400638133393", 4, 300), ("590123412345", 2, 150)])
def test_a_drawn_ean13_is_read_with_its_digits_and_place(body: str, module_px: int, height_px: int) -> None:
    digits = with_check_digit(body)
    image = render_ean13(digits, module_px=module_px, height_px=height_px, quiet=15, canvas=(400, 800))
    codes = read_barcodes(image)
    assert [code.digits for code in codes] == [digits]
    box = codes[0].box
    # The bars sit in the middle of the page; the box must hold the centre and not the page's corners.
    assert box.x0 < 0.5 < box.x1 and box.y0 < 0.5 < box.y1
    assert box.x0 > 0.05 and box.x1 < 0.95


def test_a_code_whose_digits_fail_the_check_is_not_reported() -> None:
    digits = with_check_digit("735000112345")
    wrong = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    # Bars drawn for a wrong check digit are a misprint or a misread: no code is better than a wrong product.
    image = render_ean13(wrong, module_px=3, height_px=150, quiet=15, canvas=(400, 800))
    assert read_barcodes(image) == ()


def test_a_frame_without_bars_reads_none() -> None:
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8)
    assert read_barcodes(noise) == ()


def test_the_check_digit_rejects_a_misread_and_gtins_compare_across_lengths() -> None:
    digits = with_check_digit("735000112345")
    wrong = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    assert check_digit_ok(digits) and not check_digit_ok(wrong)
    assert not check_digit_ok("12ab") and not check_digit_ok("123")
    assert gtin14("036000291452") == gtin14("0036000291452") == "00036000291452"
