"""What a service runs on: a scale target and its replicas.

A *target* is whatever can be told "run N replicas": local child processes, a user's
command (a script calling ``kubectl scale``, a cloud CLI), Kubernetes later. The control
loop reads its status and asks it to scale; it never needs to know which kind it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from scalepilot.domain.errors import ScalepilotError


class ReplicaState(StrEnum):
    STARTING = "starting"
    """Process started, readiness probe not yet passed: gets no traffic."""
    READY = "ready"
    """Readiness probe passed: routed to."""
    DRAINING = "draining"
    """Being removed: no new requests, in-flight ones finish (up to a grace period)."""
    STOPPING = "stopping"
    """SIGTERM sent, waiting for exit (then SIGKILL)."""
    BACKOFF = "backoff"
    """Crashed; waiting out an exponential backoff before the restart."""


@dataclass(frozen=True, slots=True)
class Replica:
    id: str
    """Stable for the replica's life, e.g. ``shop-3``; restarts keep it."""
    index: int
    """Slot number, the ``{replica}`` placeholder and the ``replica`` label."""
    host: str = "127.0.0.1"
    port: int | None = None
    pid: int | None = None
    state: ReplicaState = ReplicaState.STARTING
    group: str = "stable"
    """Replica group (rollouts give a canary group its own weight in the balancer)."""
    revision: str = ""
    """A short id of the template the replica runs (command, env, cwd), so two revisions
    running side by side can be told apart; ``""`` where the target does not know it."""
    started_ms: int | None = None
    ready_ms: int | None = None
    restarts: int = 0
    last_exit: str = ""
    """Why the last process ended, e.g. ``exit code 1`` or ``killed by SIGKILL``."""


@dataclass(frozen=True, slots=True)
class TargetStatus:
    desired: int
    """What the target was last asked for."""
    current: int
    """Replicas that exist and are not being removed (starting, ready, backoff)."""
    ready: int
    """Replicas passing their readiness probe."""
    replicas: tuple[Replica, ...] = field(default=())
    """Per replica, where the target knows them (a command target may not)."""


class ScaleTarget(Protocol):
    """The one interface the control loop scales through."""

    kind: str

    async def start(self) -> None:
        """Take over: adopt or clean up what an earlier run left, start the initial
        replicas."""
        ...

    async def status(self) -> TargetStatus: ...

    async def scale(self, replicas: int) -> None:
        """Ask for ``replicas``. Idempotent; returns once the action is issued (new
        replicas started, removals begun), not when they are ready or gone."""
        ...

    async def stop(self) -> None:
        """Stop managing. A local target stops its replicas; a command target leaves
        the service as it is."""
        ...


class TargetError(ScalepilotError):
    """A target could not do what was asked; ``transient`` says whether to retry."""
