"""The Serve-backed OCR pool with a scripted deployment handle (no cluster): Ray's own exception types decide
between trying another replica, working in process once Ray is lost (a warning, once), and the work's own
error, which goes up."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ray.serve")   # imported once here, quietly: its own import warns
rx = pytest.importorskip("ray.exceptions")

from eyeline.cloud.model import Image, NormBox  # noqa: E402
from eyeline.cloud.perception.ocr import OcrError, TextLine  # noqa: E402
from eyeline.cloud.scale.backend import RayLink, classify  # noqa: E402
from eyeline.cloud.scale.config import ScaleConfig  # noqa: E402
from eyeline.cloud.scale.deployments import PERCEPTION_APP  # noqa: E402
from eyeline.cloud.scale.failover import Fault  # noqa: E402
from eyeline.cloud.scale.remote import ServeOcrPool  # noqa: E402

IMAGE: Image = np.zeros((40, 60, 3), np.uint8)


def line(text: str) -> TextLine:
    return TextLine(text, 0.99, NormBox(0.1, 0.1, 0.5, 0.2), ((0.1, 0.1), (0.5, 0.1), (0.5, 0.2), (0.1, 0.2)))


class ScriptedRead:
    """A handle method: each ``remote`` raises the next scripted error, then answers with a remote line."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def remote(self, ref: object) -> Any:
        self.calls += 1
        assert ref == "ref-of-the-frame"   # the frame goes by its object-store reference

        async def respond() -> tuple[TextLine, ...]:
            if self.errors:
                raise self.errors.pop(0)
            return (line("from serve"),)

        return respond()


class ScriptedParts:
    """``detect_each`` and ``recognize`` handle methods, recording what reached the replica."""

    def __init__(self) -> None:
        self.detected: list[tuple[int, float | None]] = []
        self.recognized: list[tuple[object, int]] = []
        self.detect_each = self._Method(self._detect_each)
        self.recognize = self._Method(self._recognize)

    class _Method:
        def __init__(self, answer: Any) -> None:
            self.remote = answer

    async def _detect_each(self, images: list[Image], scale: float | None) -> tuple[tuple[Any, ...], ...]:
        self.detected.append((len(images), scale))
        return tuple((QUAD,) for _ in images)

    async def _recognize(self, ref: object, quads: list[Any]) -> tuple[TextLine | None, ...]:
        self.recognized.append((ref, len(quads)))
        return tuple(line("recognised on serve") for _ in quads)


QUAD = ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0))


class ScriptedHandle:
    def __init__(self, read: ScriptedRead, parts: ScriptedParts | None = None) -> None:
        self.read = read
        if parts is not None:
            self.detect_each, self.recognize = parts.detect_each, parts.recognize


class Refs:
    async def ref(self, image: Image) -> str:
        return "ref-of-the-frame"


class LocalEngine:
    def read(self, image_bgr: Image) -> tuple[TextLine, ...]:
        return (line("in process"),)


def serve_pool(read: ScriptedRead) -> tuple[ServeOcrPool, RayLink]:
    link = RayLink("auto", ScaleConfig(attempts=3))
    link._handles = {PERCEPTION_APP: ScriptedHandle(read)}
    link.frames = Refs()  # type: ignore[assignment]
    return ServeOcrPool(link, engine_factory=LocalEngine), link


async def test_a_read_whose_replica_died_is_answered_by_another() -> None:
    read = ScriptedRead(rx.ActorDiedError())
    pool, link = serve_pool(read)
    assert [found.text for found in await pool.read(IMAGE)] == ["from serve"]
    assert read.calls == 2 and link.failover.retries == 1 and not link.failover.lost
    pool.close()


async def test_a_tracked_reads_detection_and_recognition_run_on_the_replica_too() -> None:
    parts = ScriptedParts()
    pool, link = serve_pool(ScriptedRead())
    link._handles = {PERCEPTION_APP: ScriptedHandle(ScriptedRead(), parts)}
    assert await pool.detect_each([IMAGE, IMAGE], scale=0.5) == ((QUAD,), (QUAD,))
    assert await pool.detect(IMAGE) == (QUAD,)
    [found] = await pool.recognize(IMAGE, [QUAD])
    assert found is not None and found.text == "recognised on serve"
    # Crops of changed windows go by value; the full frame goes by its object-store reference.
    assert parts.detected == [(2, 0.5), (1, None)] and parts.recognized == [("ref-of-the-frame", 1)]
    pool.close()


