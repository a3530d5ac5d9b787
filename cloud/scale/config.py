"""How big the Serve deployments are: replicas, autoscaling bounds and each replica's share of a node.

Plain data, importable without Ray: ``eyeline cloud`` and the tests size the deployments through it, and
``deployments.py`` turns it into Serve's options (the same keys ``serve deploy``'s config file uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# The Ray namespace every Eyeline actor and application lives in, so ingresses find each other's.
NAMESPACE = "eyeline"


@dataclass(frozen=True, slots=True)
class DeploymentSize:
    """One deployment's autoscaling bounds and the resources of each replica."""

    min_replicas: int = 1
    max_replicas: int = 4
    target_ongoing_requests: float = 2.0   # per replica, before Serve adds one
    num_cpus: float = 1.0
    max_ongoing_requests: int = 8          # queued in a replica before the handle picks another

    def serve_options(self) -> dict[str, Any]:
        """Serve's ``@serve.deployment`` options for this size."""
        return {
            "autoscaling_config": {"min_replicas": self.min_replicas, "max_replicas": self.max_replicas,
                                   "target_ongoing_requests": self.target_ongoing_requests},
            "ray_actor_options": {"num_cpus": self.num_cpus},
            "max_ongoing_requests": self.max_ongoing_requests,
        }


@dataclass(frozen=True, slots=True)
class ScaleConfig:
    """The deployments one ingress starts when the cluster does not run them yet (``serve deploy`` may have)."""

    perception: DeploymentSize = field(default_factory=DeploymentSize)
    # Whisper and the sub-agents load models at their first request: none is kept running while unused.
    speech: DeploymentSize = field(default_factory=lambda: DeploymentSize(min_replicas=0, max_replicas=2))
    agents: DeploymentSize = field(default_factory=lambda: DeploymentSize(min_replicas=0, max_replicas=8,
                                                                          target_ongoing_requests=1.0,
                                                                          max_ongoing_requests=1))
    # Calls to the wearers' model endpoints wait on the network, not a core: many in flight per small replica.
    model: DeploymentSize = field(default_factory=lambda: DeploymentSize(min_replicas=1, max_replicas=4,
                                                                         num_cpus=0.25, target_ongoing_requests=16.0,
                                                                         max_ongoing_requests=64))
    num_cpus: int | None = None            # CPUs of a local Ray started by ``--ray auto`` (None: all)
    call_timeout_s: float = 60.0           # one remote call; past it the work is done in process
    attempts: int = 3                      # tries on other replicas when one dies mid-call
    session_ttl_s: float = 3600.0          # a session's state no ingress touched for this long is dropped


def tiny() -> ScaleConfig:
    """Deployments that fit a two-core test machine: one small perception replica (a killed one is replaced),
    speech and sub-agents scaled to zero when unused."""
    small = DeploymentSize(min_replicas=1, max_replicas=1, num_cpus=0.25, target_ongoing_requests=4.0)
    idle = DeploymentSize(min_replicas=0, max_replicas=1, num_cpus=0.25)
    calls = DeploymentSize(min_replicas=1, max_replicas=1, num_cpus=0.1, max_ongoing_requests=16)
    return ScaleConfig(perception=small, speech=idle, agents=replace(idle, max_ongoing_requests=1), model=calls,
                       num_cpus=2)
