"""The fuzz harness: every case of every target runs through :func:`run_case`, which holds the property and counts.

The property, for every parser that takes outside input: each input yields a result or the package's typed
error (``CloudError``, ``EdgeError``, ``DeviceError`` subclasses, or a typed HTTP or gRPC status), never another
exception, within :data:`CASE_BOUND_S`. Counts per target (cases, crashes, hangs, untyped errors) go to
``EYELINE_FUZZ_REPORT`` (JSON) at the end of the run, for ``tools/fuzz_report.py`` to put in docs/SECURITY.md.

Profiles (``EYELINE_FUZZ_PROFILE``): ``quick`` (the default, part of ``make test``: few examples, derandomized)
and ``long`` (``make fuzz``: batches of random examples until ``EYELINE_FUZZ_SECONDS`` per target are spent).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")

CASE_BOUND_S = float(os.environ.get("EYELINE_FUZZ_CASE_S", "5"))
PROFILE = os.environ.get("EYELINE_FUZZ_PROFILE", "quick")
LONG_SECONDS = float(os.environ.get("EYELINE_FUZZ_SECONDS", "20"))
_SLOW_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture,
                HealthCheck.large_base_example, HealthCheck.filter_too_much]

settings.register_profile("quick", max_examples=int(os.environ.get("EYELINE_FUZZ_EXAMPLES", "20")), deadline=None,
                          derandomize=True, database=None, suppress_health_check=_SLOW_HEALTH, print_blob=True)
settings.register_profile("long", max_examples=100, deadline=None, derandomize=False, database=None,
                          suppress_health_check=_SLOW_HEALTH, print_blob=True)
settings.load_profile(PROFILE)


@dataclass(slots=True)
class TargetStats:
    cases: int = 0
    crashes: int = 0          # what would take a process down: MemoryError, RecursionError, SystemError, ...
    hangs: int = 0            # a case over CASE_BOUND_S
    untyped: int = 0          # any other exception, an HTTP 5xx, a gRPC UNKNOWN or INTERNAL
    seconds: float = 0.0


STATS: dict[str, TargetStats] = {}


class UntypedOutcome(AssertionError):
    """A case ended in something other than a result or a typed refusal (an HTTP 5xx, an unknown status)."""


class HangOutcome(AssertionError):
    """A case ran past :data:`CASE_BOUND_S`."""


def run_case(target: str, call: Callable[[], T], typed: tuple[type[BaseException], ...]) -> T | BaseException:
    """Run one case: its result, or the typed error it raised; anything else is counted and re-raised."""
    stats = STATS.setdefault(target, TargetStats())
    stats.cases += 1
    started = time.perf_counter()
    hung = False
    try:
        return call()
    except typed as exc:
        return exc
    except HangOutcome:
        stats.hangs += 1
        hung = True
        raise
    except AssertionError:
        stats.untyped += 1
        raise
    except Exception as exc:
        if isinstance(exc, MemoryError | RecursionError | SystemError):
            stats.crashes += 1
        else:
            stats.untyped += 1
        raise
    except BaseException:
        stats.crashes += 1
        raise
    finally:
        elapsed = time.perf_counter() - started
        stats.seconds += elapsed
        if elapsed > CASE_BOUND_S and not hung:
            stats.hangs += 1
            raise HangOutcome(f"{target}: a case took {elapsed:.1f} s; the bound is {CASE_BOUND_S:g} s")


def fuzz_target(test: Callable[..., None]) -> Callable[..., None]:
    """Run a ``@given`` test once (quick) or in batches until the target's time is spent (long)."""
    if PROFILE != "long":
        return test

    @functools.wraps(test)
    def batches(*args: Any, **kwargs: Any) -> None:
        deadline = time.perf_counter() + LONG_SECONDS
        while time.perf_counter() < deadline:
            test(*args, **kwargs)
    return batches


class LoopThread:
    """An event loop in its own thread, for real servers the synchronous hypothesis tests talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float = CASE_BOUND_S) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout_s)
        except FutureTimeout as exc:
            future.cancel()
            raise HangOutcome(f"a case did not finish in {timeout_s:g} s") from exc

    def call(self, make: Callable[[], Awaitable[T]], timeout_s: float = CASE_BOUND_S) -> T:
        async def wrapped() -> T:
            return await make()
        return self.run(wrapped(), timeout_s)

    def close(self) -> None:
        """Cancel what is still running on the loop (a server's leftover tasks), then stop and close it."""
        async def cancel_the_rest() -> None:
            rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)
        self.run(cancel_the_rest(), 30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


def write_report(path: Path) -> None:
    """The counts of this run, merged into what ``path`` already holds (targets run in separate sessions)."""
    existing: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    existing.update({name: asdict(stats) for name, stats in STATS.items()})
    path.write_text(json.dumps(existing, indent=2, sort_keys=True))
