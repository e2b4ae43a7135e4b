"""The HTTP server's routes.

``/health`` answers as long as the process serves requests (a liveness probe: restart
me if this fails). ``/ready`` answers 200 only once the config is loaded, the store is
open and every target has been scraped once (a readiness probe: don't send me work
before then). ``/metrics`` is scalepilot's own metrics in Prometheus text format, and
``/status`` the state of every target and probe as JSON. ``/api/v1/query`` and the rest
of Prometheus's HTTP API answer from the embedded store (``prometheus.py``).

Who may ask what, and the security headers on every answer, are ``auth.py``'s; with
auth off (the default on a loopback address) every route is open, as before.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from pydantic import BaseModel, Field

from scalepilot import __version__
from scalepilot.faces import web
from scalepilot.faces.api import auth
from scalepilot.faces.api.alerts import alerts_router
from scalepilot.faces.api.dashboard import dashboard_router
from scalepilot.faces.api.prometheus import prometheus_router
from scalepilot.faces.api.services import services_router
from scalepilot.service.runtime import Runtime
from scalepilot.service.tokens import TokenStore


class ReloadDone(BaseModel):
    applied: list[str] = Field(description="Changed keys now in effect, e.g. services.shop.autoscaling.")
    restart_needed: list[str] = Field(description="Changed keys that take effect only after a restart.")


class ReloadRefused(BaseModel):
    detail: str
    problems: list[str] = Field(description="Every problem found, as file:line:column: reason.")


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="scalepilot",
        version=__version__,
        description="A self-hosted infrastructure scaling control plane.",
        # Swagger UI is served from the package by faces.web (FastAPI's own pages load it
        # from a CDN); one documentation page is enough, so no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    server = runtime.config.server
    tokens = TokenStore(runtime.store, clock=runtime.clock.now)
    auth.install(
        app,
        tokens,
        enabled=server.auth_enabled,
        public_metrics=server.auth.public_metrics,
        failures_per_minute=server.auth.failures_per_minute,
        clock=runtime.clock.now,
    )

    @app.get("/health", response_class=PlainTextResponse, tags=["operations"])
    async def health() -> str:
        """Liveness: 200 while the process serves HTTP."""
        return "ok\n"

    @app.get(
        "/ready",
        tags=["operations"],
        response_class=PlainTextResponse,
        responses={503: {"description": "Not ready yet.", "content": {"text/plain": {}}}},
    )
    async def ready() -> Response:
        """Readiness: 200 once config, store and the first scrape round are done."""
        if runtime.ready:
            return PlainTextResponse("ready\n")
        return PlainTextResponse("not ready: waiting for the store and the first scrape round\n", status_code=503)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics(request: Request) -> Response:
        """scalepilot's own metrics (text 0.0.4, or OpenMetrics if the Accept header asks)."""
        accept = request.headers.get("accept", "")
        if "application/openmetrics-text" in accept:
            page = generate_openmetrics(runtime.metrics.registry)  # type: ignore[no-untyped-call]
            return Response(page, media_type=OPENMETRICS_TYPE)
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/status", tags=["operations"])
    async def status() -> JSONResponse:
        """Version, uptime, and each target's and probe's health with its last error."""
        body: dict[str, Any] = runtime.status()
        return JSONResponse(body)

    @app.post(
        "/-/reload",
        tags=["operations"],
        response_model=ReloadDone,
        responses={
            422: {
                "description": "The config or a rule file has a problem; nothing changed.",
                "model": ReloadRefused,
            }
        },
    )
    async def reload(request: Request) -> ReloadDone | JSONResponse:
        """Re-read the config file and the rule files, as Prometheus's ``/-/reload``
        (and ``SIGHUP``) do. Applied live: the services' ``autoscaling`` policies and
        ``signals``, services added or removed, services without a target, the
        ``scrape`` and ``probe`` defaults and ``rule_files``; other changed keys are
        listed in ``restart_needed``. Refused, with every problem as
        ``file:line:column``, if any file is broken."""
        result = await runtime.reload(auth.actor(request, "api"))
        if result.problems:
            refused = ReloadRefused(
                detail="config not reloaded; the running config and rules are kept", problems=result.problems
            )
            return JSONResponse(refused.model_dump(), status_code=422)
        return ReloadDone(applied=result.applied, restart_needed=result.restart_needed)

    app.include_router(services_router(runtime))
    app.include_router(prometheus_router(runtime))
    app.include_router(alerts_router(runtime))
    app.include_router(dashboard_router(runtime))
    app.include_router(auth.tokens_router(tokens))
    web.mount(app)
    auth.describe_security(app, enabled=server.auth_enabled, public_metrics=server.auth.public_metrics)
    return app
