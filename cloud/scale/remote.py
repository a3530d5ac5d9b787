"""The Serve deployments behind the interfaces the cloud already calls, each with its in-process fallback.

Each class is the in-process one it stands for (``OcrPool``, ``ProductSegmenter``, ``SpeechRecognizer``,
``AgentPool``, ``ModelEndpoint``), so the dispatcher, skills, passes and reasoner take it unchanged. Its work goes
to a deployment through ``RayLink.failover``: tried again on another replica when one dies, done by the parent
class in this process once Ray is lost. The in-process parts cost nothing until then: OCR engines, Whisper and
agent processes all load at their first use.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

from eyeline.cloud.model import Image
from eyeline.cloud.perception.ocr import OcrPool, Quad, TextLine
from eyeline.cloud.perception.segmentation import ProductRegion, ProductSegmenter
from eyeline.cloud.perception.speech import CloudTranscript, Samples, SpeechRecognizer
from eyeline.cloud.reasoning.budgets import ModelConfig
from eyeline.cloud.reasoning.model_client import ModelEndpoint, ModelUnavailableError
from eyeline.cloud.reasoning.model_parse import ModelReply
from eyeline.cloud.scale.backend import RayLink
from eyeline.cloud.scale.deployments import AGENTS_APP, EMPTY_IMAGE, MODEL_APP, PERCEPTION_APP, SPEECH_APP
from eyeline.cloud.skills.shelf.agents import AgentJob, AgentPool, AgentReport, run_agent
from eyeline.protos.clock import Clock

P = ParamSpec("P")
T = TypeVar("T")


class ServeOcrPool(OcrPool):
    """OCR on the ``Perception`` deployment; the frame goes by its object-store reference."""

    def __init__(self, link: RayLink, workers: int = 1, **pool_options: Any) -> None:
        super().__init__(workers, **pool_options)
        self._link = link
        self._remote_warm = False

    async def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        local = functools.partial(OcrPool.read, self, image_bgr)
        if not self._link.connected:
            return await local()
        return await self._link.failover.run("OCR", lambda: self._read_remote(image_bgr), local)

    async def detect(self, image_bgr: Image, *, scale: float | None = None) -> tuple[Quad, ...]:
        (quads,) = await self.detect_each([image_bgr], scale=scale)
        return quads

    async def detect_each(self, images: Sequence[Image], *,
                          scale: float | None = None) -> tuple[tuple[Quad, ...], ...]:
        """A tracked read's changed windows, detected on a replica (small crops: sent by value)."""
        local = functools.partial(OcrPool.detect_each, self, images, scale=scale)
        if not self._link.connected:
            return await local()
        return await self._link.failover.run(
            "OCR detection", lambda: self._link.handle(PERCEPTION_APP).detect_each.remote(list(images), scale), local)

    async def recognize(self, image_bgr: Image, quads: Sequence[Quad]) -> tuple[TextLine | None, ...]:
        local = functools.partial(OcrPool.recognize, self, image_bgr, quads)
        if not self._link.connected:
            return await local()
        return await self._link.failover.run("OCR recognition", lambda: self._recognize_remote(image_bgr, quads),
                                             local)

    async def _read_remote(self, image: Image) -> tuple[TextLine, ...]:
        ref = await self._link.put(image)
        lines: tuple[TextLine, ...] = await self._link.handle(PERCEPTION_APP).read.remote(ref)
        return lines

    async def _recognize_remote(self, image: Image, quads: Sequence[Quad]) -> tuple[TextLine | None, ...]:
        ref = await self._link.put(image)
        lines: tuple[TextLine | None, ...] = await self._link.handle(PERCEPTION_APP).recognize.remote(ref,
                                                                                                    list(quads))
        return lines

    async def warm_up(self) -> None:
        """Every running replica loads its engine now (new ones load theirs as they start)."""
        if not self._link.connected:
            await OcrPool.warm_up(self)
            return
        self._remote_warm = await self._link.failover.run(
            "OCR warm-up", lambda: self._link.handle(PERCEPTION_APP).warm_up.remote(), _false)

    @property
    def warm(self) -> bool:
        return super().warm if self._link.failover.lost else self._remote_warm


class ServeSegmenter(ProductSegmenter):
    """Product segmentation on the ``Perception`` deployment, beside the OCR of the same frame."""

    def __init__(self, link: RayLink) -> None:
        super().__init__()
        self._link = link

    async def segment(self, image_bgr: Image) -> tuple[ProductRegion, ...]:
        local = functools.partial(ProductSegmenter.segment, self, image_bgr)
        if not self._link.connected:
            return await local()
        return await self._link.failover.run("segmentation", lambda: self._remote(image_bgr), local)

    async def _remote(self, image: Image) -> tuple[ProductRegion, ...]:
        ref = await self._link.put(image)
        regions: tuple[ProductRegion, ...] = await self._link.handle(PERCEPTION_APP).segment.remote(ref)
        return regions


