"""``/api/v1/services``: replicas, decisions, manual scaling, pause and resume, rollouts.

Writes are events naming who made them (``actor``): with auth on, the token's name
(``token:<name>``), whatever the body's ``actor`` says; roles are checked in ``auth.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from scalepilot.config.durations import parse_duration
from scalepilot.control.rollout.machine import RolloutCommandError
from scalepilot.domain.events import EventKind
from scalepilot.domain.targets import TargetError
from scalepilot.faces.api.auth import actor
from scalepilot.service.controller import ControllerError, ServiceController
from scalepilot.service.runtime import Runtime


class ScaleRequest(BaseModel):
    replicas: int = Field(ge=0, le=10_000, description="The replica count to run now.")
    reason: str = Field(min_length=1, max_length=500, description="Why; recorded in the event.")
    actor: str = Field("api", max_length=100, description="Who asks; recorded in the event.")
    force: bool = Field(False, description="Allow a count above autoscaling.max_replicas.")


class PauseRequest(BaseModel):
    duration: str | None = Field(None, description="How long, e.g. 30m; omit to pause until resumed.")
    reason: str = Field(min_length=1, max_length=500)
    actor: str = Field("api", max_length=100)


class ResumeRequest(BaseModel):
    actor: str = Field("api", max_length=100)


class RolloutRequest(BaseModel):
    action: Literal["promote", "promote_full", "pause", "resume", "abort", "retry"] = Field(
        description="promote: end the current stage's pause (or a pause for no data) and go on; promote_full: "
        "straight to all traffic; pause / resume; abort: all traffic back on the stable version; retry: an "
        "aborted rollout from its start."
    )
    actor: str = Field("api", max_length=100)


class ReplicaCounts(BaseModel):
    desired: int = Field(description="What the target was last asked to run.")
    current: int = Field(description="Replicas that exist (starting, ready or restarting).")
    ready: int = Field(description="Replicas passing their readiness check, routed to.")


class ReplicaView(BaseModel):
    id: str
    index: int = Field(description="The replica's slot: its scrape label `replica` and its log file.")
    state: str = Field(description="starting, ready, backoff (waiting to restart), draining or stopping.")
    pid: int | None
    port: int | None
    restarts: int
    last_exit: str = Field(description="How the last process of this slot ended, e.g. `exit 1`, `SIGKILL`.")
    group: str = Field(description="Replica group; the balancer weighs groups (stable, or canary in a rollout).")
    revision: str = Field(description="Short id of the template (command, env, cwd) the replica runs.")


class RolloutStageView(BaseModel):
    label: str = Field(description="In English, e.g. `pause 2m at 10%`.")
    kind: str = Field(description="weight, pause, preview or all (all traffic): what the stage is, in any language.")
    weight: int = Field(description="The new version's share of the traffic at this stage, in %.")
    hold_seconds: float | None = Field(description="How long the stage holds once reached; null: until promoted.")


class RolloutView(BaseModel):
    revision: str = Field(description="The template being rolled out.")
    stable_revision: str = Field(description="The template it replaces.")
    phase: str = Field(description="progressing, paused, promoted or aborted.")
    strategy: str = Field(description="canary or blue_green.")
    stage: int = Field(description="The current stage, from 1.")
    stages: list[RolloutStageView]
    stage_label: str
    weight: int = Field(description="The new version's share of the traffic now, in %.")
    canary_replicas: int = Field(description="Replicas of the new version asked for now.")
    failures: int = Field(description="Failed measurements so far.")
    failure_limit: int | None = Field(description="Failed measurements tolerated; null without analysis.")
    measurements: list[dict[str, Any]] = Field(description="The latest measurements: verdict and each check's value.")
    reason: str = Field(description="Why it paused or ended.")
    actor: str = Field(description="Who paused, promoted or aborted it by hand.")
    started_at: float = Field(description="Unix seconds.")
    ended_at: float | None = Field(description="Unix seconds; null while it runs.")


class AutoscalingView(BaseModel):
    min_replicas: int
    max_replicas: int
    mode: str = Field(description="hpa or threshold.")
    interval_seconds: float
    paused: bool
    paused_until: float | None = Field(description="Unix seconds; null when not paused or paused until resumed.")
    pause_reason: str
    paused_by: dict[str, str] | None = Field(description="What paused it: its cause (manual_scale or pause) and actor.")
    last_decision: dict[str, Any] | None = Field(
        description="The latest evaluation: metrics, proposal, limits, replicas and reason."
    )
    metric_source: str = Field(description="Where series metrics are read: embedded, or the external Prometheus.")
    missing_series: dict[str, str] = Field(description="Why each series metric had no reading at the last tick.")
    forecast: dict[str, Any] | None = Field(description="The request-rate forecast used at the last tick (predictive).")


class BalancerView(BaseModel):
    address: str = Field(description="host:port the built-in balancer accepts clients on.")


class ServiceView(BaseModel):
    """A service with a target, as ``ServiceController.describe()`` tells it."""

    name: str
    target: str = Field(description="local or command.")
    replicas: ReplicaCounts | None = Field(description="null until the target has answered once.")
    replica_list: list[ReplicaView] = Field(description="A local target's replicas; empty for a command target.")
    autoscaling: AutoscalingView | None = Field(description="null without an autoscaling block.")
    balancer: BalancerView | None = Field(None, description="A local target's balancer, once it listens.")
    revision: str | None = Field(None, description="A local target: the stable template's short id.")
    rollout: RolloutView | None = Field(
        None, description="A local target: its latest rollout since scalepilot started; null if none."
    )


_VIEW: dict[str, Any] = {"response_model": ServiceView, "response_model_exclude_unset": True}
"""A service in answers: its documented shape; keys the service does not have yet (a
balancer not listening) are left out rather than sent as null."""

# Declared in the spec; the bodies are the ``{"detail": str}`` every refusal has.
_SERVICE_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No service of that name."},
    409: {"description": "The service has no target: scalepilot only watches it."},
}
_AUTOSCALED_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: _SERVICE_ANSWERS[404],
    409: {"description": "The service has no target, or no autoscaling."},
}
_ROLLOUT_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: _SERVICE_ANSWERS[404],
    409: {"description": "No local target, or the action does not apply (no rollout, already ended, not paused)."},
}
_SCALE_ANSWERS: dict[int | str, dict[str, Any]] = {
    **_SERVICE_ANSWERS,
    502: {"description": "The target refused the new count."},
    503: {"description": "The target could not be reached; the same request may work later."},
}


def services_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1/services", tags=["services"])

    def controller(name: str) -> ServiceController:
        found = runtime.controllers.get(name)
        if found is None:
            known = {s.name for s in runtime.config.services}
            if name in known:
                raise HTTPException(409, f"service {name!r} has no target: scalepilot only watches it")
            raise HTTPException(404, f"no service named {name!r}")
        return found

    @router.get("", response_model=list[ServiceView], response_model_exclude_unset=True)
    async def list_services() -> list[dict[str, Any]]:
        """Every service with a target: replicas desired / current / ready, and its
        autoscaler's latest evaluation."""
        return [c.describe() for c in runtime.controllers.values()]

    @router.get("/{name}", responses=_SERVICE_ANSWERS, **_VIEW)
    async def get_service(name: str) -> dict[str, Any]:
        return controller(name).describe()

    @router.get("/{name}/decisions", responses=_SERVICE_ANSWERS)
    async def decisions(name: str, limit: int = Query(20, ge=1, le=1000)) -> list[dict[str, Any]]:
        """The autoscaler's recorded decisions, newest first: each with its metrics,
        proposal, limits and reason."""
        controller(name)
        events = runtime.store.events(kinds=[EventKind.SCALING_DECISION], service=name, limit=limit)
        return [e.details for e in events]

    @router.post("/{name}/scale", responses=_SCALE_ANSWERS, **_VIEW)
    async def scale(name: str, body: ScaleRequest, request: Request) -> dict[str, Any]:
        """Scale now, by hand. Pauses the autoscaler for ``autoscaling.manual_pause``."""
        c = controller(name)
        try:
            await c.scale(body.replicas, reason=body.reason, actor=actor(request, body.actor), force=body.force)
        except ControllerError as exc:
            raise HTTPException(422, str(exc)) from exc
        except TargetError as exc:
            raise HTTPException(503 if exc.transient else 502, f"the target refused: {exc}") from exc
        return c.describe()

    @router.post("/{name}/pause", responses=_AUTOSCALED_ANSWERS, **_VIEW)
    async def pause(name: str, body: PauseRequest, request: Request) -> dict[str, Any]:
        c = controller(name)
        if c.policy is None:
            raise HTTPException(409, f"service {name!r} has no autoscaling to pause")
        seconds = None
        if body.duration is not None:
            try:
                seconds = parse_duration(body.duration)
            except ValueError as exc:
                raise HTTPException(422, str(exc)) from exc
        c.pause(seconds=seconds, reason=body.reason, actor=actor(request, body.actor))
        return c.describe()

    @router.post("/{name}/resume", responses=_AUTOSCALED_ANSWERS, **_VIEW)
    async def resume(name: str, body: ResumeRequest, request: Request) -> dict[str, Any]:
        c = controller(name)
        if c.policy is None:
            raise HTTPException(409, f"service {name!r} has no autoscaling to resume")
        c.resume(actor=actor(request, body.actor))
        return c.describe()

    @router.post("/{name}/rollout", responses=_ROLLOUT_ANSWERS, **_VIEW)
    async def rollout(name: str, body: RolloutRequest, request: Request) -> dict[str, Any]:
        """Act on the service's rollout: promote, pause, resume, abort or retry it."""
        c = controller(name)
        if c.rollouts is None:
            raise HTTPException(409, f"service {name!r} has no local target: nothing to roll out")
        try:
            await c.rollouts.act(body.action, actor(request, body.actor))
        except RolloutCommandError as exc:
            raise HTTPException(409, str(exc)) from exc
        return c.describe()

    return router
