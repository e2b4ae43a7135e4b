"""The overview the dashboard shows, recomputed in the background, and the live stream.

Every ``dashboard.refresh`` one task asks the store a handful of queries for all services
at once (see ``control.dashboard``), joins them with the replicas, scrape targets, probes
and alerts it has in memory, and keeps the result: ``GET /api/v1/overview`` then costs a
lookup however many browsers ask, and the Server-Sent Events stream pushes the same
snapshot to every subscriber. The same tick records each service's replica counts (and
the predictive policy's forecast) as series, which the charts and the scaling report read.

New events reach subscribers within a second: one poll of the event log (by id) for all
of them, only while someone listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scalepilot import __version__
from scalepilot.control.dashboard import (
    FORECAST,
    REPLICAS,
    classify,
    overview_groups,
    process_queries,
    rate_window,
    service_selector,
)
from scalepilot.domain.clock import iso_ms as iso
from scalepilot.domain.events import Event
from scalepilot.domain.labels import get_label, make_labels
from scalepilot.domain.query import QueryError, QueryResult

if TYPE_CHECKING:
    from scalepilot.service.runtime import Runtime

log = logging.getLogger(__name__)

EVENT_POLL_S = 1.0
SUBSCRIBER_BACKLOG = 256


_AUTOSCALING_KEYS = ("mode", "paused", "paused_until", "pause_reason", "paused_by", "last_decision")
"""What the overview shows of a service's autoscaling (the rest is on its own page)."""


def event_body(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "timestamp_ms": e.timestamp_ms,
        "time": iso(e.timestamp_ms),
        "kind": str(e.kind),
        "service": e.service,
        "message": e.message,
        "details": e.details,
    }


@dataclass(frozen=True, slots=True)
class Message:
    """One Server-Sent Event: its ``event:`` name and its ``data`` as JSON text, encoded
    once for every subscriber."""

    event: str
    json: str


