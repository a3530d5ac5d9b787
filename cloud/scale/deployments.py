"""The heavy, stateless work of the cloud as Ray Serve deployments, each its own Serve application.

- ``Perception`` (application ``eyeline-perception``): OCR (an ``OcrPool`` of one engine per replica) and
  product segmentation. A frame arrives as an object-store reference the ingress put once; Serve resolves it
  in the replica, so pixels are never re-encoded or sent twice.
- ``Speech`` (``eyeline-speech``): Whisper; the model loads at the replica's first utterance.
- ``SubAgents`` (``eyeline-agents``): Contemplating's sub-agents, each replica with its own OCR engine.
- ``ModelCalls`` (``eyeline-model``): calls to the wearers' OpenAI-compatible model endpoints, one endpoint
  (concurrency limit, retries, circuit breaker) per configured endpoint, shared by every ingress that uses it.

Each application is built by a function taking Serve's ``args`` (``perception_app`` ...), the form the
``import_path`` of a ``serve deploy`` config file names (``deploy/serve.yaml``).
Autoscaling bounds and replica sizes come from ``ScaleConfig`` (or the config file's ``deployments:``).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from typing import Any

import numpy as np
from ray import serve
from ray.serve import Application, Deployment

from eyeline.cloud.model import Image
from eyeline.cloud.perception.ocr import OcrPool, Quad, TextLine
from eyeline.cloud.perception.segmentation import ProductRegion, ProductSegmenter
from eyeline.cloud.perception.speech import CloudTranscript, Samples, SpeechRecognizer
from eyeline.cloud.reasoning.budgets import ModelConfig
from eyeline.cloud.reasoning.model_client import ModelEndpoint
from eyeline.cloud.reasoning.model_parse import ModelReply
from eyeline.cloud.scale.config import DeploymentSize, ScaleConfig
from eyeline.cloud.skills.shelf.agents import AgentJob, AgentReport, load_worker_engine, run_agent
from eyeline.protos.clock import MonotonicClock

PERCEPTION_APP = "eyeline-perception"
SPEECH_APP = "eyeline-speech"
AGENTS_APP = "eyeline-agents"
MODEL_APP = "eyeline-model"


class Perception:
    """One replica's OCR engine and segmenter. Reads queue in the replica's pool, bounded as in process."""

    def __init__(self) -> None:
        self._ocr = OcrPool(workers=1)
        self._segmenter = ProductSegmenter()
        self._served = {"read": 0, "detect": 0, "recognize": 0, "segment": 0}

    async def read(self, image: Image) -> tuple[TextLine, ...]:
        lines = await self._ocr.read(image)
        self._served["read"] += 1
        return lines

    async def detect_each(self, images: list[Image], scale: float | None) -> tuple[tuple[Quad, ...], ...]:
        """The text outlines in each image (a tracked read's changed windows), none read."""
        found = await self._ocr.detect_each(images, scale=scale)
        self._served["detect"] += 1
        return found

    async def recognize(self, image: Image, quads: list[Quad]) -> tuple[TextLine | None, ...]:
        """The text of each outline (the new ones of a tracked read), read from the full frame."""
        lines = await self._ocr.recognize(image, quads)
        self._served["recognize"] += 1
        return lines

    async def segment(self, image: Image) -> tuple[ProductRegion, ...]:
        regions = await self._segmenter.segment(image)
        self._served["segment"] += 1
        return regions

    async def served(self) -> dict[str, int]:
        """Reads and segmentations this replica has answered (what an operator, or a test, checks)."""
        return dict(self._served)

    async def warm_up(self) -> bool:
        """Load the engine and run it once, so a question never pays the model load."""
        await self._ocr.warm_up()
        return self._ocr.warm


class Speech:
    """One replica's Whisper model, loaded at its first utterance."""

    def __init__(self, model: str = "") -> None:
        self._recognizer = SpeechRecognizer(model)

    async def transcribe(self, samples: Samples) -> CloudTranscript:
        return await self._recognizer.transcribe(samples)


class SubAgents:
    """Contemplating's sub-agents: each replica loads its OCR engine once and runs one agent at a time (the
    engine is not thread-safe; more agents at once is more replicas)."""

    def __init__(self) -> None:
        load_worker_engine()
        self._one_at_a_time = asyncio.Lock()

    async def run(self, job: AgentJob, image: Image, *others: Image) -> AgentReport:
        """The agent of ``job``, its frames given apart: object-store references, which Serve resolves here."""
        whole = replace(job, image=image, others=others)
        async with self._one_at_a_time:
            return await asyncio.to_thread(run_agent, whole)


class ModelCalls:
    """The model reasoner's calls, from any ingress. The endpoint's key comes with each call: it is never part
    of the application's stored config. The deadline comes as the seconds left, counted here on this replica's
    clock (clocks of different machines are not comparable)."""

    def __init__(self) -> None:
        self._clock = MonotonicClock()
        self._endpoints: dict[tuple[str, str, str], ModelEndpoint] = {}
        self._served = 0

    async def complete(self, config: ModelConfig, api_key: str, messages: list[dict[str, Any]], max_tokens: int,
                       timeout_s: float, response_format: dict[str, Any] | None, model: str) -> ModelReply:
        endpoint = self._endpoint(config, api_key)
        self._served += 1
        return await endpoint.complete(messages, max_tokens=max_tokens,
                                       deadline_ns=self._clock.now_ns() + int(timeout_s * 1e9),
                                       response_format=response_format, model=model)

    async def served(self) -> int:
        return self._served

    def _endpoint(self, config: ModelConfig, api_key: str) -> ModelEndpoint:
        key = (config.base_url, config.model, hashlib.sha256(api_key.encode()).hexdigest())
        if key not in self._endpoints:
            self._endpoints[key] = ModelEndpoint(replace(config, api_key=api_key), self._clock)
        return self._endpoints[key]


def _size(args: dict[str, Any], default: DeploymentSize) -> dict[str, Any]:
    """Serve options from ``default``, with ``min_replicas``/``max_replicas``/``num_cpus`` from ``args``."""
    size = DeploymentSize(min_replicas=int(args.get("min_replicas", default.min_replicas)),
                          max_replicas=int(args.get("max_replicas", default.max_replicas)),
                          target_ongoing_requests=float(args.get("target_ongoing_requests",
                                                                 default.target_ongoing_requests)),
                          num_cpus=float(args.get("num_cpus", default.num_cpus)),
                          max_ongoing_requests=int(args.get("max_ongoing_requests", default.max_ongoing_requests)))
    return size.serve_options()


def _application(cls: type, options: dict[str, Any], *init_args: Any) -> Application:
    deployment: Deployment = serve.deployment(name=cls.__name__, **options)(cls)
    app: Application = deployment.bind(*init_args)
    return app


def perception_app(args: dict[str, Any]) -> Application:
    return _application(Perception, _size(args, ScaleConfig().perception))


def speech_app(args: dict[str, Any]) -> Application:
    return _application(Speech, _size(args, ScaleConfig().speech), str(args.get("model", "")))


def agents_app(args: dict[str, Any]) -> Application:
    return _application(SubAgents, _size(args, ScaleConfig().agents))


def model_app(args: dict[str, Any]) -> Application:
    return _application(ModelCalls, _size(args, ScaleConfig().model))


def applications(scale: ScaleConfig, asr_model: str = "") -> dict[str, Application]:
    """Every Eyeline application by name, sized by ``scale``."""
    return {
        PERCEPTION_APP: perception_app(_args(scale.perception)),
        SPEECH_APP: speech_app({**_args(scale.speech), "model": asr_model}),
        AGENTS_APP: agents_app(_args(scale.agents)),
        MODEL_APP: model_app(_args(scale.model)),
    }


def _args(size: DeploymentSize) -> dict[str, Any]:
    return {"min_replicas": size.min_replicas, "max_replicas": size.max_replicas, "num_cpus": size.num_cpus,
            "target_ongoing_requests": size.target_ongoing_requests,
            "max_ongoing_requests": size.max_ongoing_requests}


EMPTY_IMAGE: Image = np.zeros((1, 1, 3), np.uint8)   # what a job's frames are replaced by on the wire
