"""Where remote work goes when Ray misbehaves: another replica, then this process.

A call to a Serve deployment can fail three ways. A replica died under it (killed, out of memory, its node
gone): the same call is tried again, and Serve's handle routes it to a live replica. Ray itself is gone (the
cluster, or this process's link to it): the call, and every later one, runs in process, with one warning in the
log. Anything else is the work's own failure and is raised as it came. ``Failover`` holds that policy and the
fact that Ray was lost; the classification of exceptions is given to it, so it never imports Ray and its logic is
tested with fakes.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from eyeline.cloud.errors import CloudError

log = logging.getLogger(__name__)
T = TypeVar("T")


class ScaleError(CloudError):
    """Root of what ``eyeline.cloud.scale`` raises."""


class RayUnavailableError(ScaleError):
    """Ray could not be joined or started when the cloud started (``--ray``): nothing is served."""


class Fault(enum.Enum):
    """What a failed remote call says about Ray."""

    REPLICA_DIED = "replica_died"   # try again: the handle picks another replica
    RAY_LOST = "ray_lost"           # Ray is gone: work in process from now on
    OTHER = "other"                 # the work itself failed: raise it


Classifier = Callable[[BaseException], Fault]


class Failover:
    """Runs remote work with retries on other replicas, and in process once Ray is lost."""

    def __init__(self, classify: Classifier, *, attempts: int = 3, timeout_s: float = 60.0) -> None:
        if attempts < 1:
            raise ScaleError(f"Failover needs at least one attempt, got {attempts}")
        self._classify = classify
        self._attempts = attempts
        self._timeout_s = timeout_s
        self.lost = False        # Ray was lost: every call runs in process
        self.retries = 0         # calls tried again after their replica died
        self.fallbacks = 0       # calls that ran in process

    async def run(self, what: str, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]], *,
                  timeout_s: float | None = None) -> T:
        """``remote()`` on Serve, tried again on another replica when one dies; ``local()`` once Ray is gone
        or every attempt lost its replica. A call longer than ``timeout_s`` (default: the configured one)
        counts as Ray lost."""
        if self.lost:
            return await self._local(local)
        for attempt in range(1, self._attempts + 1):
            try:
                return await asyncio.wait_for(remote(), timeout_s or self._timeout_s)
            except Exception as exc:
                fault = Fault.RAY_LOST if isinstance(exc, TimeoutError) else self._classify(exc)
                if fault is Fault.OTHER:
                    raise
                if fault is Fault.RAY_LOST:
                    self.mark_lost(f"{what}: {type(exc).__name__}: {exc}")
                    break
                self.retries += 1
                log.info("%s: its replica died (attempt %d of %d); trying another", what, attempt, self._attempts)
        else:
            log.warning("%s: %d replicas died under it; doing it in this process", what, self._attempts)
        return await self._local(local)

    def mark_lost(self, why: str) -> None:
        """Ray is gone: say so once, and do every later call in process."""
        if not self.lost:
            log.warning("Ray was lost (%s); perception, speech, sub-agents and model calls now run in this process",
                        why)
        self.lost = True

    async def _local(self, local: Callable[[], Awaitable[T]]) -> T:
        self.fallbacks += 1
        return await local()