def encode(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


class Subscription:
    """One listener's queue. A listener that falls ``SUBSCRIBER_BACKLOG`` messages behind
    is dropped (its stream ends and the page reconnects) rather than holding memory."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self.dropped = False

    def offer(self, message: Message | None) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Overview:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.refresh_s = runtime.config.dashboard.refresh
        self.snapshot: dict[str, Any] = self._empty()
        # Encoded once per refresh: serving the overview is then a copy of bytes, however
        # many pages ask (a 50-service snapshot is ~50 KB of JSON, milliseconds to encode).
        self.snapshot_json = encode(self.snapshot).encode()
        self._subscribers: set[Subscription] = set()
        self._last_event_id: int | None = None
        self._closed = False

    # --- the snapshot ----------------------------------------------------------------------
    def _empty(self) -> dict[str, Any]:
        return {
            "generated_at_ms": None,
            "generated_at": None,
            "refresh_seconds": self.refresh_s,
            "version": __version__,
            "counts": {"healthy": 0, "degraded": 0, "down": 0, "unknown": 0},
            "alerts": {"firing": 0, "pending": 0, "suppressed": 0},
            "services": [],
        }

    async def tick(self, scheduled: float) -> None:
        await self.refresh()

    async def refresh(self) -> dict[str, Any]:
        rt = self.runtime
        now_ms = round(rt.clock.now() * 1000)
        figures = await self._figures(now_ms)
        alerts = self._alerts()
        services = []
        counts = dict.fromkeys(("healthy", "degraded", "down", "unknown"), 0)
        replica_samples: list[tuple[Any, float]] = []
        target_health: dict[str, Counter[str]] = {}
        for lp in rt.all_scrape_loops():
            target_health.setdefault(lp.target.service, Counter())[lp.state.health] += 1
        probe_health: dict[str, Counter[str]] = {}
        for p in rt.probe_loops:
            probe_health.setdefault(p.target.service, Counter())[p.state.health] += 1
        for svc in rt.config.services:
            controller = rt.controllers.get(svc.name)
            described = controller.describe() if controller is not None else None
            replicas = None
            autoscaling = None
            if described is not None and described["replicas"] is not None:
                a = svc.autoscaling
                replicas = {
                    **described["replicas"],
                    "min": a.min_replicas if a is not None else None,
                    "max": a.max_replicas if a is not None else None,
                }
                for state in ("desired", "current", "ready"):
                    replica_samples.append(
                        (make_labels(REPLICAS, {"service": svc.name, "state": state}), float(replicas[state]))
                    )
            if described is not None and described["autoscaling"] is not None:
                auto = described["autoscaling"]
                autoscaling = {k: auto[k] for k in _AUTOSCALING_KEYS}
            targets = target_health.get(svc.name, Counter())
            probes = probe_health.get(svc.name, Counter())
            firing = alerts["by_service"].get(svc.name, [])
            health = classify(
                targets=targets,
                probes=probes,
                replicas=described["replicas"] if described else None,
                firing_alerts=[a["alertname"] for a in firing],
            )
            counts[health.status] += 1
            svc_figures = {
                name: {"value": per_service.get(svc.name), "source": "measured", "query": query}
                for name, (query, per_service) in figures.get(svc.name, {}).items()
            }
            forecast = (described or {}).get("autoscaling") or {}
            if forecast.get("forecast") is not None:
                fc = forecast["forecast"]
                svc_figures["forecast_rps"] = {
                    "value": fc["rps"],
                    "source": "forecast",
                    "horizon_seconds": fc["horizon"],
                    "error": fc["error"],
                }
                if fc["rps"] is not None and math.isfinite(fc["rps"]):
                    replica_samples.append((make_labels(FORECAST, {"service": svc.name}), float(fc["rps"])))
            services.append(
                {
                    "name": svc.name,
                    "labels": dict(svc.labels),
                    "status": health.status,
                    "status_reasons": health.reasons,
                    "status_details": [r.to_dict() for r in health.details],
                    "target": svc.target.type if svc.target is not None else None,
                    "replicas": replicas,
                    "autoscaling": autoscaling,
                    "figures": svc_figures,
                    "targets": {"up": targets.get("up", 0), "down": targets.get("down", 0)},
                    "probes": {"up": probes.get("up", 0), "down": probes.get("down", 0)},
                    "alerts_firing": firing,
                }
            )
        if replica_samples and rt.store_open:
            await asyncio.to_thread(self._record, replica_samples, now_ms)
        self.snapshot = {
            "generated_at_ms": now_ms,
            "generated_at": iso(now_ms),
            "refresh_seconds": self.refresh_s,
            "version": __version__,
            "counts": counts,
            "alerts": alerts["counts"],
            "services": services,
        }
        text = await asyncio.to_thread(encode, self.snapshot)
        self.snapshot_json = text.encode()
        self.publish(Message("overview", text))
        return self.snapshot

    def _record(self, samples: list[tuple[Any, float]], ts_ms: int) -> None:
        store = self.runtime.store
        store.append(store.series_ids([labels for labels, _ in samples]), ts_ms, [v for _, v in samples])

    async def _figures(self, now_ms: int) -> dict[str, dict[str, tuple[str, dict[str, float | None]]]]:
        """service -> figure -> (its query, service -> value)."""
        rt = self.runtime
        cfg = rt.config
        jobs: list[tuple[str, str, tuple[str, ...]]] = []  # (figure, query, services)
        for group in overview_groups(cfg.services, cfg.scrape.interval):
            jobs += [(fig, q, group.services) for fig, q in group.queries().items()]
        everyone = tuple(s.name for s in cfg.services)
        if everyone:
            window = rate_window(cfg.host_stats.interval)
            jobs += [(fig, q, everyone) for fig, q in process_queries(service_selector(everyone), window).items()]
        results = await asyncio.gather(*(self._instant(q, now_ms) for _, q, _ in jobs))
        out: dict[str, dict[str, tuple[str, dict[str, float | None]]]] = {}
        for (fig, query, members), values in zip(jobs, results, strict=True):
            for name in members:
                narrowed = query.replace(service_selector(members), service_selector([name]))
                out.setdefault(name, {})[fig] = (narrowed, values)
        return out

    async def _instant(self, query: str, at_ms: int) -> dict[str, float | None]:
        try:
            result: QueryResult = await self.runtime.query_source.query(query, at_ms)
        except QueryError as exc:
            # A figure that cannot be computed is shown as "no data", never an error page;
            # the reason is in the log for whoever configured the signal.
            log.warning("overview query failed: %s: %s", query, exc)
            return {}
        out: dict[str, float | None] = {}
        for sample in result.vector:
            value = sample.value
            out[get_label(sample.labels, "service")] = value if math.isfinite(value) else None
        return out

    def _alerts(self) -> dict[str, Any]:
        n = self.runtime.notifications
        counts = {"firing": 0, "pending": 0, "suppressed": 0}
        by_service: dict[str, list[dict[str, Any]]] = {}
        if n is None:
            return {"counts": counts, "by_service": by_service}
        for view in n.alerts():
            if view.state not in counts:
                continue
            counts[view.state] += 1
            if view.state == "firing":
                alert = view.alert
                service = dict(alert.labels).get("service")
                if service:
                    by_service.setdefault(service, []).append(
                        {
                            "alertname": alert.name,
                            "severity": dict(alert.labels).get("severity"),
                            "summary": dict(alert.annotations).get("summary"),
                            "fingerprint": alert.fingerprint,
                        }
                    )
        counts["pending"] = len(n.pending)
        return {"counts": counts, "by_service": by_service}

    # --- the stream ------------------------------------------------------------------------
    def publish(self, message: Message) -> None:
        for sub in list(self._subscribers):
            sub.offer(message)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription()
        if self._closed:
            sub.offer(None)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    async def poll_events(self, scheduled: float = 0.0) -> None:
        store = self.runtime.store
        if self._last_event_id is None:
            self._last_event_id = await asyncio.to_thread(store.last_event_id)
            return
        if not self._subscribers:
            # Nobody listens: move the mark without reading the events themselves.
            self._last_event_id = await asyncio.to_thread(store.last_event_id)
            return
        # In a thread: a read can wait behind the store's flush, and the event loop serves
        # every HTTP request meanwhile.
        fresh = await asyncio.to_thread(store.events, after_id=self._last_event_id, limit=1000)
        # The log is ordered by time, but times can tie or step back (events stamped by
        # different loops); ids only grow, so ids decide what is new and in what order.
        fresh.sort(key=lambda e: e.id or 0)
        for event in fresh:
            self.publish(Message("event", encode(event_body(event))))
        if fresh:
            self._last_event_id = max(self._last_event_id, fresh[-1].id or 0)

    def close(self) -> None:
        """End every stream (the server is stopping): an open stream must not hold the
        HTTP server's graceful shutdown for its whole timeout."""
        self._closed = True
        for sub in list(self._subscribers):
            sub.offer(None)
