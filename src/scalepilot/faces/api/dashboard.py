"""What the dashboard reads: the overview, a service's charts and health checks, the
event log, the scaling report and the live stream (see docs/dashboard.md).

All reads (viewer role). The overview is a snapshot the runtime keeps fresh
(``service.overview``); charts and the report run their queries in the metric source's
worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from scalepilot.adapters.prometheus.params import parse_time
from scalepilot.config.durations import parse_duration
from scalepilot.config.models import Service
from scalepilot.control.dashboard import CHART_SERIES, chart_queries, on_axis
from scalepilot.domain.clock import iso_ms as iso
from scalepilot.domain.events import EventKind
from scalepilot.domain.query import QueryError
from scalepilot.faces.report_text import to_markdown
from scalepilot.service.overview import event_body
from scalepilot.service.report import SCALING_KINDS, Options, build_report, decision_row
from scalepilot.service.runtime import Runtime

CHART_POINTS = 240
MIN_RANGE_S = 300.0
MAX_RANGE_S = 31 * 86_400.0
KEEPALIVE_S = 15.0


def _range(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise HTTPException(422, f"range: {exc}") from exc
    if not MIN_RANGE_S <= seconds <= MAX_RANGE_S:
        raise HTTPException(422, "range: between 5m and 31d")
    return seconds


def _when(text: str | None, now: float, what: str) -> int | None:
    """RFC 3339, unix seconds, or a duration back from now (``1h``), as milliseconds."""
    if text is None or text == "":
        return None
    # A bare number is a unix time, as in Prometheus's API, never "that many seconds ago".
    try:
        return parse_time(text)
    except ValueError:
        pass
    try:
        return round((now - parse_duration(text)) * 1000)
    except ValueError:
        raise HTTPException(
            422, f"{what}: {text!r} is neither a time (RFC 3339, unix seconds) nor a duration such as 1h"
        ) from None


def _column(result_matrix: Any, times_ms: np.ndarray) -> list[float | None]:
    """A range query's first series on the chart's time axis; ``None`` is a gap."""
    return [v if math.isfinite(v) else None for v in on_axis(result_matrix, times_ms).tolist()]


_NO_SERVICE: dict[int | str, dict[str, Any]] = {404: {"description": "No service of that name."}}


def dashboard_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["dashboard"])

    def service(name: str) -> Service:
        for svc in runtime.config.services:
            if svc.name == name:
                return svc
        raise HTTPException(404, f"no service named {name!r}")

    @router.get(
        "/overview",
        response_class=Response,
        responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
    )
    async def overview() -> Response:
        """Every service's status, replicas, load, latency, errors, CPU, memory and firing
        alerts: a snapshot refreshed every ``dashboard.refresh`` (see docs/dashboard.md)."""
        if runtime.overview.snapshot["generated_at_ms"] is None:
            await runtime.overview.refresh()
        return Response(runtime.overview.snapshot_json, media_type="application/json")

    @router.get("/services/{name}/charts", responses=_NO_SERVICE)
    async def charts(
        name: str,
        range_: Annotated[str, Query(alias="range", description="15m, 1h, 6h, 24h, 7d: 5m to 31d.")] = "1h",
    ) -> dict[str, Any]:
        """Load, latency p50/p95/p99, error rate, CPU, memory and replicas over the range
        on one time axis, with the scaling events in it."""
        svc = service(name)
        seconds = _range(range_)
        cfg = runtime.config
        step_s = max(1.0, math.ceil(seconds / CHART_POINTS))
        now = runtime.clock.now()
        step_ms = round(step_s * 1000)
        end_ms = (round(now * 1000) // step_ms) * step_ms
        start_ms = end_ms - round(seconds * 1000)
        controller = runtime.controllers.get(name)
        horizon = None
        if controller is not None and controller.last_forecast is not None:
            horizon = controller.last_forecast.horizon
        queries = chart_queries(
            svc, svc.scrape.interval or cfg.scrape.interval, cfg.host_stats.interval, step_s, horizon
        )
        times_ms = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        source = runtime.query_source

        async def one(query: str) -> list[float | None]:
            try:
                result = await source.query_range(query, start_ms, end_ms, step_ms)
            except QueryError as exc:
                if exc.kind == "bad_data":
                    raise HTTPException(422, f"signals of {name!r}: {exc}") from exc
                raise HTTPException(503, f"reading the store: {exc}") from exc
            return _column(result.matrix, times_ms)

        names = [k for k in CHART_SERIES if k in queries]
        columns = await asyncio.gather(*(one(queries[k]) for k in names))
        events = runtime.store.events(
            since_ms=start_ms, until_ms=end_ms + step_ms, kinds=SCALING_KINDS, service=name, limit=1000
        )
        return {
            "service": name,
            "range_seconds": seconds,
            "step_seconds": step_s,
            "start_ms": start_ms,
            "end_ms": end_ms,
            "timestamps": (times_ms / 1000).tolist(),
            "series": dict(zip(names, columns, strict=True)),
            "sources": {k: "forecast" if k == "forecast_rps" else "measured" for k in names},
            "queries": {k: queries[k] for k in names},
            "decisions": [decision_row(e) for e in reversed(events)],
        }

    @router.get("/services/{name}/health", responses=_NO_SERVICE)
    async def health(name: str) -> dict[str, Any]:
        """The service's scrape targets, probes with their recent results, and replicas."""
        service(name)
        controller = runtime.controllers.get(name)
        return {
            "service": name,
            "targets": [t for t in runtime.target_states() if t["service"] == name],
            "probes": [p for p in runtime.probe_states() if p["service"] == name],
            "replicas": controller.describe()["replica_list"] if controller is not None else [],
        }

    @router.get("/events")
    async def events(
        service_: Annotated[str | None, Query(alias="service", description="Only this service's events.")] = None,
        kind: Annotated[list[str], Query(description="Only these kinds (repeatable).")] = [],  # noqa: B006
        since: Annotated[str | None, Query(description="RFC 3339, unix seconds, or a duration ago: 1h.")] = None,
        until: Annotated[str | None, Query(description="RFC 3339, unix seconds, or a duration ago.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """The event log, newest first."""
        known = {str(k) for k in EventKind}
        bad = [k for k in kind if k not in known]
        if bad:
            raise HTTPException(422, f"unknown event kind {bad[0]!r}; see /api/v1/events/kinds")
        now = runtime.clock.now()
        found = runtime.store.events(
            since_ms=_when(since, now, "since"),
            until_ms=_when(until, now, "until"),
            kinds=kind or None,
            service=service_,
            limit=limit,
        )
        return [event_body(e) for e in found]

    @router.get("/events/kinds")
    async def event_kinds() -> list[str]:
        """Every kind of event scalepilot records."""
        return sorted(str(k) for k in EventKind)

    @router.get(
        "/report",
        response_model=None,
        responses={
            200: {
                "description": "The report: JSON; with format=csv one row per scaling event; with "
                "format=markdown the document `scalepilot report -o markdown` prints (without projections).",
                "content": {
                    "application/json": {},
                    "text/csv": {"schema": {"type": "string"}},
                    "text/markdown": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def report(
        range_: Annotated[str, Query(alias="range", description="How far back: 5m to 31d.")] = "24h",
        service_: Annotated[str | None, Query(alias="service", description="Only this service.")] = None,
        format_: Annotated[str, Query(alias="format", pattern="^(json|csv|markdown)$")] = "json",
        price: Annotated[
            float | None, Query(ge=0, description="Cost of one replica for an hour (any currency): adds costs.")
        ] = None,
    ) -> dict[str, Any] | Response:
        """The scaling report: per service, actions, replica-hours and the replica range
        (measured from the stored replica series), usage per minute, headroom and
        recommendations, and every scaling event. Projections (simulated growth) are
        made by `scalepilot report`, not here."""
        seconds = _range(range_)
        if service_ is not None:
            service(service_)
        now = runtime.clock.now()
        options = Options(range_s=seconds, services=[service_] if service_ else (), price=price, project=False)
        try:
            built = await build_report(
                runtime.store, runtime.query_source, runtime.config, now_ms=round(now * 1000), options=options
            )
        except QueryError as exc:
            raise HTTPException(503, f"reading the store: {exc}") from exc
        body = built.to_dict()
        stamp = iso(built.end_ms)[:19].replace(":", "").replace("-", "")
        if format_ == "json":
            return body
        if format_ == "markdown":
            return Response(
                to_markdown(built),
                media_type="text/markdown; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="scalepilot-report-{stamp}.md"'},
            )
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["time", "service", "kind", "from", "to", "actor", "reason"])
        for r in built.events:
            writer.writerow(
                [iso(r["timestamp_ms"]), r["service"], r["kind"], r["from"], r["to"], r["actor"], r["reason"]]
            )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="scalepilot-report-{stamp}.csv"'},
        )

    @router.get("/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        """The caller's token and role, and whether alerting is configured, so a page shows only the
        buttons and pages that will work."""
        enabled = runtime.config.server.auth_enabled
        return {
            "auth_enabled": enabled,
            "token": getattr(request.state, "token_name", None),
            "role": getattr(request.state, "token_role", None) if enabled else "admin",
            "alerting": runtime.notifications is not None,
        }

    @router.get(
        "/stream",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."}},
    )
    async def stream(request: Request) -> StreamingResponse:
        """Server-Sent Events: ``overview`` after every refresh (and at once), ``event``
        for every new event, and a comment every 15 s to keep proxies from closing it."""
        hub = runtime.overview

        async def messages() -> AsyncIterator[str]:
            async with hub.subscribe() as sub:
                if hub.snapshot["generated_at_ms"] is None:
                    await hub.refresh()  # the first message is a real overview, never the empty one
                yield _sse("overview", hub.snapshot_json.decode())
                while not await request.is_disconnected():
                    try:
                        message = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if message is None:
                        return
                    yield _sse(message.event, message.json)

        return StreamingResponse(
            messages(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"
