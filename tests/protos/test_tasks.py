"""TaskSet: owned background tasks are kept alive, their failures logged, and they end when the set closes."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import weakref
from typing import Any

import pytest

from eyeline.protos.tasks import TaskSet, TaskSetClosedError


async def test_a_spawned_task_is_kept_alive_though_nobody_else_holds_it() -> None:
    tasks = TaskSet("test")

    async def orphan() -> None:
        # Waits on a future only its own frame holds: without the set, nothing outside reaches the task, and
        # the collector would destroy it pending.
        await asyncio.get_running_loop().create_future()

    held = weakref.ref(tasks.spawn(orphan(), name="orphan"))
    await asyncio.sleep(0)
    gc.collect()
    task = held()
    assert task is not None and not task.done() and len(tasks) == 1
    del task
    await tasks.aclose()


async def test_a_task_leaves_the_set_when_it_ends() -> None:
    tasks = TaskSet("test")
    release = asyncio.Event()
    finished: list[str] = []

    async def work() -> None:
        await release.wait()
        finished.append("done")

    tasks.spawn(work(), name="work")
    await asyncio.sleep(0)
    assert len(tasks) == 1 and tasks
    release.set()
    await tasks.wait()
    assert finished == ["done"]
    assert len(tasks) == 0 and not tasks


async def test_spawn_returns_the_task_with_its_name_and_result() -> None:
    tasks = TaskSet("test")

    async def answer() -> int:
        return 42

    task = tasks.spawn(answer(), name="answer")
    assert task.get_name() == "answer"
    assert await task == 42
    assert len(tasks) == 0


async def test_a_failing_task_nobody_awaits_is_logged_with_its_traceback_once(
        caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    tasks = TaskSet("owner")

    async def broken() -> None:
        raise ValueError("bad frame")

    with caplog.at_level(logging.ERROR, logger="eyeline.protos.tasks"):
        task = tasks.spawn(broken(), name="broken-task")
        await asyncio.wait({task})
        await asyncio.sleep(0)
    failures = [r for r in caplog.records if "broken-task" in r.getMessage()]
    assert len(failures) == 1
    assert "owner" in failures[0].getMessage() and "ValueError" in failures[0].getMessage()
    assert failures[0].exc_info is not None and isinstance(failures[0].exc_info[1], ValueError)
    assert str(failures[0].exc_info[1]) == "bad frame"
    del task
    gc.collect()
    assert reported == []   # retrieved: asyncio does not report "Task exception was never retrieved" too
    loop.set_exception_handler(None)


async def test_failures_go_to_the_owners_logger_when_given(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet("owner", logger=logging.getLogger("eyeline.test.owner"))

    async def broken() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR):
        await asyncio.wait({tasks.spawn(broken())})
    assert [r.name for r in caplog.records] == ["eyeline.test.owner"]


async def test_a_cancelled_or_finished_task_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet("test")

    async def forever() -> None:
        await asyncio.Event().wait()

    async def fine() -> None:
        return None

    with caplog.at_level(logging.DEBUG, logger="eyeline.protos.tasks"):
        sleeping = tasks.spawn(forever())
        tasks.spawn(fine())
        await asyncio.sleep(0)
        sleeping.cancel()
        await tasks.wait()
    assert caplog.records == []


async def test_aclose_cancels_every_task_and_waits_for_their_cleanup() -> None:
    tasks = TaskSet("test")
    cleaned: list[int] = []
    started = asyncio.Event()

    async def work(number: int) -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.01)   # cleanup that itself takes time: aclose must wait for it
            cleaned.append(number)

    spawned = [tasks.spawn(work(n)) for n in range(3)]
    await started.wait()
    stuck = await tasks.aclose()
    assert stuck == set()
    assert sorted(cleaned) == [0, 1, 2]
    assert all(task.cancelled() for task in spawned)
    assert len(tasks) == 0 and tasks.closed


async def test_spawning_after_close_is_refused_and_the_coroutine_closed() -> None:
    tasks = TaskSet("test")
    await tasks.aclose()

    async def late() -> None:
        raise AssertionError("must never run")

    coro = late()
    with pytest.raises(TaskSetClosedError):
        tasks.spawn(coro, name="late")
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    assert len(tasks) == 0


async def test_aclose_gives_up_after_its_timeout_and_names_the_tasks_that_ignore_cancellation() -> None:
    tasks = TaskSet("test")
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()   # ignores the cancellation until released

    task = tasks.spawn(stubborn())
    await asyncio.sleep(0)
    stuck = await tasks.aclose(within_s=0.05)
    assert stuck == {task}
    assert not task.done()
    release.set()
    assert await tasks.wait(within_s=1.0) == set()
    assert task.done()


async def test_wait_cancels_nothing_and_covers_tasks_spawned_meanwhile() -> None:
    tasks = TaskSet("test")
    order: list[str] = []

    async def second() -> None:
        await asyncio.sleep(0.01)
        order.append("second")

    async def first() -> None:
        await asyncio.sleep(0.01)
        tasks.spawn(second())
        order.append("first")

    tasks.spawn(first())
    assert await tasks.wait() == set()
    assert order == ["first", "second"]
    assert not tasks.closed


async def test_a_cancelled_waiter_leaves_the_tasks_running() -> None:
    tasks = TaskSet("test")
    release = asyncio.Event()
    task = tasks.spawn(release.wait())
    waiter = asyncio.create_task(tasks.wait())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert not task.done() and len(tasks) == 1
    release.set()
    assert await task is True
    await tasks.aclose()


async def test_a_task_of_the_set_may_close_it_without_cancelling_or_awaiting_itself() -> None:
    tasks = TaskSet("test")

    async def other() -> None:
        await asyncio.Event().wait()

    async def closer() -> str:
        await asyncio.sleep(0)
        stuck = await tasks.aclose(within_s=1.0)
        assert stuck == set()
        return "closed"

    victim = tasks.spawn(other())
    closing = tasks.spawn(closer())
    assert await asyncio.wait_for(closing, 2.0) == "closed"
    assert victim.cancelled()


async def test_cancel_all_cancels_without_closing() -> None:
    tasks = TaskSet("test")
    running = tasks.spawn(asyncio.Event().wait())
    await asyncio.sleep(0)
    tasks.cancel_all()
    await asyncio.wait({running})
    assert running.cancelled() and not tasks.closed
    again = tasks.spawn(asyncio.sleep(0))
    await again
    await tasks.aclose()


async def test_async_with_closes_the_set_on_leaving() -> None:
    async with TaskSet("scoped") as tasks:
        running = tasks.spawn(asyncio.Event().wait())
        await asyncio.sleep(0)
    assert running.cancelled() and tasks.closed


async def test_spawning_with_no_running_loop_closes_the_coroutine() -> None:
    tasks = TaskSet("test")

    async def never() -> None:
        return None

    coro = never()
    loop = asyncio.get_running_loop()

    def spawn_outside() -> None:
        tasks.spawn(coro)

    with pytest.raises(RuntimeError):
        await loop.run_in_executor(None, spawn_outside)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
