"""What ``Cloud`` builds instead of its in-process parts when ``CloudConfig.ray`` is set."""

from __future__ import annotations

from eyeline.cloud.perception.ocr import OcrPool
from eyeline.cloud.perception.segmentation import ProductSegmenter
from eyeline.cloud.perception.speech import SpeechRecognizer
from eyeline.cloud.reasoning.budgets import ModelConfig
from eyeline.cloud.reasoning.model_client import ModelEndpoint
from eyeline.cloud.scale.backend import RayLink
from eyeline.cloud.scale.config import ScaleConfig
from eyeline.cloud.scale.mirror import SessionMirror
from eyeline.cloud.scale.remote import (
    ServeAgentPool,
    ServeModelEndpoint,
    ServeOcrPool,
    ServeSegmenter,
    ServeSpeechRecognizer,
)
from eyeline.cloud.skills.shelf.agents import AgentPool
from eyeline.protos.clock import Clock


class ScaleOut:
    """One ingress's Ray: its link, the Serve-backed pools and the session mirror, connected by ``start``."""

    def __init__(self, address: str, scale: ScaleConfig, *, asr_model: str = "", frames_kept: int = 8) -> None:
        self.link = RayLink(address, scale, asr_model=asr_model)
        self.mirror = SessionMirror(self.link, frames_kept=frames_kept)

    def ocr(self, workers: int) -> OcrPool:
        return ServeOcrPool(self.link, workers)

    def segmenter(self) -> ProductSegmenter:
        return ServeSegmenter(self.link)

    def speech(self, model: str) -> SpeechRecognizer:
        return ServeSpeechRecognizer(self.link, model)

    def agents(self, workers: int) -> AgentPool:
        return ServeAgentPool(self.link, workers)

    def model_endpoint(self, config: ModelConfig, clock: Clock) -> ModelEndpoint:
        return ServeModelEndpoint(self.link, config, clock)

    async def start(self) -> None:
        """Join (or start) Ray and its deployments: ``RayUnavailableError`` when it cannot."""
        await self.link.connect()

    async def close(self) -> None:
        await self.link.close()
