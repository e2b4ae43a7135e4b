"""``/api/v1/services``: replicas, decisions, manual scaling, pause and resume.

Writes are events naming who made them (``actor``): with auth on, the token's name
(``token:<name>``), whatever the body's ``actor`` says; roles are checked in ``auth.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from scalepilot.config.durations import parse_duration
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


# Declared in the spec; the bodies are the ``{"detail": str}`` every refusal has.
_SERVICE_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No service of that name."},
    409: {"description": "The service has no target: scalepilot only watches it."},
}
_AUTOSCALED_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: _SERVICE_ANSWERS[404],
    409: {"description": "The service has no target, or no autoscaling."},
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

    @router.get("")
    async def list_services() -> list[dict[str, Any]]:
        """Every service with a target: replicas desired / current / ready, and its
        autoscaler's latest evaluation."""
        return [c.describe() for c in runtime.controllers.values()]

    @router.get("/{name}", responses=_SERVICE_ANSWERS)
    async def get_service(name: str) -> dict[str, Any]:
        return controller(name).describe()

    @router.get("/{name}/decisions", responses=_SERVICE_ANSWERS)
    async def decisions(name: str, limit: int = Query(20, ge=1, le=1000)) -> list[dict[str, Any]]:
        """The autoscaler's recorded decisions, newest first: each with its metrics,
        proposal, limits and reason."""
        controller(name)
        events = runtime.store.events(kinds=[EventKind.SCALING_DECISION], service=name, limit=limit)
        return [e.details for e in events]

    @router.post("/{name}/scale", responses=_SCALE_ANSWERS)
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

    @router.post("/{name}/pause", responses=_AUTOSCALED_ANSWERS)
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

    @router.post("/{name}/resume", responses=_AUTOSCALED_ANSWERS)
    async def resume(name: str, body: ResumeRequest, request: Request) -> dict[str, Any]:
        c = controller(name)
        if c.policy is None:
            raise HTTPException(409, f"service {name!r} has no autoscaling to resume")
        c.resume(actor=actor(request, body.actor))
        return c.describe()

    return router
