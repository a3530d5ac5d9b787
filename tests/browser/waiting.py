"""Waiting for state that another task or process owns."""

from __future__ import annotations

import asyncio
from typing import Any


async def wait_until(condition: Any, within_s: float, what: str) -> None:
    """Poll ``condition`` (state owned by another task or process) until it holds; fail naming ``what``."""
    for _ in range(int(within_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {what} within {within_s:g} s")
