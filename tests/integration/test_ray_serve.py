"""Scale-out on Ray Serve with a real local Ray (two CPUs): a shelf question answered through the Serve
deployments, a session resumed through a second ``eyeline cloud`` process after the first was killed, a
replica killed mid-read, Contemplating's sub-agents and the model reasoner's calls on Serve, ``eyeline demo
--ray``, and a cluster that is not there.

One Ray and one set of deployments serve the whole module, deployed here as ``serve deploy`` would: the
ingresses find them running and only take handles. Skipped only where Ray is not installed.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")

from eyeline.cloud.ingress.auth import TokenSigner  # noqa: E402
from eyeline.cloud.knowledge import demo_pack  # noqa: E402
from eyeline.cloud.model import Mode  # noqa: E402
from eyeline.cloud.reasoning.budgets import ModelConfig  # noqa: E402
from eyeline.cloud.scale.backend import RayLink  # noqa: E402
from eyeline.cloud.scale.config import NAMESPACE, tiny  # noqa: E402
from eyeline.cloud.scale.deployments import MODEL_APP, PERCEPTION_APP, applications  # noqa: E402
from eyeline.cloud.scale.remote import ServeAgentPool, ServeModelEndpoint, ServeOcrPool  # noqa: E402
from eyeline.cloud.scale.session_store import STORE_NAME  # noqa: E402
from eyeline.cloud.skills.base import SkillContext  # noqa: E402
from eyeline.cloud.skills.shelf.agents import contemplate  # noqa: E402
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame  # noqa: E402
from eyeline.edge.messages import Answer  # noqa: E402
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions  # noqa: E402
from eyeline.edge.transport.wire import QueryOut  # noqa: E402
from eyeline.protos.clock import MonotonicClock  # noqa: E402
from tests.model_helpers import ScriptedModel, completion  # noqa: E402

from .helpers import Session, hello, jpeg_frame  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

EYELINE = [sys.executable, "-m", "eyeline.tools.cli"]
SECRET = b"ray-serve-test-secret-0123456789"
QUESTION = "which of these has the most protein?"
READS_IN_FLIGHT = 6


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    context = ray.init(num_cpus=2, namespace=NAMESPACE, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(proxy_location="Disabled")
        for name, app in applications(tiny()).items():
            serve.run(app, name=name, route_prefix=None)
        yield str(context.address_info["gcs_address"])
    finally:
        serve.shutdown()
        ray.shutdown()


def _start_ingress(address: str, secret_file: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([*EYELINE, "cloud", "--ray", address, "--port", "0", "--http-port", "-1",
                                "--secret-file", str(secret_file), "--resume-grace", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (\S+)", line)
    if match is None:
        process.kill()
        raise AssertionError(f"ingress did not start: {line!r} {process.stderr.read() if process.stderr else ''}")
    return process, match.group(1)


async def _final_answer(session: Session, query_id: str) -> Answer:
    while True:
        answer = await session.next(Answer, within_s=180)
        assert isinstance(answer, Answer)
        if answer.query_id == query_id and answer.final:
            return answer


def _served_reads() -> int:
    served: dict[str, int] = serve.get_app_handle(PERCEPTION_APP).served.remote().result()
    return served["read"]


async def test_a_shelf_question_goes_through_serve_and_the_session_resumes_on_a_second_ingress(
        ray_address: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET)
    (first, first_address), (second, second_address) = await asyncio.gather(
        asyncio.to_thread(_start_ingress, ray_address, secret_file),
        asyncio.to_thread(_start_ingress, ray_address, secret_file))
    image, truth = render_shelf_frame(make_shelf_scene(seed=0), 0.0)
    best = truth.best_product().display_name.lower()
    token = TokenSigner(SECRET).mint("glasses", 600)
    store = ray.get_actor(STORE_NAME, namespace=NAMESPACE)
    reads_before = await asyncio.to_thread(_served_reads)
    try:
        uplink = GrpcUplink(UplinkOptions(first_address, close_timeout_s=0.5))
        welcome = await uplink.open(hello(token))
        session = Session(uplink)
        await uplink.push_frame(jpeg_frame(1, image))
        await uplink.ask(QueryOut("q1", QUESTION, frame_seq=1))
        # The first ingress dies mid-question (no goodbye, no clean close), once the store knows the question.
        await _until_pending(store, welcome.session_id, "q1")
        first.kill()
        first.wait(timeout=30)
        await session.close()

        again_uplink = GrpcUplink(UplinkOptions(second_address, close_timeout_s=0.5))
        greeting = await again_uplink.open(replace(hello(token), resume_session_id=welcome.session_id,
                                                   last_frame_seq=1))
        resumed = Session(again_uplink)
        try:
            assert (greeting.session_id, greeting.resumed, greeting.state_lost) == (welcome.session_id, True, False)
            # The second ingress answers the question the first one died on, over the keyframe the first one
            # received: nothing is sent again.
            answer = await _final_answer(resumed, "q1")
            assert best in answer.text.lower()
            assert await asyncio.to_thread(_served_reads) > reads_before   # read by Serve, not in an ingress
            await resumed.uplink.ask(QueryOut("q2", QUESTION, frame_seq=1))
            assert best in (await _final_answer(resumed, "q2")).text.lower()
        finally:
            await resumed.close()
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


async def _until_pending(store: object, session_id: str, query_id: str) -> None:
    """Wait until the session store holds ``query_id`` as being answered, with its keyframe."""
    async with asyncio.timeout(60):
        while True:
            held = await store.peek.remote(session_id)  # type: ignore[attr-defined]
            if held is not None and held.frames and any(q.query_id == query_id for q in held.pending):
                return
            await asyncio.sleep(0.02)


async def test_a_replica_killed_mid_read_is_retried_on_another(ray_address: str) -> None:
    link = RayLink(ray_address, tiny())
    await link.connect()
    pool = ServeOcrPool(link)
    image, truth = render_shelf_frame(make_shelf_scene(seed=1), 0.0)
    try:
        replica = await asyncio.to_thread(_perception_replica)
        served_before = await asyncio.to_thread(_served_reads)
        # Reads queue in the replica's one OCR engine; once it has answered one, the others are in its hands.
        reading = [asyncio.create_task(pool.read(image)) for _ in range(READS_IN_FLIGHT)]
        async with asyncio.timeout(120):
            while True:
                if await asyncio.to_thread(_served_reads) > served_before:
                    break
                await asyncio.sleep(0.01)
        ray.kill(replica, no_restart=True)
        for lines in await asyncio.gather(*reading):
            text = " ".join(line.text.lower() for line in lines)
            assert truth.best_product().display_name.lower().split()[0] in text
        assert link.failover.retries >= 1 and link.failover.fallbacks == 0 and not link.failover.lost
    finally:
        pool.close()
        await link.close()


async def test_contemplating_runs_its_sub_agents_on_serve_with_the_frame_put_once(ray_address: str) -> None:
    link = RayLink(ray_address, tiny())
    await link.connect()
    ocr, agents = ServeOcrPool(link), ServeAgentPool(link, workers=2)
    image, truth = render_shelf_frame(make_shelf_scene(seed=2), 0.0)
    context = SkillContext(question=QUESTION, mode=Mode.CONTEMPLATING, image=image, frame_seq=1, ocr=ocr)
    try:
        result = await contemplate(context, demo_pack().products, agents.executor)
        assert truth.best_product().display_name.lower() in result.answer.lower()
        assert "agents agreed" in result.answer
        assert {step.agent for step in result.steps} >= {"frame", "scale-1.5x", "knowledge", "orchestrator"}
        # Every agent and the OCR read the one object-store copy of the frame; nothing ran in this process.
        assert len(link.frames) == 1 and link.failover.fallbacks == 0
    finally:
        agents.close()
        ocr.close()
        await link.close()


async def test_model_calls_go_through_serve_with_the_key_sent_per_call(ray_address: str) -> None:
    link = RayLink(ray_address, tiny())
    await link.connect()
    answer = json.dumps({"answer": "answered behind serve", "steps": [], "overlay": []})
    async with ScriptedModel(lambda request: completion(answer)) as model:
        clock = MonotonicClock()
        config = ModelConfig(base_url=model.url, model="scripted-vl", api_key="key-of-the-wearer")
        endpoint = ServeModelEndpoint(link, config, clock)
        try:
            reply = await endpoint.complete([{"role": "user", "content": "what is this?"}], max_tokens=32,
                                            deadline_ns=clock.now_ns() + 60 * 10**9)
        finally:
            await endpoint.aclose()
            await link.close()
    assert reply.answer == "answered behind serve"
    # Sent by the ModelCalls replica, not from this process, with the key as an ordinary bearer token.
    assert endpoint.calls == 0 and link.failover.fallbacks == 0 and len(model.requests) == 1
    assert model.headers[0]["Authorization"] == "Bearer key-of-the-wearer"
    served: int = await asyncio.to_thread(lambda: serve.get_app_handle(MODEL_APP).served.remote().result())
    assert served >= 1


def _perception_replica() -> object:
    names = [actor["name"] for actor in ray.util.list_named_actors(all_namespaces=True)
             if actor["name"].startswith(f"SERVE_REPLICA::{PERCEPTION_APP}#")]
    assert names, "no Perception replica is running"
    return ray.get_actor(names[0], namespace="serve")


def test_the_demo_answers_through_serve(ray_address: str, tmp_path: Path) -> None:
    result = subprocess.run([*EYELINE, "demo", "--ray", ray_address, "--out", str(tmp_path / "demo")],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    _, truth = render_shelf_frame(make_shelf_scene(seed=0), 0.0)
    answer_line = next(line for line in result.stdout.splitlines() if line.startswith("answer"))
    assert truth.best_product().display_name.lower() in answer_line.lower()


def test_a_cluster_that_is_not_there_is_one_clear_error(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET)
    result = subprocess.run([*EYELINE, "cloud", "--ray", "127.0.0.1:9", "--port", "0", "--http-port", "-1",
                             "--secret-file", str(secret_file)], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no Ray cluster answers at 127.0.0.1:9" in result.stderr
