"""One ingress's link to Ray: joining (or starting) it, the Serve applications, the handles and the frames.

``RayLink.connect`` runs at the cloud's start, before its port opens: ``auto`` starts a Ray for this machine
(stopped with the cloud), an address joins that cluster (left as it is). The applications of
``deployments.py`` are deployed when the cluster does not run them yet (``serve deploy`` may have, with its own
sizes); an ingress that finds them running only takes handles, so any number of ingresses share them.
A Ray that cannot be reached is one ``RayUnavailableError`` line, never a hang.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import weakref
from typing import Any

import ray
from ray import exceptions as rx
from ray import serve
from ray.serve import exceptions as sx

from eyeline.cloud.model import Image
from eyeline.cloud.scale.config import NAMESPACE, ScaleConfig
from eyeline.cloud.scale.deployments import AGENTS_APP, MODEL_APP, PERCEPTION_APP, SPEECH_APP, applications
from eyeline.cloud.scale.failover import Failover, Fault, RayUnavailableError
from eyeline.cloud.scale.session_store import open_store

log = logging.getLogger(__name__)

# How long joining a cluster may take before its address counts as wrong.
_REACH_TIMEOUT_S = 5.0


def classify(exc: BaseException) -> Fault:
    """What a failed Serve call says: its replica died, Ray is gone, or the work itself failed."""
    if isinstance(exc, rx.RayTaskError):
        return Fault.OTHER   # raised by the work in the replica (it is also an instance of the work's error)
    if isinstance(exc, (rx.RayActorError, rx.WorkerCrashedError, sx.ReplicaUnavailableError,
                        sx.DeploymentUnavailableError)):
        return Fault.REPLICA_DIED
    if isinstance(exc, (rx.RaySystemError, rx.LocalRayletDiedError, rx.RpcError, rx.OwnerDiedError,
                        rx.ObjectLostError, sx.RayServeException, ConnectionError)):
        return Fault.RAY_LOST
    if isinstance(exc, rx.RayError) and not ray.is_initialized():
        return Fault.RAY_LOST   # any other Ray error once this process is no longer part of a cluster
    return Fault.OTHER


class FrameRefs:
    """Every image this process hands to Serve goes into the object store once: the reference of an image
    already put is reused for as long as the image lives (a keyframe read by several passes and agents)."""

    def __init__(self) -> None:
        self._refs: dict[int, tuple[weakref.ref[Image], asyncio.Future[ray.ObjectRef[Any]]]] = {}

    async def ref(self, image: Image) -> ray.ObjectRef[Any]:
        held = self._refs.get(id(image))
        if held is None or held[0]() is not image:
            # A copy into shared memory, off the loop; reads of the same image meanwhile wait for this one.
            putting = asyncio.ensure_future(asyncio.to_thread(ray.put, image))
            key = id(image)
            held = (weakref.ref(image, lambda _: self._refs.pop(key, None)), putting)
            self._refs[key] = held
        # Shielded: a caller that gives up does not cancel the put the others wait for.
        return await asyncio.shield(held[1])

    def __len__(self) -> int:
        return len(self._refs)


class RayLink:
    """This ingress's Ray: the deployment handles, the session store, the frames it put, and the failover."""

    def __init__(self, address: str, scale: ScaleConfig, *, asr_model: str = "") -> None:
        self.address = address
        self.scale = scale
        self._asr_model = asr_model
        self.failover = Failover(classify, attempts=scale.attempts, timeout_s=scale.call_timeout_s)
        self.frames = FrameRefs()
        self._handles: dict[str, Any] = {}
        self.store: Any = None          # the session store actor (session_store.py)
        self._owns_ray = False          # started here (``auto``): stopped with the cloud

    @property
    def connected(self) -> bool:
        return bool(self._handles) and not self.failover.lost

    def handle(self, app: str) -> Any:
        """The deployment handle of ``app``."""
        return self._handles[app]

    async def connect(self) -> None:
        await asyncio.to_thread(self._connect)

    def _connect(self) -> None:
        self._init_ray()
        try:
            serve.start(proxy_location="Disabled")   # handles only: no HTTP proxy to run or secure
            running = set(serve.status().applications)
            for name, app in applications(self.scale, self._asr_model).items():
                if name not in running:
                    log.info("deploying the Serve application %s", name)
                    serve.run(app, name=name, route_prefix=None)
            self._handles = {name: serve.get_app_handle(name)
                             for name in (PERCEPTION_APP, SPEECH_APP, AGENTS_APP, MODEL_APP)}
            self.store = open_store(self.scale.session_ttl_s)
        except (rx.RayError, sx.RayServeException, ConnectionError) as exc:
            raise RayUnavailableError(f"Ray Serve could not start Eyeline's deployments: {exc}") from exc

    def _init_ray(self) -> None:
        if ray.is_initialized():
            return   # this process already joined a cluster (an embedding application, a test)
        try:
            if self.address == "auto":
                ray.init(namespace=NAMESPACE, num_cpus=self.scale.num_cpus, include_dashboard=False,
                         log_to_driver=False)
                self._owns_ray = True
            else:
                _check_reachable(self.address)
                ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError, OSError, rx.RayError) as exc:
            raise RayUnavailableError(f"cannot {'start' if self.address == 'auto' else 'join'} Ray at "
                                      f"{self.address!r}: {exc}") from exc
        log.info("joined Ray at %s (namespace %s)", self.address, NAMESPACE)

    async def close(self) -> None:
        """Leave Ray; a Ray this cloud started (``auto``) stops with it, with its deployments."""
        if self._owns_ray:
            await asyncio.to_thread(_stop_local_ray)
            self._owns_ray = False

    async def put(self, image: Image) -> ray.ObjectRef[Any]:
        return await self.frames.ref(image)


def _stop_local_ray() -> None:
    try:
        serve.shutdown()   # type: ignore[no-untyped-call]
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail in seconds when nothing listens at a ``HOST:PORT`` address (Ray itself retries for a minute)."""
    if "://" in address:
        return   # ray:// client and other schemes: Ray's own connect says what is wrong
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailableError(f"--ray wants auto or a cluster's HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=_REACH_TIMEOUT_S):
            pass
    except OSError as exc:
        raise RayUnavailableError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); "
                                  "start one (ray start --head) or use --ray auto") from exc
