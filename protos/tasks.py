"""``TaskSet``: the owner of background tasks, which keeps them alive, reports their failures and ends them.

``asyncio.create_task`` alone keeps only a weak reference to its task (a task nobody holds may be collected
mid-way), and an exception in a task nobody awaits surfaces, if at all, as "Task exception was never
retrieved" when it is collected. Whatever starts work it does not await itself (a session's questions, a
peer's track readers, a cloud's reaper) spawns it through the ``TaskSet`` of the object that owns the work,
and closes that set when the owner closes::

    self._tasks = TaskSet("session-reaper")
    self._tasks.spawn(self._reap(), name="reaper")
    ...
    await self._tasks.aclose()    # cancels what is still running, and waits for it

A task's failure is logged with its traceback as it happens (a cancelled task is not a failure). After
``aclose`` the set refuses new tasks (``TaskSetClosedError``). It lives in ``protos/``, the one package both the
edge and the cloud import, and imports nothing of either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

_log = logging.getLogger(__name__)


class TaskSetClosedError(RuntimeError):
    """A task spawned into a ``TaskSet`` that was already closed; the coroutine was closed unstarted."""


class TaskSet:
    """Background tasks owned by one object: kept alive until they end, failures logged, cancelled on close."""

    def __init__(self, name: str = "tasks", *, logger: logging.Logger | None = None) -> None:
        self.name = name
        self._log = logger or _log
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __len__(self) -> int:
        """Tasks still running."""
        return len(self._tasks)

    def __bool__(self) -> bool:
        return bool(self._tasks)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """The tasks still running, as of now."""
        return frozenset(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Run ``coro`` as a task of this set; raises ``TaskSetClosedError`` (closing ``coro``) once it is closed."""
        if self._closed:
            coro.close()
            raise TaskSetClosedError(f"{self.name}: closed, no task may start ({name or _named(coro)})")
        try:
            task = asyncio.create_task(coro, name=name)
        except BaseException:
            coro.close()   # no running loop: never started, so never awaited
            raise
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()   # retrieved here, so asyncio does not report it again when it is collected
        if error is not None:
            # The type only in the message (what a task failed with may quote what it handled); the traceback
            # carries the rest, for handlers that show it.
            self._log.error("%s: task %s failed with %s", self.name, task.get_name(), type(error).__name__,
                            exc_info=error)

    def cancel_all(self) -> None:
        """Cancel every task now, without waiting for them to end; the set still takes new tasks."""
        current = _current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    async def wait(self, within_s: float | None = None) -> set[asyncio.Task[Any]]:
        """Wait, cancelling nothing, until no task is left (tasks spawned meanwhile included) or ``within_s``
        seconds have passed; the tasks still running then. A waiter that is cancelled leaves the tasks alone."""
        loop = asyncio.get_running_loop()
        deadline = None if within_s is None else loop.time() + within_s
        while pending := self._others():
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return pending
            await asyncio.wait(pending, timeout=left)
        return set()

    async def aclose(self, within_s: float | None = None) -> set[asyncio.Task[Any]]:
        """Refuse new tasks, cancel every task and wait for them to end, for at most ``within_s`` seconds; the
        tasks still running then (ones that ignore cancellation). The calling task, if it is one of the set's,
        is neither cancelled nor waited for."""
        self._closed = True
        self.cancel_all()
        return await self.wait(within_s)

    def _others(self) -> set[asyncio.Task[Any]]:
        return self._tasks - {_current_task()}

    async def __aenter__(self) -> TaskSet:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()


def _named(coro: Coroutine[Any, Any, Any]) -> str:
    """What a coroutine runs (``Session._answer``), for naming its task."""
    return str(getattr(coro, "__qualname__", type(coro).__name__))


def _current_task() -> asyncio.Task[Any] | None:
    """The running task; None outside one (``cancel_all`` may be called with no loop running)."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