class ServeSpeechRecognizer(SpeechRecognizer):
    """Whisper on the ``Speech`` deployment; loaded in this process only once Ray is lost."""

    def __init__(self, link: RayLink, model: str = "") -> None:
        super().__init__(model)
        self._link = link

    async def transcribe(self, samples: Samples) -> CloudTranscript:
        local = functools.partial(SpeechRecognizer.transcribe, self, samples)
        if not self._link.connected:
            return await local()

        async def remote() -> CloudTranscript:
            transcript: CloudTranscript = await self._link.handle(SPEECH_APP).transcribe.remote(samples)
            return transcript

        return await self._link.failover.run("speech recognition", remote, local)


class ServeAgentPool(AgentPool):
    """Contemplating's sub-agents on the ``SubAgents`` deployment; worker processes start only once Ray is
    lost. ``executor`` is what ``contemplate`` submits ``run_agent`` jobs to."""

    def __init__(self, link: RayLink, workers: int = 2) -> None:
        super().__init__(workers)
        self._link = link
        self._serve = _ServeAgentExecutor(self)

    @property
    def executor(self) -> Executor:
        return self._serve

    @property
    def local(self) -> Executor:
        return super().executor

    async def run(self, job: AgentJob) -> AgentReport:
        local = functools.partial(_in_executor, self.local, run_agent, job)
        if not self._link.connected:
            return await local()
        return await self._link.failover.run(f"sub-agent {job.agent}", lambda: self._remote(job), local)

    async def _remote(self, job: AgentJob) -> AgentReport:
        # The job's frames go apart, as references: a frame several agents share is put once.
        image = await self._link.put(job.image)
        others = [await self._link.put(other) for other in job.others]
        bare = replace(job, image=EMPTY_IMAGE, others=())
        report: AgentReport = await self._link.handle(AGENTS_APP).run.remote(bare, image, *others)
        return report

    def close(self) -> None:
        self._serve.shutdown()
        super().close()


class _ServeAgentExecutor(Executor):
    """An ``Executor`` face on ``ServeAgentPool.run``: ``contemplate`` runs ``run_agent(job)`` in it."""

    def __init__(self, pool: ServeAgentPool) -> None:
        self._pool = pool

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        job = args[0] if args else None
        if not isinstance(job, AgentJob) or kwargs:
            raise TypeError("the sub-agent executor runs agent jobs only: submit(run_agent, job)")
        loop = asyncio.get_running_loop()   # contemplate submits from the cloud's loop
        task = loop.create_task(self._pool.run(job))
        future: Future[T] = Future()
        task.add_done_callback(functools.partial(_settle, future))
        # The awaiting side gave up (its question was cancelled): the remote call goes too.
        future.add_done_callback(lambda done: task.cancel() if done.cancelled() else None)
        return future


def _settle(future: Future[Any], task: asyncio.Task[Any]) -> None:
    if future.done():
        return
    if task.cancelled():
        future.cancel()
    elif (error := task.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(task.result())


async def _in_executor(executor: Executor, fn: Callable[[AgentJob], AgentReport], job: AgentJob) -> AgentReport:
    return await asyncio.get_running_loop().run_in_executor(executor, fn, job)


async def _false() -> bool:
    return False


class ServeModelEndpoint(ModelEndpoint):
    """Model calls on the ``ModelCalls`` deployment: every ingress's calls to one endpoint share its concurrency
    limit and circuit breaker there. The key travels with each call, never in the application's config."""

    _GRACE_S = 5.0   # past the deadline the replica keeps itself to: only then does a call count as Ray lost

    def __init__(self, link: RayLink, config: ModelConfig, clock: Clock) -> None:
        super().__init__(config, clock)
        self._link = link
        self._keyless = replace(config, api_key="")

    async def complete(self, messages: Sequence[dict[str, Any]], *, max_tokens: int, deadline_ns: int,
                       response_format: dict[str, Any] | None = None, model: str = "") -> ModelReply:
        local = functools.partial(ModelEndpoint.complete, self, messages, max_tokens=max_tokens,
                                  deadline_ns=deadline_ns, response_format=response_format, model=model)
        if not self._link.connected:
            return await local()
        timeout_s = (deadline_ns - self._clock.now_ns()) / 1e9
        if timeout_s <= 0:
            raise ModelUnavailableError("no time left in this mode's deadline to ask the model")

        async def remote() -> ModelReply:
            reply: ModelReply = await self._link.handle(MODEL_APP).complete.remote(
                self._keyless, self.config.api_key, list(messages), max_tokens, timeout_s, response_format, model)
            return reply

        return await self._link.failover.run("model call", remote, local, timeout_s=timeout_s + self._GRACE_S)
