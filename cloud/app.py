"""The cloud assembled, once, for every ingress.

``Cloud`` builds what a session is served by: the session table, the worker pools (image decoding, OCR,
Contemplating's sub-agents, speech recognition), the skills and their router, the planner and the dispatcher;
it opens sessions and their recordings. The ingresses in ``cloud/ingress/`` are peers that all serve one
``Cloud``: gRPC (``GrpcIngress``) and, beside it, WHIP/WebRTC and the viewer (``HttpServer``).
``CloudServer`` is what ``eyeline cloud`` runs: the cloud and its gRPC ingress, started and stopped together.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from eyeline.cloud.errors import CloudError
from eyeline.cloud.ingress import wire
from eyeline.cloud.ingress.auth import TokenClaims, TokenSigner
from eyeline.cloud.ingress.grpc_ingress import GrpcIngress
from eyeline.cloud.knowledge import demo_pack, grocery_pack
from eyeline.cloud.model import Mode
from eyeline.cloud.perception.ocr import OcrPool
from eyeline.cloud.perception.ocr_runtime import OcrRuntime
from eyeline.cloud.perception.speech import SpeechRecognizer
from eyeline.cloud.reasoning.budgets import ModelConfig
from eyeline.cloud.reasoning.model import ModelReasoner
from eyeline.cloud.reasoning.model_skill import model_backed
from eyeline.cloud.reasoning.planner import Planner
from eyeline.cloud.reasoning.proactive import ProactiveConfig, ProactiveOfferer
from eyeline.cloud.scale.config import ScaleConfig
from eyeline.cloud.session.dispatch import Dispatcher
from eyeline.cloud.session.frames import FrameLimits
from eyeline.cloud.session.recorder import CloudRecordingError, CloudSessionRecorder
from eyeline.cloud.session.sessions import Session, SessionManager
from eyeline.cloud.skills.base import Skill, SkillRouter
from eyeline.cloud.skills.guardrails import GuardrailSkill
from eyeline.cloud.skills.identity.catalog import CatalogLookup
from eyeline.cloud.skills.identity.skill import IdentitySkill
from eyeline.cloud.skills.ingredients.skill import IngredientsSkill
from eyeline.cloud.skills.noop import NoopSkill
from eyeline.cloud.skills.nutrition.skill import NutritionSkill
from eyeline.cloud.skills.read import ReadTextSkill
from eyeline.cloud.skills.repair import RepairSkill
from eyeline.cloud.skills.scope import ScopeSkill
from eyeline.cloud.skills.shelf.agents import AgentPool
from eyeline.cloud.skills.shelf.passes import ShelfPasses
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill
from eyeline.protos.clock import Clock, MonotonicClock
from eyeline.protos.tasks import TaskSet
from eyeline.protos.v1 import session_pb2 as pb

if TYPE_CHECKING:
    from eyeline.cloud.scale.assembly import ScaleOut
    from eyeline.cloud.scale.session_store import PendingQuestion

log = logging.getLogger(__name__)

SERVER_VERSION = "eyeline-cloud/0.1"
# Room for the largest frame plus the rest of its message.
_MESSAGE_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class CloudConfig:
    host: str = "127.0.0.1"
    port: int = 0                          # 0 = any free port
    max_sessions: int = 32
    frame_limits: FrameLimits = field(default_factory=FrameLimits)
    default_mode: Mode = Mode.INSTANT
    frames_kept: int = 8
    ocr_workers: int = 1
    agent_workers: int = 2                 # processes for Contemplating's sub-agents (0: none, it thinks instead)
    decode_workers: int = 2
    hello_timeout_s: float = 10.0
    frame_skill: str = ""                  # "noop": answer every frame with an empty overlay (benchmarks)
    warm_up: bool = True                   # start() returns once the OCR models are loaded and have run once
    tls_cert: Path | None = None           # PEM certificate chain; with tls_key, the port speaks TLS only
    tls_key: Path | None = None
    asr_model: str = ""                    # for edges that send audio: "" = the packaged Whisper base
    proactive: ProactiveConfig = field(default_factory=ProactiveConfig)   # unasked offers, for edges that opt in
    record_dir: Path | None = None         # one MCAP recording per session (gRPC or WebRTC), named after it
    detach_grace_s: float = 30.0           # a session whose gRPC stream broke waits this long to be resumed
    model: ModelConfig | None = None       # an OpenAI-compatible vision model behind the skills (None: embedded only)
    provisional_answers: bool = True       # answer at once from the session's last read, then over the asked frame
    ray: str = ""                          # "" in process; "auto" a local Ray; else a Ray cluster's ADDRESS (Serve)
    ray_scale: ScaleConfig = field(default_factory=ScaleConfig)   # the Serve deployments' sizes, with ``ray``
    reuse_recognition: bool = True         # tracked reads recognise only the outlines whose cached text no longer holds
    ocr_runtime: OcrRuntime | None = None  # how the OCR models run (None: the default, ocr.DEFAULT_RUNTIME)

    @property
    def max_message_bytes(self) -> int:
        return self.frame_limits.max_bytes * 2 + _MESSAGE_OVERHEAD_BYTES


class Cloud:
    """Sessions, worker pools, skills, planner and dispatcher: what every ingress serves."""

    def __init__(self, config: CloudConfig, signer: TokenSigner, *, clock: Clock | None = None) -> None:
        self.config = config
        self.signer = signer
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.sessions = SessionManager(config.max_sessions, config.frames_kept, detach_grace_s=config.detach_grace_s,
                                       new_id=lambda subject: signer.session_id(subject, os.urandom(9).hex()))
        # With ``ray``, the heavy work goes to Ray Serve deployments, the in-process pools kept as the fallback.
        self.scale = _scale_out(config)
        scale = self.scale
        self._ocr = (scale.ocr(config.ocr_workers) if scale
                     else OcrPool(workers=config.ocr_workers, runtime=config.ocr_runtime))
        self._decode_pool = ThreadPoolExecutor(config.decode_workers, thread_name_prefix="decode")
        # Worker processes start at the first Contemplating question, each loading its own OCR engine once.
        self._agents = ((scale.agents(config.agent_workers) if scale else AgentPool(config.agent_workers))
                        if config.agent_workers > 0 else None)
        pack = demo_pack()
        # The shelf ranks fronts it knows from the grocery catalog too, not only the demo pack's products.
        catalog = (*pack.products, *grocery_pack().products)
        shelf = ProteinRankingSkill(catalog, passes=ShelfPasses(catalog, self._ocr, self._agents),
                                    segmenter=scale.segmenter() if scale else None)
        skills: list[Skill] = [GuardrailSkill(), shelf, NutritionSkill(catalog=CatalogLookup(catalog)), ReadTextSkill(),
                               RepairSkill(pack.kits), IngredientsSkill()]
        # The embedded engine alone: what /v1/chat/completions serves and what proactive offers use (unasked
        # looks never spend model tokens). Questions no skill takes get what is in view and what can be asked.
        # "What is this?" names the product when the catalog knows it, else falls back to what is in view.
        scope = ScopeSkill(skills)
        identity = IdentitySkill(catalog, fallback=scope)
        self.embedded_router = SkillRouter([*skills, identity, scope])
        self.reasoner = (ModelReasoner(config.model, self.clock,
                                       endpoint=scale.model_endpoint(config.model, self.clock) if scale else None)
                         if config.model is not None else None)
        self.router = (SkillRouter(model_backed([*skills, identity], self.reasoner, open_fallback=scope))
                       if self.reasoner else self.embedded_router)
        self.dispatcher = Dispatcher(self.router, self._ocr, self._decode_pool, limits=config.frame_limits,
                                     clock=self.clock, frame_skill=_frame_skill(config.frame_skill), planner=Planner(),
                                     speech=scale.speech(config.asr_model) if scale else
                                     SpeechRecognizer(config.asr_model),
                                     proactive=ProactiveOfferer(self.embedded_router, config.proactive,
                                                                clock=self.clock),
                                     provisional=config.provisional_answers,
                                     reuse_recognition=config.reuse_recognition)
        if scale is not None:
            self.dispatcher.observer = scale.mirror   # sessions written where another ingress can resume them
        self._background = TaskSet("cloud", logger=log)   # the reaper of detached sessions

    @property
    def ocr(self) -> OcrPool:
        return self._ocr

    async def start(self) -> None:
        """Start the cloud's own work: the reaper of detached sessions, after the OCR warm-up (when configured),
        so a cloud that reports ready never pays a model load inside a question."""
        if self.scale is not None:
            await self.scale.start()
        if self.config.warm_up:
            await self._ocr.warm_up()
        self._background.spawn(self._reap_detached(), name="session-reaper")

    def end_sessions(self) -> None:
        """Tell every live session the cloud is going; their streams end once it has been sent."""
        self.sessions.end_all(wire.error("shutting_down", "the cloud is shutting down; reconnect later",
                                         retryable=True))

    async def close(self) -> None:
        """Stop the background work, close held sessions and shut the worker pools."""
        await self._background.aclose()
        await self.sessions.close_detached()
        if self.reasoner is not None:
            await self.reasoner.aclose()
        self._ocr.close()
        if self.dispatcher.speech is not None:
            self.dispatcher.speech.close()
        if self._agents is not None:
            self._agents.close()
        self._decode_pool.shutdown(wait=False, cancel_futures=True)
        if self.scale is not None:
            await self.scale.close()

    async def _reap_detached(self) -> None:
        """Close detached sessions whose grace ran out."""
        while True:
            await asyncio.sleep(min(1.0, max(0.05, self.config.detach_grace_s / 4)))
            for session in self.sessions.expire(self.clock.now_ns()):
                log.info("session %s was not resumed in time; closed", session.session_id)
                await session.close()

    def resume(self, hello: wire.HelloIn, claims: TokenClaims) -> Session | None:
        """The held session of ``claims``' subject that ``hello`` resumes, taken over by the calling stream (the
        stream that carried it, dead or alive, is ended; no second session opens), whatever the transport; None
        when it resumes nothing this cloud holds."""
        if not hello.resume_session_id:
            return None
        held = self.sessions.reattach(hello.resume_session_id, claims.subject)
        if held is not None:
            log.info("session %s resumed (stream %d)", held.session_id, held.attachments)
        return held

    def welcome(self, session: Session, *, resumed: bool = False, state_lost: bool = False) -> pb.CloudMessage:
        limits = self.config.frame_limits
        return wire.welcome(session.session_id, SERVER_VERSION, limits.max_bytes, limits.max_pixels, session.mode,
                            self.router.names(), resumed=resumed, state_lost=state_lost)

    async def open_session(self, hello: wire.HelloIn, claims: TokenClaims) -> Session:
        """Open a session for an authenticated Hello and queue its Welcome, whatever the transport."""
        mode = hello.mode or self.config.default_mode
        # An id this cloud issued but no longer holds (it restarted): the session continues under it, its
        # state lost, and the Welcome says so.
        continued = (bool(hello.resume_session_id) and self.sessions.get(hello.resume_session_id) is None
                     and self.signer.issued_session_id(hello.resume_session_id, claims.subject))
        # With Ray, another ingress may have held it: its state comes back from the session store.
        snapshot = (await self.scale.mirror.take(hello.resume_session_id, claims.subject)
                    if continued and self.scale is not None else None)
        session = self.sessions.open(claims.subject, hello.profile_name, mode, self.clock.now_ns(),
                                     session_id=hello.resume_session_id if continued else "")
        session.capabilities = hello.capabilities
        pending: tuple[PendingQuestion, ...] | None = None
        if self.scale is not None and snapshot is not None:
            pending = await self.scale.mirror.restore(session, snapshot, self._ocr)
        if self.scale is not None and pending is None:
            await self.scale.mirror.opened(session)   # a new session, or one whose state could not come back
        await session.send(self.welcome(session, resumed=continued, state_lost=continued and pending is None))
        log.info("session %s opened for %s (%s)", session.session_id, claims.subject, hello.profile_name)
        for question in pending or ():   # what the ingress that held it was still answering
            await self.dispatcher.handle(session, wire.QueryIn(question.query_id, question.text, question.mode,
                                                               question.frame_seq))
        return session

    async def start_recording(self, session: Session) -> CloudSessionRecorder | None:
        """The session's recorder when recording is on, whatever the transport; a recording that cannot start
        never costs the session."""
        if self.config.record_dir is None:
            return None
        info = {"session_id": session.session_id, "profile": session.info.profile_name,
                "subject": session.info.subject}
        path = await asyncio.to_thread(_unused_path, self.config.record_dir, session.session_id)
        recorder = CloudSessionRecorder(path, info, self.clock)
        try:
            await asyncio.to_thread(recorder.open)
        except CloudRecordingError as exc:
            log.error("session %s is not recorded: %s", session.session_id, exc)
            return None
        return recorder


class CloudServer:
    """The cloud and its gRPC ingress, started and stopped together; ``HttpServer(server.cloud)`` adds
    WHIP/WebRTC and the viewer beside it."""

    def __init__(self, config: CloudConfig, signer: TokenSigner, *, clock: Clock | None = None) -> None:
        self.cloud = Cloud(config, signer, clock=clock)
        self.grpc = GrpcIngress(self.cloud)

    @property
    def config(self) -> CloudConfig:
        return self.cloud.config

    @property
    def sessions(self) -> SessionManager:
        return self.cloud.sessions

    @property
    def dispatcher(self) -> Dispatcher:
        return self.cloud.dispatcher

    @property
    def signer(self) -> TokenSigner:
        return self.cloud.signer

    @property
    def port(self) -> int:
        return self.grpc.port

    @property
    def address(self) -> str:
        return self.grpc.address

    async def start(self) -> None:
        """Warm the cloud, then open its port: a client that connects finds it ready. A cloud that cannot start
        (Ray unreachable) releases what it took before the error goes up."""
        try:
            await self.cloud.start()
        except BaseException:
            await self.cloud.close()
            raise
        await self.grpc.start()

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop taking sessions, tell live ones the cloud is going, let them finish within ``grace_s``."""
        if not self.grpc.serving:
            return
        await self.grpc.drain()
        self.cloud.end_sessions()
        await self.grpc.stop(grace_s)
        await self.cloud.close()

    async def wait_closed(self) -> None:
        await self.grpc.wait_closed()


def _scale_out(config: CloudConfig) -> ScaleOut | None:
    if not config.ray:
        return None
    from eyeline.cloud.scale.assembly import ScaleOut  # Ray is imported only by a cloud that asks for it

    return ScaleOut(config.ray, config.ray_scale, asr_model=config.asr_model, frames_kept=config.frames_kept)


def _unused_path(folder: Path, session_id: str) -> Path:
    """``folder/<session id>.mcap``, or ``-2``, ``-3``... after it: a session continued by a restarted cloud
    (its state lost) starts a second recording and never overwrites the first."""
    path, copy = folder / f"{session_id}.mcap", 1
    while path.exists():
        copy += 1
        path = folder / f"{session_id}-{copy}.mcap"
    return path


def _frame_skill(name: str) -> Skill | None:
    if not name:
        return None
    if name == "noop":
        return NoopSkill()
    raise CloudError(f"unknown frame skill {name!r}; known: noop")
