"""The session manager's limit, detach grace and eviction."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from eyeline.cloud.app import _unused_path
from eyeline.cloud.model import Mode
from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.sessions import SessionLimitError, SessionManager

S = 1_000_000_000


async def test_the_oldest_detached_session_is_evicted_to_make_room_and_live_ones_never_are() -> None:
    manager = SessionManager(max_sessions=3, detach_grace_s=30.0)
    old, newer, live = (manager.open(name, "p", Mode.INSTANT, 0) for name in ("a", "b", "c"))
    manager.detach(old, 1 * S)
    manager.detach(newer, 2 * S)
    fresh = manager.open("d", "p", Mode.INSTANT, 3 * S)
    assert manager.get(old.session_id) is None and manager.get(newer.session_id) is newer
    assert {i.session_id for i in manager.active()} == {live.session_id, fresh.session_id}
    manager.open("e", "p", Mode.INSTANT, 4 * S)
    with pytest.raises(SessionLimitError):
        manager.open("f", "p", Mode.INSTANT, 5 * S)   # only live sessions left: the limit holds


def test_a_session_counts_every_keyframe_it_kept_even_those_it_no_longer_holds() -> None:
    session = SessionManager(max_sessions=1, frames_kept=2).open("a", "p", Mode.INSTANT, 0)
    pixels = np.zeros((4, 4, 3), np.uint8)
    for seq in (1, 2, 3):
        session.keep_frame(DecodedFrame(seq, f"t{seq}", pixels, capture_ns=0, sent_ns=0, received_ns=0))
    session.show_preview(DecodedFrame(4, "t4", pixels, capture_ns=0, sent_ns=0, received_ns=0, keyframe=False))
    assert session.stats.keyframes_kept == 3                  # a preview is shown, never kept
    latest = session.frame(None)
    assert session.frame(1) is None and latest is not None and latest.seq == 3   # held: the last two only


async def test_a_detached_session_is_reattached_by_its_subject_until_its_grace_runs_out() -> None:
    manager = SessionManager(max_sessions=4, detach_grace_s=10.0)
    session = manager.open("glasses", "p", Mode.INSTANT, 0)
    manager.detach(session, 0)
    assert manager.reattach(session.session_id, "someone-else") is None
    assert manager.reattach(session.session_id, "glasses") is session and session.attachments == 2
    manager.detach(session, 5 * S)
    assert manager.expire(14 * S) == []
    assert manager.expire(15 * S) == [session]
    assert manager.get(session.session_id) is None and manager.reattach(session.session_id, "glasses") is None


async def test_a_goodbye_frees_the_slot_cancels_the_work_closes_the_recording_then_ends_the_stream() -> None:
    manager = SessionManager(max_sessions=1)
    session = manager.open("glasses", "p", Mode.INSTANT, 0)
    work = asyncio.Event()
    assert session.spawn(work.wait(), limit=2)
    closed: list[str] = []

    async def close_recording() -> None:
        closed.append("recording")

    session.on_close(close_recording)
    await asyncio.sleep(0)
    await session.finish()   # what the dispatcher does with the edge's Goodbye, whatever the transport
    assert session.finished and session.busy == 0 and closed == ["recording"]
    assert manager.get(session.session_id) is None and not manager.detached()
    assert session.outbound.get_nowait() is None   # the ingress hangs up
    manager.open("glasses", "p", Mode.INSTANT, 1)   # the one slot is free again


def test_a_session_continued_after_a_restart_never_overwrites_its_first_recording(tmp_path: Path) -> None:
    assert _unused_path(tmp_path, "abc") == tmp_path / "abc.mcap"
    (tmp_path / "abc.mcap").write_bytes(b"first")
    (tmp_path / "abc-2.mcap").write_bytes(b"second")
    assert _unused_path(tmp_path, "abc") == tmp_path / "abc-3.mcap"
