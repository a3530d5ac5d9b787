"""Inputs for the fuzzers: random bytes, and mutations of real, valid inputs (which reach deeper than noise)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from hypothesis import strategies as st


def _encoded(ext: str, width: int, height: int, seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return cv2.imencode(ext, image)[1].tobytes()


VALID_IMAGES = (_encoded(".jpg", 64, 48, 1), _encoded(".png", 40, 30, 2), _encoded(".jpg", 17, 9, 3))


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[bytes, ...], max_edits: int = 6) -> bytes:
    """One of ``seeds`` with a few edits: bytes flipped, ranges cut, duplicated or spliced in, or truncated."""
    data = bytearray(draw(st.sampled_from(seeds)))
    # Positions spread evenly over the data: hypothesis's own integers lean towards small values, the start.
    spread = draw(st.randoms(use_true_random=False))
    for _ in range(draw(st.integers(0, max_edits))):
        if not data:
            break
        at = spread.randrange(len(data))
        match draw(st.sampled_from(["flip", "cut", "dup", "insert", "truncate", "int"])):
            case "flip":
                data[at] = draw(st.integers(0, 255))
            case "cut":
                del data[at:at + draw(st.integers(1, 64))]
            case "dup":
                data[at:at] = data[at:at + draw(st.integers(1, 64))]
            case "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=32))
            case "truncate":
                del data[at:]
            case "int":   # a length or size field pushed to an extreme
                data[at:at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff",
                                                        b"\x80\x00\x00\x00", b"\x00\x00\x00\x01"]))
    return bytes(data)


def images() -> st.SearchStrategy[bytes]:
    """Image-ish bytes: noise, noise behind a JPEG or PNG signature, and mutated real images."""
    return st.one_of(
        st.binary(max_size=2048),
        st.binary(max_size=512).map(lambda b: b"\xff\xd8" + b),
        st.binary(max_size=512).map(lambda b: b"\xff\xd8" + b + b"\xff\xd9"),
        st.binary(max_size=512).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
        mutated(VALID_IMAGES),
    )


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars (odd numbers and text included), lists and objects, nested."""
    return st.recursive(scalars(), lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                        max_leaves=max_leaves)


def scalars() -> st.SearchStrategy[Any]:
    """Any scalar a JSON or TOML document may hold, odd numbers and text included."""
    return st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40))


def document_like(template: dict[str, Any], values: st.SearchStrategy[Any] | None = None,
                  extra_keys: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    """``template`` with keys dropped, values replaced (by any JSON unless told), and strange keys added."""
    replacements = values if values is not None else json_values()
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in template.items():
            choice = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
            if choice == "keep":
                out[key] = value
            elif choice == "replace":
                out[key] = draw(replacements)
        if extra_keys:
            out.update(draw(st.dictionaries(st.text(max_size=10), replacements, max_size=extra_keys)))
        return out
    return build()
