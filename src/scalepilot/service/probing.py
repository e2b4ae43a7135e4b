"""One loop per probe: run it, store ``probe_success`` and ``probe_duration_seconds``
(the blackbox exporter's names), and record every change of state as an event carrying
the error text, so "when did it start failing, and why" has an answer."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from scalepilot.adapters.probes import HTTPProber, ProbeResult, probe_tcp
from scalepilot.config.models import HTTPProbe
from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.labels import make_labels
from scalepilot.domain.samples import STALE_NAN
from scalepilot.domain.store import Store
from scalepilot.service.loops import run_loop
from scalepilot.service.selfmetrics import SelfMetrics
from scalepilot.service.targets import ProbeTarget

log = logging.getLogger(__name__)

# How many recent results each probe keeps for /status and the health-check details.
HISTORY = 10


@dataclass(slots=True)
class ProbeRecord:
    timestamp_ms: int
    success: bool
    duration_s: float
    error: str
    status: int | None


@dataclass(slots=True)
class ProbeState:
    health: str = "unknown"
    last_error: str = ""
    since_ms: int | None = None
    history: list[ProbeRecord] = field(default_factory=list)


class ProbeLoop:
    def __init__(
        self, target: ProbeTarget, *, prober: HTTPProber, store: Store, clock: Clock, metrics: SelfMetrics
    ) -> None:
        self.target = target
        self.state = ProbeState()
        self._prober = prober
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._ids: list[int] = []

    async def run(self, stop: asyncio.Event) -> None:
        await run_loop(
            "probe",
            self._tick,
            clock=self._clock,
            interval_s=self.target.interval_s,
            offset_s=self.target.offset_s(),
            stop=stop,
            metrics=self._metrics,
        )

    async def _tick(self, scheduled: float) -> None:
        await self.probe_once()

    async def probe_once(self) -> ProbeResult:
        t = self.target
        ts_ms = to_ms(self._clock.now())
        spec = t.spec
        if isinstance(spec, HTTPProbe):
            result = await self._prober.probe(
                spec.url,
                timeout_s=t.timeout_s,
                method=spec.method,
                expect_status=frozenset(spec.expect_status),
                body_regex=t.body_regex,
                headers=spec.headers,
            )
        else:
            host, _, port = spec.address.rpartition(":")
            result = await probe_tcp(host.strip("[]"), int(port), timeout_s=t.timeout_s)
        self._record(ts_ms, result)
        return result

    def end(self, ts_ms: int) -> None:
        """The probe is gone (a reload removed it): its series end now (stale markers)."""
        if self._ids:
            self._store.append(self._ids, ts_ms, [STALE_NAN] * len(self._ids))

    def _record(self, ts_ms: int, result: ProbeResult) -> None:
        t, s = self.target, self.state
        if not self._ids:
            base = dict(t.labels)
            self._ids = self._store.series_ids(
                [make_labels("probe_success", base), make_labels("probe_duration_seconds", base)]
            )
        self._store.append(self._ids, ts_ms, [1.0 if result.success else 0.0, result.duration_s])
        self._metrics.samples_ingested.inc(2)
        self._metrics.probes.labels(t.service, t.spec.name, "success" if result.success else "failure").inc()
        s.history.append(ProbeRecord(ts_ms, result.success, result.duration_s, result.error, result.status))
        del s.history[:-HISTORY]
        health = "up" if result.success else "down"
        changed = health != s.health
        before = s.health
        s.health, s.last_error = health, result.error
        if changed:
            s.since_ms = ts_ms
            if before == "unknown" and health == "up":
                return
            kind = EventKind.PROBE_UP if result.success else EventKind.PROBE_DOWN
            message = (
                f"probe {t.spec.name} of {t.service} passes again"
                if result.success
                else f"probe {t.spec.name} of {t.service} fails: {result.error}"
            )
            self._store.add_event(
                Event(
                    ts_ms,
                    kind,
                    message,
                    t.service,
                    {"probe": t.spec.name, "instance": t.instance, "error": result.error, "status": result.status},
                )
            )
            log.info(message)