async def test_ray_lost_mid_session_falls_back_to_in_process_ocr_with_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    read = ScriptedRead(rx.RaySystemError("the cluster is gone"))
    pool, link = serve_pool(read)
    with caplog.at_level(logging.WARNING):
        first = await pool.read(IMAGE)
        second = await pool.read(IMAGE)
    assert [found.text for found in (*first, *second)] == ["in process", "in process"]
    assert read.calls == 1 and link.failover.lost and not link.connected
    warnings = [record.message for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Ray was lost" in warnings[0]
    pool.close()


async def test_an_ocr_error_raised_in_the_replica_goes_up_and_is_not_retried() -> None:
    error = rx.RayTaskError("read", "traceback", OcrError("not an image")).as_instanceof_cause()
    read = ScriptedRead(error)
    pool, link = serve_pool(read)
    with pytest.raises(OcrError):   # the replica's error, as an instance of its own class
        await pool.read(IMAGE)
    assert read.calls == 1 and link.failover.fallbacks == 0
    pool.close()


@pytest.mark.parametrize(("error", "fault"), [
    (rx.ActorDiedError(), Fault.REPLICA_DIED),
    (rx.ActorUnavailableError("unavailable", None), Fault.REPLICA_DIED),
    (rx.RaySystemError("gone"), Fault.RAY_LOST),
    (ConnectionError("refused"), Fault.RAY_LOST),
    (ValueError("the work's own"), Fault.OTHER),
])
def test_ray_errors_are_classified(error: BaseException, fault: Fault) -> None:
    assert classify(error) is fault


class ScriptedModelCalls:
    """The ``ModelCalls`` handle: records what each call carried, answers or fails as scripted."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls: list[tuple[Any, ...]] = []
        self.complete = self

    def remote(self, *args: Any) -> Any:
        self.calls.append(args)

        async def respond() -> Any:
            if self.errors:
                raise self.errors.pop(0)
            from eyeline.cloud.reasoning.model_parse import parse_completion
            from tests.model_helpers import completion
            return parse_completion(completion('{"answer": "from the model replica", "steps": [], "overlay": []}'))

        return respond()


def serve_model(calls: ScriptedModelCalls) -> tuple[Any, RayLink, Any]:
    from eyeline.cloud.reasoning.budgets import ModelConfig
    from eyeline.cloud.scale.deployments import MODEL_APP
    from eyeline.cloud.scale.remote import ServeModelEndpoint
    from eyeline.protos.clock import VirtualClock

    link = RayLink("auto", ScaleConfig(attempts=3))
    link._handles = {MODEL_APP: calls}
    clock = VirtualClock()
    config = ModelConfig(base_url="http://127.0.0.1:9/v1", model="vl", api_key="the-secret-key")
    return ServeModelEndpoint(link, config, clock), link, clock


async def test_a_model_call_goes_to_the_replica_with_its_key_apart_and_the_seconds_left() -> None:
    calls = ScriptedModelCalls()
    endpoint, link, clock = serve_model(calls)
    reply = await endpoint.complete([{"role": "user", "content": "hi"}], max_tokens=64,
                                    deadline_ns=clock.now_ns() + 8_000_000_000)
    assert reply.answer == "from the model replica"
    [(config, key, messages, max_tokens, timeout_s, _, model)] = calls.calls
    assert config.api_key == "" and key == "the-secret-key"   # never in what Serve might keep
    assert messages == [{"role": "user", "content": "hi"}] and max_tokens == 64 and model == ""
    assert timeout_s == 8.0 and link.failover.fallbacks == 0 and endpoint.calls == 0
    await endpoint.aclose()


async def test_a_model_error_on_the_replica_goes_up_and_ray_lost_calls_the_endpoint_from_here() -> None:
    from eyeline.cloud.reasoning.model_client import ModelUnavailableError

    error = rx.RayTaskError("complete", "traceback", ModelUnavailableError("down")).as_instanceof_cause()
    endpoint, link, clock = serve_model(ScriptedModelCalls(error))
    with pytest.raises(ModelUnavailableError):
        await endpoint.complete([], max_tokens=8, deadline_ns=clock.now_ns() + 10**9)
    assert link.failover.fallbacks == 0 and not link.failover.lost
    endpoint, link, clock = serve_model(ScriptedModelCalls(rx.RaySystemError("gone")))
    with pytest.raises(ModelUnavailableError):   # in process now: port 9 answers nothing
        await endpoint.complete([], max_tokens=8, deadline_ns=clock.now_ns() + 10**9)
    assert link.failover.lost and link.failover.fallbacks == 1 and endpoint.calls >= 1
    await endpoint.aclose()
