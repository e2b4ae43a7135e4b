"""The composition root: everything ``scalepilot run`` runs, built from one config.

``Runtime`` owns the store, the fetch and probe clients, and one task per loop. It is
started and stopped by the face that runs it (the CLI, a test), which also serves its
HTTP API; nothing here knows about HTTP serving.

Shutdown drains: loops stop at their next await, the store flushes what it holds, the
clients close. A crash instead (``kill -9``) loses at most ``storage.flush_interval``
of samples; the store never needs repair.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from scalepilot import __version__
from scalepilot.adapters.probes import HTTPProber
from scalepilot.adapters.scrape.http import Fetcher
from scalepilot.adapters.scrape.parser import ACCEPT_HEADER
from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.diff import diff, merge
from scalepilot.config.loader import ConfigError, LoadedConfig
from scalepilot.config.loader import load as load_config
from scalepilot.config.models import Config, Service
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.domain.clock import Clock, SystemClock, iso_ms, to_ms
from scalepilot.domain.errors import ScalepilotError
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.store import Store
from scalepilot.service.controller import ServiceController
from scalepilot.service.loops import Tasks, run_loop
from scalepilot.service.metric_source import (
    EmbeddedMetricSource,
    ScalingSource,
    SourceCollector,
    build_metric_source,
    source_events,
)
from scalepilot.service.notifications import AlertSink, Notifications
from scalepilot.service.overview import EVENT_POLL_S, Overview
from scalepilot.service.probing import ProbeLoop
from scalepilot.service.rule_evaluation import RuleEvaluation, ServiceFacts
from scalepilot.service.scraping import ScrapeLoop
from scalepilot.service.selfmetrics import SelfMetrics
from scalepilot.service.stats import StatsLoop
from scalepilot.service.targets import (
    ProbeTarget,
    ScrapeTarget,
    WatchedProcess,
    probe_targets,
    scrape_targets,
    watched_processes,
)

log = logging.getLogger(__name__)

_L = TypeVar("_L", ScrapeLoop, ProbeLoop)
_T = TypeVar("_T", ScrapeTarget, ProbeTarget)


class Runtime:
    def __init__(self, loaded: LoadedConfig, *, clock: Clock | None = None) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.clock: Clock = clock or SystemClock()
        self.metrics = SelfMetrics()
        self.started_at: float | None = None
        self._store: SQLiteStore | None = None
        self._stop = asyncio.Event()
        self._tasks = Tasks(self._loop_crashed)
        self._fetcher = Fetcher(ACCEPT_HEADER)
        self._prober = HTTPProber()
        self._first_round_pending = 0
        self.scrape_loops: list[ScrapeLoop] = []
        self.probe_loops: list[ProbeLoop] = []
        self.stats_loop: StatsLoop | None = None
        self.controllers: dict[str, ServiceController] = {}
        self.notifications: Notifications | None = None
        self.rules: RuleEvaluation | None = None
        self._embedded_source: EmbeddedMetricSource | None = None
        self._metric_source: ScalingSource | None = None
        self.overview = Overview(self)
        self._reload_lock = asyncio.Lock()
        self.last_reload: dict[str, Any] | None = None
        """The outcome of the last config reload, for ``/status``."""
        self._loop_stops: dict[int, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        """Each scrape and probe loop's stop and task, by ``id(loop)``."""

    # --- lifecycle ------------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the runtime is not started")
        return self._store

    @property
    def query_source(self) -> EmbeddedMetricSource:
        """PromQL over the embedded store (the Prometheus-compatible API reads it)."""
        if self._embedded_source is None:
            raise RuntimeError("the runtime is not started")
        return self._embedded_source

    @property
    def metric_source(self) -> ScalingSource:
        """Where scaling's ``series`` metrics are read from (``metrics_source:``)."""
        if self._metric_source is None:
            raise RuntimeError("the runtime is not started")
        return self._metric_source

    @property
    def data_dir(self) -> Path:
        return self.loaded.data_dir()

    async def start(self) -> None:
        cfg = self.config
        store = await asyncio.to_thread(SQLiteStore.open, self.data_dir, cfg.storage, clock=self.clock.now)
        self._store = store
        self._embedded_source = EmbeddedMetricSource(store)
        self._metric_source = build_metric_source(
            cfg.metrics_source,
            self._embedded_source,
            base_dir=self.loaded.base_dir,
            clock=self.clock.now,
            on_health_change=source_events(store),
        )
        self.metrics.registry.register(SourceCollector(self._metric_source))
        self.metrics.watch_store(lambda: self._store.stats() if self._store else None)
        now_ms = to_ms(self.clock.now())
        rev = store.add_config_revision(self.loaded.text, str(self.loaded.path), now_ms)
        self.metrics.config_reload_time.set(now_ms / 1000)
        store.add_event(
            Event(
                now_ms,
                EventKind.STARTED,
                f"scalepilot {__version__} started",
                details={
                    "version": __version__,
                    "config": str(self.loaded.path),
                    "config_revision": rev.id,
                    "config_sha256": rev.sha256,
                },
            )
        )

        targets = scrape_targets(cfg)
        self._first_round_pending = len(targets)
        self.metrics.targets.set_function(lambda: len(self.all_scrape_loops()))
        self.metrics.targets_up.set_function(lambda: sum(lp.state.health == "up" for lp in self.all_scrape_loops()))
        self.scrape_loops = [self._scrape_loop(t, first_round=True) for t in targets]
        self.probe_loops = [self._probe_loop(p) for p in probe_targets(cfg)]
        self.controllers = {svc.name: self._controller(svc, cfg) for svc in cfg.services if svc.target is not None}
        for controller in self.controllers.values():
            await controller.start()
        processes = watched_processes(cfg, self.loaded.base_dir)
        if cfg.host_stats.enabled or processes or self.controllers:
            self.stats_loop = self._stats_loop(processes)
        if cfg.alerting is not None:
            self.notifications = Notifications(
                cfg.alerting,
                store=store,
                clock=self.clock,
                base_dir=self.loaded.base_dir,
                external_url=cfg.alerting.external_url or f"http://{cfg.server.address}",
                registry=self.metrics.registry,
            )
        sink = self.notifications
        self.rules = RuleEvaluation(
            cfg,
            store=store,
            querier=self._embedded_source.engine,
            clock=self.clock,
            metrics=self.metrics,
            base_dir=self.loaded.base_dir,
            on_alerts=sink.send if sink is not None else None,
            on_pending=sink.set_pending if sink is not None else None,
            service_facts=self._service_facts,
            external_url=(cfg.alerting.external_url if cfg.alerting is not None else None)
            or f"http://{cfg.server.address}",
        )
        await asyncio.to_thread(self.rules.load)
        self.started_at = self.clock.now()
        if self.notifications is not None:
            self._spawn(self.notifications.run(self._stop), "notifications")
        self.rules.start(self._stop, self._loop_crashed)
        for loop in self.scrape_loops:
            self._start_loop(loop, f"scrape {loop.target.key}")
        for probe in self.probe_loops:
            self._start_loop(probe, f"probe {probe.target.key}")
        if self.stats_loop is not None:
            self._spawn(self.stats_loop.run(self._stop), "stats")
        for name, tick, interval in (
            ("flush", self._flush, cfg.storage.flush_interval),
            ("maintenance", self._maintain, cfg.storage.maintenance_interval),
            ("overview", self.overview.tick, cfg.dashboard.refresh),
            ("event stream", self.overview.poll_events, EVENT_POLL_S),
        ):
            housekeeping = run_loop(
                name, tick, clock=self.clock, interval_s=interval, offset_s=0.0, stop=self._stop, metrics=self.metrics
            )
            self._spawn(housekeeping, name)

    def _controller(self, svc: Service, config: Config) -> ServiceController:
        assert self._metric_source is not None
        return ServiceController(
            svc,
            config,
            store=self.store,
            metric_source=self._metric_source,
            clock=self.clock,
            metrics=self.metrics,
            fetcher=self._fetcher,
            prober=self._prober,
            base_dir=self.loaded.base_dir,
            data_dir=self.data_dir,
            on_crash=self._loop_crashed,
        )

    def _stats_loop(self, processes: list[WatchedProcess]) -> StatsLoop:
        cfg = self.config
        return StatsLoop(
            interval_s=cfg.host_stats.interval,
            host=cfg.host_stats.enabled,
            processes=processes,
            store=self.store,
            clock=self.clock,
            metrics=self.metrics,
            extra_processes=lambda: [p for c in list(self.controllers.values()) for p in c.processes()],
        )

    def _service_facts(self) -> dict[str, ServiceFacts]:
        """Desired and maximum replicas per autoscaled service, for the built-in
        capacity rule."""
        out = {}
        for svc in self.config.services:
            controller = self.controllers.get(svc.name)
            status = controller.current_status() if controller is not None else None
            if status is not None and svc.autoscaling is not None:
                out[svc.name] = ServiceFacts(status.desired, svc.autoscaling.max_replicas)
        return out

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.spawn(coro, name)

    def _scrape_loop(self, target: ScrapeTarget, *, first_round: bool = False) -> ScrapeLoop:
        return ScrapeLoop(
            target,
            fetcher=self._fetcher,
            store=self.store,
            clock=self.clock,
            metrics=self.metrics,
            on_first_attempt=self._first_attempt_done if first_round else lambda: None,
        )

    def _probe_loop(self, target: ProbeTarget) -> ProbeLoop:
        return ProbeLoop(target, prober=self._prober, store=self.store, clock=self.clock, metrics=self.metrics)

    def _start_loop(self, loop: ScrapeLoop | ProbeLoop, name: str) -> None:
        # Each scrape and probe loop has its own stop, so a reload can end one alone.
        stop = asyncio.Event()
        if self._stop.is_set():
            stop.set()
        self._loop_stops[id(loop)] = (stop, self._tasks.spawn(loop.run(stop), name))

    async def _end_loop(self, loop: ScrapeLoop | ProbeLoop) -> None:
        """Stop one loop whose target a reload removed; its series go stale at once."""
        stop, task = self._loop_stops.pop(id(loop))
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._tasks.forget(task)
        loop.end(to_ms(self.clock.now()))

    async def _reconcile_loops(self) -> tuple[int, int]:
        """Scrape and probe loops for the config now held: unchanged targets keep their
        loop (and its state), removed or changed ones stop, new ones start. Returns
        (loops started, loops stopped)."""
        scrapes, free_scrapes, new_scrapes = self._match(
            self.scrape_loops, scrape_targets(self.config), self._scrape_loop, "scrape"
        )
        probes, free_probes, new_probes = self._match(
            self.probe_loops, probe_targets(self.config), self._probe_loop, "probe"
        )
        self.scrape_loops, self.probe_loops = scrapes, probes
        ended: list[ScrapeLoop | ProbeLoop] = [*free_scrapes, *free_probes]
        for gone in ended:
            await self._end_loop(gone)
        return new_scrapes + new_probes, len(ended)

    def _match(
        self, running: list[_L], wanted: list[_T], make: Callable[[_T], _L], kind: str
    ) -> tuple[list[_L], list[_L], int]:
        """(the loops for ``wanted``, in its order: kept or started with ``make``; the
        running loops no target matches; how many were started)."""
        loops: list[_L] = []
        free = list(running)
        started = 0
        for target in wanted:
            found = next((lp for lp in free if lp.target == target), None)
            if found is None:
                found = make(target)
                self._start_loop(found, f"{kind} {target.key}")
                started += 1
            else:
                free.remove(found)
            loops.append(found)
        return loops, free, started

    def _loop_crashed(self, name: str, exc: BaseException) -> None:
        # A bug in a loop must not pass silently; stop everything so it is seen.
        log.error("loop %s crashed", name, exc_info=exc)
        self.request_stop()

    async def stop(self) -> None:
        self.request_stop()
        await self._tasks.stop()
        if self.rules is not None:
            await self.rules.stop()
        for controller in list(self.controllers.values()):
            await controller.stop()
        await self._fetcher.aclose()
        await self._prober.aclose()
        if self._metric_source is not None and self._metric_source is not self._embedded_source:
            await self._metric_source.aclose()
        if self._embedded_source is not None:
            await self._embedded_source.aclose()
        if self.notifications is not None:
            await self.notifications.aclose()
        if self._store is not None:
            store, self._store = self._store, None
            store.add_event(Event(to_ms(self.clock.now()), EventKind.STOPPED, "scalepilot stopped"))
            await asyncio.to_thread(store.close)

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()
        for stop, _ in self._loop_stops.values():
            stop.set()
        self.overview.close()

    @property
    def store_open(self) -> bool:
        return self._store is not None

    @property
    def alert_sink(self) -> AlertSink | None:
        """Where the rule engine sends its alerts; None without ``alerting:``."""
        return self.notifications

    def crashed_loops(self) -> list[str]:
        rules = self.rules.crashed() if self.rules is not None else []
        return [*self._tasks.crashed(), *rules, *(n for c in self.controllers.values() for n in c.crashed())]

    async def reload(self, actor: str) -> Reload:
        """Read the config file again and apply what can change while running
        (``SIGHUP``, ``POST /-/reload``; ``config.diff`` says which keys), re-reading the
        rule files whether or not their list changed. All or nothing, as Prometheus
        reloads: a broken config or rule file, or a new service whose target cannot
        start, changes nothing and is returned as problems. Changed keys that only a
        restart applies are named, never silently ignored. Records a
        ``config_reloaded`` event."""
        async with self._reload_lock:
            result = await self._reload(actor)
            self.metrics.config_reload_success.set(0 if result.problems else 1)
            now = self.clock.now()
            if not result.problems:
                self.metrics.config_reload_time.set(now)
                self.metrics.config_restart_needed.set(len(result.restart_needed))
            details = {
                "actor": actor,
                "applied": result.applied,
                "restart_needed": result.restart_needed,
                "problems": result.problems,
            }
            self.last_reload = {"at": iso_ms(to_ms(now)), "successful": not result.problems, **details}
            for problem in result.problems:
                log.error("config reload refused: %s", problem)
            if result.restart_needed:
                log.warning("config reload: needs a restart to take effect: %s", ", ".join(result.restart_needed))
            self.store.add_event(Event(to_ms(now), EventKind.CONFIG_RELOADED, result.message(actor), details=details))
            return result

    async def _reload(self, actor: str) -> Reload:
        try:
            loaded = await asyncio.to_thread(load_config, self.loaded.path)
        except ConfigError as exc:
            return Reload(problems=[str(issue) for issue in exc.issues])
        changes = diff(self.config, loaded.config)
        running = merge(self.config, loaded.config, changes)
        # What can fail goes first, so a refusal leaves everything as it was: the new
        # services' targets (a balancer port in use...), then the rule files.
        new_controllers: dict[str, ServiceController] = {}
        for svc in running.services:
            if changes.scaled.get(svc.name) is not None:
                fresh = new_controllers[svc.name] = self._controller(svc, running)
                try:
                    await fresh.start()
                except ScalepilotError as exc:
                    for done in new_controllers.values():
                        await done.stop()
                    return Reload(problems=[f"{self.loaded.path}: services.{svc.name}: {exc}"])
        if self.rules is not None:
            before = self.rules.cfg
            self.rules.cfg = running
            issues = await self.rules.reload()
            if issues:
                self.rules.cfg = before
                for done in new_controllers.values():
                    await done.stop()
                return Reload(problems=[str(issue) for issue in issues])
        for name, settings in changes.autoscaling.items():
            if (edited := self.controllers.get(name)) is not None:
                edited.apply_autoscaling(settings)
        for name, svc in changes.rollout.items():
            if (edited := self.controllers.get(name)) is not None and edited.rollouts is not None:
                edited.rollouts.apply_settings(svc.rollout)
        for name, svc in changes.rollouts.items():
            edited = self.controllers.get(name)
            if edited is not None and edited.rollouts is not None and isinstance(svc.target, LocalTargetSettings):
                await edited.rollouts.begin(svc.target, f"config reload by {actor}")
        for name in [name for name, added in changes.scaled.items() if added is None]:
            await self.controllers.pop(name).stop()  # drains and stops its replicas, as at shutdown
        self.controllers.update(new_controllers)
        self.config = running
        if new_controllers and self.stats_loop is None:
            self.stats_loop = self._stats_loop([])
            self._spawn(self.stats_loop.run(self._stop), "stats")
        if changes.watched or changes.scaled or {"scrape", "probe"} & set(changes.top):
            started, stopped = await self._reconcile_loops()
            log.info("config reload: %d scrape and probe loops started, %d stopped", started, stopped)
        if "scrape" in changes.top:
            for controller in self.controllers.values():
                await controller.apply_config(running)
        self.loaded = LoadedConfig(running, self.loaded.path, loaded.text)
        if changes.applied:
            await asyncio.to_thread(
                self.store.add_config_revision, loaded.text, str(loaded.path), to_ms(self.clock.now())
            )
        return Reload(applied=changes.applied, restart_needed=changes.restart_needed)

    def all_scrape_loops(self) -> list[ScrapeLoop]:
        """Configured endpoints and the scrapes of local replicas, which come and go."""
        return [*self.scrape_loops, *(lp for c in self.controllers.values() for lp in c.scrape_loops())]

    # --- periodic housekeeping -----------------------------------------------------
    async def _flush(self, scheduled: float) -> None:
        started = time.perf_counter()
        await asyncio.to_thread(self.store.flush)
        self.metrics.store_flush_duration.observe(time.perf_counter() - started)

    async def _maintain(self, scheduled: float) -> None:
        started = time.perf_counter()
        await asyncio.to_thread(self.store.maintain, to_ms(self.clock.now()))
        self.metrics.store_maintenance_duration.observe(time.perf_counter() - started)

    # --- state -------------------------------------------------------------------------
    def _first_attempt_done(self) -> None:
        self._first_round_pending -= 1

    @property
    def ready(self) -> bool:
        """Config loaded, store open, every target scraped (or tried) once."""
        return self._store is not None and self._first_round_pending <= 0

    def target_states(self) -> list[dict[str, Any]]:
        """Every scrape target's health, last error and last scrape (for /status and the
        dashboard's health checks)."""
        targets = []
        for loop in self.all_scrape_loops():
            t, s = loop.target, loop.state
            targets.append(
                {
                    "service": t.service,
                    "url": t.url,
                    "instance": t.instance,
                    "replica": t.replica,
                    "health": s.health,
                    "last_error": s.last_error,
                    "last_scrape": _iso(s.last_scrape_ms),
                    "last_scrape_ms": s.last_scrape_ms,
                    "last_duration_seconds": s.last_duration_s,
                    "samples": s.last_samples,
                    "interval_seconds": t.interval_s,
                    "scrapes": s.scrapes,
                    "failures": s.failures,
                }
            )
        return targets

    def probe_states(self) -> list[dict[str, Any]]:
        """Every probe's health, last error and recent results."""
        probes = []
        for p in self.probe_loops:
            st = p.state
            probes.append(
                {
                    "service": p.target.service,
                    "probe": p.target.spec.name,
                    "type": p.target.spec.type,
                    "instance": p.target.instance,
                    "health": st.health,
                    "last_error": st.last_error,
                    "since": _iso(st.since_ms),
                    "history": [asdict(r) for r in st.history],
                }
            )
        return probes

    def status(self) -> dict[str, Any]:
        now = self.clock.now()
        targets = self.target_states()
        probes = self.probe_states()
        store_stats = asdict(self._store.stats()) if self._store is not None else None
        source: dict[str, Any] | None = None
        if self._metric_source is not None:
            source = self._metric_source.status()
            for key in ("since", "last_success", "last_failure"):
                if f"{key}_ms" in source:
                    source[key] = _iso(source[f"{key}_ms"])
        return {
            "version": __version__,
            "started_at": _iso(to_ms(self.started_at)) if self.started_at else None,
            "uptime_seconds": round(now - self.started_at, 3) if self.started_at else 0.0,
            "ready": self.ready,
            "config": {"path": str(self.loaded.path), "data_dir": str(self.data_dir), "last_reload": self.last_reload},
            "targets": targets,
            "probes": probes,
            "services": [c.describe() for c in self.controllers.values()],
            "store": store_stats,
            "metrics_source": source,
            "notifications": self.notifications.status() if self.notifications is not None else None,
            "rules": self.rules.status() if self.rules is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Reload:
    """What a config reload did: refused (``problems``), or applied ``applied`` (dotted
    keys) and left ``restart_needed`` for the next start."""

    problems: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)

    def message(self, actor: str) -> str:
        if self.problems:
            return f"config reload refused ({len(self.problems)} problems), asked by {actor}"
        text = f"config reloaded, asked by {actor}: "
        text += f"applied {', '.join(self.applied)}" if self.applied else "no change applied live"
        if self.restart_needed:
            text += f"; needs a restart: {', '.join(self.restart_needed)}"
        return text


def _iso(ms: int | None) -> str | None:
    return None if ms is None else iso_ms(ms)
