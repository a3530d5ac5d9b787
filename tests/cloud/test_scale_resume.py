"""How ``Cloud.open_session`` resumes a session another ingress held, with a scripted session mirror (no Ray):
its state back and its unanswered questions asked again, or, when the store cannot give the state back, the
session continued with ``state_lost`` as a restarted cloud does."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from eyeline.cloud.app import Cloud, CloudConfig
from eyeline.cloud.ingress import wire
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.model import Mode
from eyeline.cloud.session.frames import DecodedFrame
from eyeline.cloud.session.sessions import Session


@dataclass(frozen=True)
class Pending:
    query_id: str
    text: str
    mode: Mode | None
    frame_seq: int | None


@dataclass
class ScriptedMirror:
    restored: tuple[Pending, ...] | None        # what ``restore`` gives back (None: the frames are gone)
    taken: list[str] = field(default_factory=list)
    opened_ids: list[str] = field(default_factory=list)

    async def take(self, session_id: str, subject: str) -> object:
        self.taken.append(session_id)
        return object()

    async def restore(self, session: Session, snapshot: object, ocr: object) -> tuple[Pending, ...] | None:
        if self.restored is not None:
            session.keep_frame(DecodedFrame(7, "t7", np.zeros((8, 8, 3), np.uint8), 0, 0, 0))
        return self.restored

    async def opened(self, session: Session) -> None:
        self.opened_ids.append(session.session_id)


@dataclass
class ScriptedScale:
    mirror: ScriptedMirror

    async def close(self) -> None:
        pass


def _hello(session_id: str) -> wire.HelloIn:
    return wire.HelloIn(token="", profile_name="test", width=640, height=360, mode=None,
                        resume_session_id=session_id)


async def _resume(mirror: ScriptedMirror) -> tuple[Session, Cloud]:
    signer = TokenSigner(os.urandom(32))
    cloud = Cloud(CloudConfig(port=0, warm_up=False, agent_workers=0), signer)
    cloud.scale = ScriptedScale(mirror)  # type: ignore[assignment]
    claims = signer.verify(signer.mint("glasses", 600))
    session = await cloud.open_session(_hello(signer.session_id("glasses", "held-elsewhere")), claims)
    return session, cloud


async def test_a_session_held_by_another_ingress_comes_back_with_its_state_and_its_pending_question() -> None:
    mirror = ScriptedMirror(restored=(Pending("q1", "which of these has the most protein?", None, 7),))
    session, cloud = await _resume(mirror)
    try:
        welcome = (await session.outbound.get()).welcome
        assert welcome.resumed and not welcome.state_lost
        assert mirror.taken == [session.session_id] and mirror.opened_ids == []
        assert session.frame(7) is not None and session.stats.queries == 1   # the pending question, asked again
    finally:
        await session.close()
        await cloud.close()


async def test_a_session_whose_state_cannot_come_back_continues_with_state_lost() -> None:
    mirror = ScriptedMirror(restored=None)
    session, cloud = await _resume(mirror)
    try:
        welcome = (await session.outbound.get()).welcome
        assert welcome.resumed and welcome.state_lost
        assert mirror.opened_ids == [session.session_id] and session.stats.queries == 0
    finally:
        await session.close()
        await cloud.close()
