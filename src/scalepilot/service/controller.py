"""One scaled service: its target, its balancer, its replicas' scrapes, its autoscaler.

The autoscaler is level-triggered: every ``autoscaling.interval`` it re-reads the
target's status and the metrics, asks the pure engine for a decision, and acts only
when the desired count differs from what the target was last asked for. One action at
a time per service (a lock), exponential backoff when the target fails, and the
engine's state is kept unchanged when an action could not be carried out.

A person can scale by hand (CLI, API): that is recorded as an event naming who and why,
counted by the engine's cooldowns and rate policies, and pauses the autoscaler for
``autoscaling.manual_pause`` so it does not undo the person's choice at its next tick.
Pauses and the engine's state are kept in the store, so a restart changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scalepilot.adapters.balancer import Backend, Balancer, BalancerStateError
from scalepilot.adapters.probes import HTTPProber, probe_tcp
from scalepilot.adapters.scrape.http import Fetcher
from scalepilot.adapters.targets import CommandTarget, LocalTarget
from scalepilot.config.balancer import BalancerSettings
from scalepilot.config.models import Config, Service
from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.config.targets import HTTPReadiness, LocalTargetSettings, template_revision
from scalepilot.control.forecast import ForecastParams, Latest, Seasonality, forecast_latest
from scalepilot.control.rollout.plan import STABLE
from scalepilot.control.scaling.engine import decide
from scalepilot.control.scaling.policy import Policy, compile_policy
from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.labels import make_labels
from scalepilot.domain.query import MetricSource, QueryError
from scalepilot.domain.scaling import Decision, Forecast, MetricReading, Observation, ScalerState
from scalepilot.domain.store import Store
from scalepilot.domain.targets import Replica, ReplicaState, ScaleTarget, TargetError, TargetStatus
from scalepilot.service.balancing import BalancerRecorder
from scalepilot.service.loops import Tasks, run_loop
from scalepilot.service.readings import HISTORY_STEP_MS, RateHistory, ReadContext, read_metrics
from scalepilot.service.rollouts import TICK_S as ROLLOUT_TICK_S
from scalepilot.service.rollouts import RolloutDriver
from scalepilot.service.scraping import ScrapeLoop
from scalepilot.service.selfmetrics import SelfMetrics
from scalepilot.service.targets import ScrapeTarget, WatchedProcess

log = logging.getLogger(__name__)

_LIVE = (ReplicaState.STARTING, ReplicaState.READY, ReplicaState.BACKOFF)


LOCAL_REPLICA_LIMIT = 100


class ControllerError(Exception):
    """A request the controller cannot carry out (unknown service, no target...)."""


@dataclass(slots=True)
class _ReplicaScrape:
    loop: ScrapeLoop
    task: asyncio.Task[None]
    stop: asyncio.Event


class ServiceController:
    def __init__(
        self,
        service: Service,
        config: Config,
        *,
        store: Store,
        metric_source: MetricSource,
        clock: Clock,
        metrics: SelfMetrics,
        fetcher: Fetcher,
        prober: HTTPProber,
        base_dir: Path,
        data_dir: Path,
        on_crash: Callable[[str, BaseException], None],
    ) -> None:
        """``on_crash`` hears of a loop of this service that died of a bug;
        ``metric_source`` answers the PromQL of ``series`` metrics."""
        assert service.target is not None
        self.service = service
        self.name = service.name
        self._config = config
        self._store = store
        self._metric_source = metric_source
        self.series_problems: dict[str, str] = {}
        """Why each ``series`` metric's reading was missing at the last tick (its query
        failed, or the metric source is down)."""
        self._clock = clock
        self._metrics = metrics
        self._fetcher = fetcher
        self._prober = prober
        self._stop = asyncio.Event()
        self._autoscale_stop = asyncio.Event()
        """Stops the autoscale loop alone: a reload that changes the interval starts another."""
        self._tasks = Tasks(on_crash)
        self._scrapes: dict[tuple[str, int], _ReplicaScrape] = {}
        self._act_lock = asyncio.Lock()
        self._backoff_until = 0.0
        self._failures = 0
        self.balancer: Balancer | None = None
        self.recorder: BalancerRecorder | None = None
        self.policy: Policy | None = compile_policy(service.autoscaling) if service.autoscaling else None
        self.state = ScalerState()
        predictive = service.autoscaling.predictive if service.autoscaling else None
        self._history = RateHistory(service.name, predictive.metric) if predictive and predictive.enabled else None
        """The request rate's history, for a predictive policy's forecast."""
        self._latest: tuple[RateHistory, tuple[int, int], Latest] | None = None
        """The last forecast: the history it was made from, that history's extent, the forecast."""
        self.last_forecast: Forecast | None = None
        self.last_decision: Decision | None = None
        self.last_status: TargetStatus | None = None
        self._changed = asyncio.Event()
        self.paused_until: float | None = None
        self.pause_reason = ""
        self.paused_by: dict[str, str] | None = None
        """What paused autoscaling, for readers in any language: ``{"cause": "manual_scale"
        | "pause", "actor": ...}``; ``pause_reason`` says the same in English."""
        settings = service.target
        self.target: ScaleTarget
        self.rollouts: RolloutDriver | None = None
        if isinstance(settings, LocalTargetSettings):
            self.balancer = Balancer(service.name, service.balancer or BalancerSettings())
            self.recorder = BalancerRecorder(service.name, store)
            self.rollouts = RolloutDriver(
                service.name, settings, service.rollout, store=store, metric_source=metric_source, clock=clock
            )
            self.target = LocalTarget(
                service.name,
                self.rollouts.stable,
                store=store,
                clock=clock,
                emit=self._emit,
                probe_ready=self._probe_ready,
                in_flight=self.balancer.in_flight,
                on_change=self._on_change,
                log_dir=data_dir / "logs" / service.name,
                base_dir=base_dir,
            )
            self.rollouts.attach(self.target, self.balancer)
        else:
            self.target = CommandTarget(
                service.name, settings, clock=clock, emit=self._emit, store=store, base_dir=base_dir
            )

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        saved = self._store.get_state(self._state_key)
        if saved:
            self.state = ScalerState.from_dict(saved.get("engine", {}))
            self.paused_until = saved.get("paused_until")
            self.pause_reason = saved.get("pause_reason", "")
            self.paused_by = saved.get("paused_by")
        if self.balancer is not None:
            await self.balancer.start()
        await self.target.start()
        self._start_autoscale_loop()
        if self.rollouts is not None:
            await self.rollouts.started()
            self._spawn(
                run_loop(
                    "rollout",
                    self.rollouts.tick,
                    clock=self._clock,
                    interval_s=ROLLOUT_TICK_S,
                    offset_s=0.0,
                    stop=self._stop,
                    metrics=self._metrics,
                ),
                f"rollout {self.name}",
            )
        if self.recorder is not None:
            self._spawn(
                run_loop(
                    "balancer-stats",
                    self._record_balancer,
                    clock=self._clock,
                    interval_s=self._config.scrape.interval
                    if not self.service.scrape.interval
                    else self.service.scrape.interval,
                    offset_s=0.0,
                    stop=self._stop,
                    metrics=self._metrics,
                ),
                f"balancer stats {self.name}",
            )

    def _start_autoscale_loop(self) -> None:
        self._autoscale_stop = asyncio.Event()
        self._spawn(
            run_loop(
                "autoscale",
                self._tick,
                clock=self._clock,
                interval_s=self._interval,
                offset_s=0.0,
                stop=self._autoscale_stop,
                metrics=self._metrics,
            ),
            f"autoscale {self.name}",
        )

    def apply_autoscaling(self, settings: AutoscalingSettings | None) -> None:
        """Take a new ``autoscaling`` block (a config reload). The engine's state, a
        pause and the replicas stay: the next tick decides with the new policy, as an
        HPA whose spec was edited. A new interval restarts the loop on it; a changed
        predictive block starts its rate history afresh."""
        before, interval = self.service.autoscaling, self._interval
        self.service = self.service.model_copy(update={"autoscaling": settings})
        self.policy = compile_policy(settings) if settings else None
        old_predictive = before.predictive if before else None
        new_predictive = settings.predictive if settings else None
        if new_predictive != old_predictive:
            enabled = new_predictive is not None and new_predictive.enabled
            self._history = RateHistory(self.name, new_predictive.metric) if new_predictive and enabled else None
            self.last_forecast = None
        if self._interval != interval and not self._stop.is_set():
            self._autoscale_stop.set()
            self._start_autoscale_loop()

    async def apply_config(self, config: Config) -> None:
        """New ``scrape`` defaults (a reload): the replicas' scrape loops restart on
        them; the balancer's statistics keep the interval they started with."""
        before, self._config = self._config.scrape, config
        if config.scrape == before:
            return
        for key in list(self._scrapes):
            await self._stop_scrape(key)
        status = self.current_status()
        if status is not None:
            self._sync_scrapes(status)

    async def stop(self) -> None:
        self._stop.set()
        self._autoscale_stop.set()
        await self._tasks.stop()
        for key in list(self._scrapes):
            await self._stop_scrape(key)
        await self.target.stop()
        if self.balancer is not None:
            await self.balancer.stop()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.spawn(coro, name)

    def crashed(self) -> list[str]:
        return self._tasks.crashed()

    @property
    def _state_key(self) -> str:
        return f"autoscaler/{self.name}"

    @property
    def _interval(self) -> float:
        return self.service.autoscaling.interval if self.service.autoscaling else 15.0

    # --- the autoscaler ---------------------------------------------------------------
    async def _tick(self, scheduled: float) -> None:
        # One policy for the whole tick: a reload may swap it while this one awaits.
        policy, settings, history = self.policy, self.service.autoscaling, self._history
        if policy is None or settings is None or self._stop.is_set():
            return
        now = self._clock.now()
        if self.paused_until is not None and now >= self.paused_until:
            self._resume(now, "autoscaling resumed (pause expired)", "timer")
        status = await self.target.status()
        self.last_status = status
        problems: dict[str, QueryError] = {}
        observation = await self._observe(status, now, problems, settings, history)
        decision, state = decide(policy, self.state, observation, now)
        self.series_problems = {name: str(exc) for name, exc in problems.items()}
        if problems:
            decision = decision.with_reason(f"{decision.reason}; {_missing_note(problems, self._metric_source)}")
        paused = self.paused_until is not None
        self._record_decision(decision, paused)
        if paused:
            return
        if not decision.change:
            self._save(state)
            return
        if now < self._backoff_until:
            return
        async with self._act_lock:
            try:
                await self.target.scale(decision.replicas)
            except TargetError as exc:
                self._failures += 1
                delay = min(300.0, self._interval * 2 ** (self._failures - 1))
                self._backoff_until = now + delay
                self._emit(
                    Event(
                        to_ms(now),
                        EventKind.SCALE_FAILED,
                        f"{self.name}: scaling to {decision.replicas} failed: {exc}; retry in {delay:.0f}s",
                        self.name,
                        {
                            "replicas": decision.replicas,
                            "error": str(exc),
                            "transient": exc.transient,
                            "retry_in_seconds": delay,
                        },
                    )
                )
                return
        self._failures = 0
        self._backoff_until = 0.0
        self._save(state)
        self._emit(
            Event(
                to_ms(now),
                EventKind.SCALED,
                f"{self.name}: {decision.current} → {decision.replicas}: {decision.reason}",
                self.name,
                {"from": decision.current, "to": decision.replicas, "actor": "autoscaler", "reason": decision.reason},
            )
        )

    async def _observe(
        self,
        status: TargetStatus,
        now: float,
        problems: dict[str, QueryError],
        settings: AutoscalingSettings,
        history: RateHistory | None,
    ) -> Observation:
        # A canary's replicas are the rollout's to size, not the autoscaler's: it scales
        # the stable group, and sees it alone (the canary's share of traffic is not there).
        live = [r for r in status.replicas if r.state in _LIVE and r.group == STABLE]
        ctx = ReadContext(
            service=self.name,
            replicas=live,
            now_ms=to_ms(now),
            window_ms=to_ms(settings.window),
            cpu_limit_cores=self._resources()[0],
            memory_limit_bytes=self._resources()[1],
        )
        readings: dict[str, MetricReading | None] = await read_metrics(
            self._store, self._metric_source, settings.metrics, ctx, problems
        )
        # In a thread: the first read of a new history spans up to 15 days of samples.
        forecast = await asyncio.to_thread(self._forecast, now, settings, history) if history is not None else None
        self.last_forecast = forecast
        if status.replicas:
            return Observation(status.desired, {r.id: r.state is ReplicaState.READY for r in live}, readings, forecast)
        observation = Observation.of(
            status.desired, readings, ready=status.ready, unready=max(0, status.current - status.ready)
        )
        return replace(observation, forecast=forecast)

    def _forecast(self, now: float, autoscaling: AutoscalingSettings, history: RateHistory) -> Forecast:
        """The request rate forecast ``predictive.horizon`` ahead, from the stored
        history; remade only when a new minute of history is complete."""
        settings = autoscaling.predictive
        rates, first = history.update(self._store, to_ms(now))
        key = (first, rates.size)
        cached = self._latest
        if cached is None or cached[0] is not history or cached[1] != key:
            params = ForecastParams(horizon=settings.horizon, seasonality=Seasonality(settings.seasonality))
            cached = self._latest = (history, key, forecast_latest(rates, HISTORY_STEP_MS / 1000, params))
        latest = cached[2]
        return Forecast(latest.rps, now + settings.horizon, settings.horizon, latest.error, latest.history)

    def _resources(self) -> tuple[float | None, int | None]:
        t = self.service.target
        if isinstance(t, LocalTargetSettings):
            return t.resources.cpu, t.resources.memory
        return None, None

    def _record_decision(self, decision: Decision, paused: bool) -> None:
        previous = self.last_decision
        self.last_decision = decision
        # Every change is an event; an unchanged evaluation only when its reason differs
        # from the previous one, so a steady service does not write 5,760 events a day.
        if decision.change or previous is None or previous.reason != decision.reason:
            details = decision.to_dict() | {"paused": paused}
            self._emit(
                Event(
                    to_ms(decision.time),
                    EventKind.SCALING_DECISION,
                    f"{self.name}: {decision.reason}",
                    self.name,
                    details,
                )
            )

    def _save(self, state: ScalerState) -> None:
        self.state = state
        self._persist()

    def _persist(self) -> None:
        self._store.put_state(
            self._state_key,
            {
                "engine": self.state.to_dict(),
                "paused_until": self.paused_until,
                "pause_reason": self.pause_reason,
                "paused_by": self.paused_by,
                "last_decision": self.last_decision.to_dict() if self.last_decision else None,
            },
        )

    # --- people ------------------------------------------------------------------------
    async def scale(self, replicas: int, *, reason: str, actor: str, force: bool = False) -> TargetStatus:
        if replicas < 0:
            raise ControllerError("replicas must not be negative")
        if isinstance(self.target, LocalTarget) and replicas > LOCAL_REPLICA_LIMIT:
            # Every local replica is a process on this machine: a typo (600 for 60)
            # must not fork hundreds of them.
            raise ControllerError(
                f"{replicas} local replicas is more than this machine should run (at most {LOCAL_REPLICA_LIMIT})"
            )
        a = self.service.autoscaling
        if a is not None and replicas > a.max_replicas and not force:
            raise ControllerError(
                f"{replicas} is above autoscaling.max_replicas ({a.max_replicas}); "
                "scale with force to go beyond it on purpose"
            )
        now = self._clock.now()
        async with self._act_lock:
            before = await self.target.status()
            await self.target.scale(replicas)
        self.state = self.state.with_scale_event(now, before.desired, replicas)
        if self.policy is not None and self.service.autoscaling is not None:
            self.paused_until = now + self.service.autoscaling.manual_pause
            self.pause_reason = f"manual scale by {actor}"
            self.paused_by = {"cause": "manual_scale", "actor": actor}
        self._persist()
        self._emit(
            Event(
                to_ms(now),
                EventKind.MANUAL_SCALE,
                f"{self.name}: {before.desired} → {replicas} by {actor}: {reason}",
                self.name,
                {
                    "from": before.desired,
                    "to": replicas,
                    "actor": actor,
                    "reason": reason,
                    "autoscaling_paused_until": self.paused_until,
                },
            )
        )
        return await self.target.status()

    def pause(self, *, seconds: float | None, reason: str, actor: str) -> None:
        now = self._clock.now()
        self.paused_until = now + seconds if seconds else float("inf")
        self.pause_reason = reason
        self.paused_by = {"cause": "pause", "actor": actor}
        self._persist()
        until = "until resumed" if seconds is None else f"for {seconds:.0f}s"
        self._emit(
            Event(
                to_ms(now),
                EventKind.AUTOSCALING_PAUSED,
                f"{self.name}: autoscaling paused {until} by {actor}: {reason}",
                self.name,
                {"actor": actor, "reason": reason, "seconds": seconds},
            )
        )

    def resume(self, *, actor: str) -> None:
        self._resume(self._clock.now(), f"autoscaling resumed by {actor}", actor)

    def _resume(self, now: float, message: str, actor: str) -> None:
        self.paused_until = None
        self.pause_reason = ""
        self.paused_by = None
        self._persist()
        self._emit(
            Event(to_ms(now), EventKind.AUTOSCALING_RESUMED, f"{self.name}: {message}", self.name, {"actor": actor})
        )

    # --- replicas, balancer, scrapes ---------------------------------------------------
    def _emit(self, event: Event) -> None:
        self._store.add_event(event)

    async def _probe_ready(self, replica: Replica) -> bool:
        assert self.rollouts is not None
        readiness = self.rollouts.settings_for(replica.revision).readiness
        if replica.port is None:
            return False
        if isinstance(readiness, HTTPReadiness):
            result = await self._prober.probe(
                f"http://{replica.host}:{replica.port}{readiness.path}", timeout_s=readiness.timeout
            )
        else:
            result = await probe_tcp(replica.host, replica.port, timeout_s=readiness.timeout)
        return result.success

    async def wait_ready(self, count: int) -> None:
        """Wait until at least ``count`` replicas are ready (bound it with
        ``asyncio.timeout``)."""
        while (status := self.current_status()) is None or status.ready < count:
            self._changed.clear()
            await self._changed.wait()

    def _on_change(self, status: TargetStatus) -> None:
        self._changed.set()
        if self.balancer is not None:
            self.balancer.set_backends(
                [
                    Backend(r.id, r.host, r.port, r.group)
                    for r in status.replicas
                    if r.state is ReplicaState.READY and r.port is not None
                ]
            )
        self._sync_scrapes(status)

    def _sync_scrapes(self, status: TargetStatus) -> None:
        if self.rollouts is None or (settings := self.rollouts.stable).metrics_path is None:
            return
        wanted = {
            (r.id, r.port): r
            for r in status.replicas
            if r.port is not None and r.state in (ReplicaState.READY, ReplicaState.DRAINING)
        }
        for key in [k for k in self._scrapes if k not in wanted]:
            asyncio.get_running_loop().create_task(self._stop_scrape(key))
        for key, replica in wanted.items():
            if key not in self._scrapes:
                self._start_scrape(key, replica, settings.metrics_path)

    def _start_scrape(self, key: tuple[str, int], replica: Replica, path: str) -> None:
        cfg, svc = self._config, self.service
        interval = svc.scrape.interval or cfg.scrape.interval
        instance = f"{replica.host}:{replica.port}"
        labels = make_labels(
            None,
            {**svc.labels, "job": svc.name, "instance": instance, "service": svc.name, "replica": str(replica.index)},
        )
        target = ScrapeTarget(
            svc.name,
            f"http://{instance}{path}",
            instance,
            str(replica.index),
            interval,
            min(svc.scrape.timeout or cfg.scrape.timeout, interval),
            cfg.scrape.body_size_limit,
            cfg.scrape.sample_limit,
            labels,
        )
        loop = ScrapeLoop(target, fetcher=self._fetcher, store=self._store, clock=self._clock, metrics=self._metrics)
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(loop.run(stop), name=f"scrape {target.key}")
        self._scrapes[key] = _ReplicaScrape(loop, task, stop)

    async def _stop_scrape(self, key: tuple[str, int]) -> None:
        scrape = self._scrapes.pop(key, None)
        if scrape is None:
            return
        scrape.stop.set()
        scrape.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await scrape.task

    def scrape_loops(self) -> list[ScrapeLoop]:
        return [s.loop for s in self._scrapes.values()]

    def _replicas(self) -> tuple[Replica, ...]:
        """The local target's replicas right now (a command target has none to show)."""
        return self.target.snapshot().replicas if isinstance(self.target, LocalTarget) else ()

    def processes(self) -> list[WatchedProcess]:
        """The replicas' processes, for CPU and memory readings."""
        return [WatchedProcess(self.name, str(r.index), pid=r.pid) for r in self._replicas() if r.pid is not None]

    async def _record_balancer(self, scheduled: float) -> None:
        if self.balancer is None or self.recorder is None:
            return
        index = {r.id: r.index for r in self._replicas()}
        self.recorder.record(self.balancer.stats(), index, to_ms(self._clock.now()))

    # --- state for people ----------------------------------------------------------------
    def current_status(self) -> TargetStatus | None:
        """The target's status as last seen, without asking it again (a command
        target's status runs a command)."""
        if isinstance(self.target, LocalTarget):
            return self.target.snapshot()
        return self.last_status

    def describe(self) -> dict[str, Any]:
        status = self.current_status()
        out: dict[str, Any] = {
            "name": self.name,
            "target": self.target.kind,
            "replicas": None
            if status is None
            else {"desired": status.desired, "current": status.current, "ready": status.ready},
            "replica_list": [
                {
                    "id": r.id,
                    "index": r.index,
                    "state": r.state.value,
                    "pid": r.pid,
                    "port": r.port,
                    "restarts": r.restarts,
                    "last_exit": r.last_exit,
                    "group": r.group,
                    "revision": r.revision,
                }
                for r in (status.replicas if status else ())
            ],
            "autoscaling": None,
        }
        if self.service.autoscaling is not None:
            a = self.service.autoscaling
            out["autoscaling"] = {
                "min_replicas": a.min_replicas,
                "max_replicas": a.max_replicas,
                "mode": a.mode,
                "interval_seconds": a.interval,
                "paused": self.paused_until is not None,
                "paused_until": self.paused_until if self.paused_until != float("inf") else None,
                "pause_reason": self.pause_reason,
                "paused_by": self.paused_by,
                "last_decision": self.last_decision.to_dict() if self.last_decision else None,
                "metric_source": self._metric_source.name,
                "missing_series": dict(self.series_problems),
                "forecast": self.last_forecast.to_dict() if self.last_forecast else None,
            }
        if self.rollouts is not None:
            out["rollout"] = self.rollouts.describe()
            out["revision"] = template_revision(self.rollouts.stable)
        if self.balancer is not None:
            with contextlib.suppress(BalancerStateError):  # not started yet
                host, port = self.balancer.address
                out["balancer"] = {"address": f"{host}:{port}"}
        return out


def _missing_note(problems: dict[str, QueryError], source: MetricSource) -> str:
    """Why readings are missing, for a decision's reason. Kept free of the error text so
    an outage of an hour is one decision event, not one per changing message; the
    ``metric_source_down`` event and ``/status`` carry the details."""
    down = sorted(name for name, exc in problems.items() if exc.kind == "unavailable")
    failed = sorted(name for name, exc in problems.items() if exc.kind != "unavailable")
    parts = []
    if down:
        parts.append(f"metric source {source.name} down: no reading for {', '.join(down)}")
    if failed:
        parts.append(f"query failed for {', '.join(failed)}")
    return "; ".join(parts)
