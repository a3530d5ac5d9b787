from __future__ import annotations

import asyncio

import pytest

from eyeline.edge.frames.slot import LatestSlot, SlotClosedError


async def test_the_consumer_gets_the_newest_value_and_stale_ones_are_counted() -> None:
    slot: LatestSlot[int] = LatestSlot()
    for value in (1, 2, 3):
        slot.put(value)
    assert await slot.get() == 3
    assert (slot.put_count, slot.dropped) == (3, 2)


async def test_get_waits_for_a_value() -> None:
    slot: LatestSlot[str] = LatestSlot()
    waiter = asyncio.create_task(slot.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    slot.put("frame")
    assert await asyncio.wait_for(waiter, 1) == "frame"
    assert slot.dropped == 0


async def test_close_wakes_a_waiting_consumer() -> None:
    slot: LatestSlot[int] = LatestSlot()
    waiter = asyncio.create_task(slot.get())
    await asyncio.sleep(0)
    slot.close()
    with pytest.raises(SlotClosedError):
        await asyncio.wait_for(waiter, 1)


async def test_a_value_put_before_close_is_still_delivered() -> None:
    slot: LatestSlot[int] = LatestSlot()
    slot.put(7)
    slot.close()
    slot.put(8)  # ignored once closed
    assert await slot.get() == 7
    with pytest.raises(SlotClosedError):
        await slot.get()
