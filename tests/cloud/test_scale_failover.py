"""The Ray Serve failover policy, with fakes: a dead replica is tried again, a lost Ray sends every later call
to this process (said once in the log), the work's own errors go up unchanged. And without ``--ray`` nothing
of Ray is imported."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import pytest

from eyeline.cloud.scale.failover import Failover, Fault, ScaleError


class ReplicaDied(Exception):
    pass


class RayGone(Exception):
    pass


def classify(exc: BaseException) -> Fault:
    if isinstance(exc, ReplicaDied):
        return Fault.REPLICA_DIED
    if isinstance(exc, RayGone):
        return Fault.RAY_LOST
    return Fault.OTHER


class ScriptedRemote:
    """A remote call that fails as scripted, then answers "remote"."""

    def __init__(self, *failures: BaseException) -> None:
        self._failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self._failures:
            raise self._failures.pop(0)
        return "remote"


async def local() -> str:
    return "local"


async def test_a_replica_that_dies_is_tried_again_and_the_answer_is_remote() -> None:
    failover = Failover(classify, attempts=3)
    remote = ScriptedRemote(ReplicaDied(), ReplicaDied())
    assert await failover.run("OCR", remote, local) == "remote"
    assert (remote.calls, failover.retries, failover.fallbacks, failover.lost) == (3, 2, 0, False)


async def test_when_every_attempt_loses_its_replica_the_work_is_done_here_but_ray_is_not_given_up(
        caplog: pytest.LogCaptureFixture) -> None:
    failover = Failover(classify, attempts=2)
    remote = ScriptedRemote(ReplicaDied(), ReplicaDied())
    with caplog.at_level(logging.WARNING):
        assert await failover.run("OCR", remote, local) == "local"
    assert (remote.calls, failover.fallbacks, failover.lost) == (2, 1, False)
    assert "2 replicas died" in caplog.text
    assert await failover.run("OCR", remote, local) == "remote"   # the next call goes to Serve again


async def test_a_lost_ray_sends_this_and_every_later_call_to_this_process_with_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    failover = Failover(classify, attempts=3)
    remote = ScriptedRemote(RayGone())
    with caplog.at_level(logging.WARNING):
        results = [await failover.run("OCR", remote, local) for _ in range(3)]
    assert results == ["local"] * 3
    assert remote.calls == 1 and failover.lost and failover.fallbacks == 3
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "Ray was lost" in caplog.records[0].message and len(caplog.records) == 1


async def test_a_call_that_hangs_past_its_timeout_counts_as_ray_lost() -> None:
    failover = Failover(classify, attempts=3, timeout_s=0.05)

    async def hangs() -> str:
        await asyncio.Event().wait()
        return "never"

    assert await failover.run("speech", hangs, local) == "local"
    assert failover.lost


async def test_the_works_own_error_goes_up_unchanged_and_is_not_retried() -> None:
    failover = Failover(classify, attempts=3)
    remote = ScriptedRemote(ValueError("not an image"))
    with pytest.raises(ValueError, match="not an image"):
        await failover.run("OCR", remote, local)
    assert remote.calls == 1 and failover.fallbacks == 0 and not failover.lost


def test_a_failover_without_attempts_is_refused() -> None:
    with pytest.raises(ScaleError):
        Failover(classify, attempts=0)


def test_the_embedded_cloud_never_imports_ray() -> None:
    code = ("import sys, os; from eyeline.cloud.app import Cloud, CloudConfig; "
            "from eyeline.cloud.ingress.auth import TokenSigner; "
            "Cloud(CloudConfig(port=0, agent_workers=0), TokenSigner(os.urandom(32))); "
            "print('ray' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_session_store_hands_a_session_to_its_own_subject_and_only_its_holder_drops_it() -> None:
    pytest.importorskip("ray")
    from eyeline.cloud.model import Mode
    from eyeline.cloud.scale.session_store import PendingQuestion, SessionSnapshot, SessionStore

    store = SessionStore(ttl_s=3600)
    store.open(SessionSnapshot("s1", "glasses", "test", Mode.INSTANT, holder="ingress-a"))
    store.asked("s1", PendingQuestion("q1", "which has the most protein?", None, 1))
    store.asked("s1", PendingQuestion("q2", "and the least?", None, 1))
    store.answered("s1", "q1")
    assert store.take("s1", "intruder", "ingress-b") is None
    taken = store.take("s1", "glasses", "ingress-b")
    assert taken is not None and taken.holder == "ingress-b"
    assert [q.query_id for q in taken.pending] == ["q2"]
    store.drop("s1", "ingress-a")   # the ingress that lost it lets go late: the new holder keeps it
    assert store.count() == 1
    store.drop("s1", "ingress-b")
    assert store.count() == 0 and store.take("s1", "glasses", "ingress-b") is None


def test_a_session_nobody_touched_for_its_ttl_is_forgotten() -> None:
    pytest.importorskip("ray")
    from eyeline.cloud.model import Mode
    from eyeline.cloud.scale.session_store import SessionSnapshot, SessionStore

    store = SessionStore(ttl_s=0.0)
    store.open(SessionSnapshot("s1", "glasses", "test", Mode.INSTANT, holder="ingress-a"))
    assert store.take("s1", "glasses", "ingress-b") is None and store.count() == 0


def test_the_serve_config_file_is_valid_and_builds_every_application() -> None:
    pytest.importorskip("ray.serve")
    import importlib
    from pathlib import Path

    import yaml
    from ray.serve import Application
    from ray.serve.schema import ServeDeploySchema

    from eyeline.cloud.scale.deployments import AGENTS_APP, MODEL_APP, PERCEPTION_APP, SPEECH_APP

    path = Path(__file__).resolve().parents[2] / "deploy" / "serve.yaml"
    config = ServeDeploySchema.model_validate(yaml.safe_load(path.read_text()))
    assert {app.name for app in config.applications} == {PERCEPTION_APP, SPEECH_APP, AGENTS_APP, MODEL_APP}
    for app in config.applications:
        module, _, builder = app.import_path.partition(":")
        built = getattr(importlib.import_module(module), builder)(app.args)
        assert isinstance(built, Application)
        assert app.route_prefix is None   # handles only: nothing is exposed over HTTP
    # The KubeRay RayService embeds the same applications.
    service = next(doc for doc in yaml.safe_load_all((path.parent / "rayservice.yaml").read_text())
                   if doc["kind"] == "RayService")
    assert yaml.safe_load(service["spec"]["serveConfigV2"]) == yaml.safe_load(path.read_text())
