"""Alerting and recording rules inside ``scalepilot run``.

Each rule group runs on its own loop at ``k × interval + offset`` (the offset being
Prometheus's hash of the group's file and name, so groups spread out and keep their
phase across restarts). A cycle evaluates the group in a worker thread against the
embedded store — recording rules write their series back into it, alerting rules write
``ALERTS`` / ``ALERTS_FOR_STATE`` — then saves the group's alert state in the store and
hands the alerts due for (re)sending to notification routing.

Restart: the saved state is restored before the first cycle (see
:meth:`~scalepilot.control.alerting.rules.group.GroupEvaluator.restore`), so ``for``
timers carry on and alerts that were sent recently are not sent again in a burst.

Metrics in ``/metrics`` mirror Prometheus's rule-manager metrics, prefixed
``scalepilot_``: evaluation duration, evaluations and failures per group, each group's
last duration, interval, last evaluation time, rule count and missed iterations.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from scalepilot.config.models import Config
from scalepilot.config.rules import RuleIssue, expand_rule_files, load_rule_file, load_rule_text
from scalepilot.control.alerting.rules.alerting import Sample
from scalepilot.control.alerting.rules.builtin import (
    BUILTIN_FILE,
    CRASH_LOOPS,
    REPLICAS_DESIRED,
    REPLICAS_MAX,
    ServiceShape,
    builtin_rule_file,
)
from scalepilot.control.alerting.rules.compile import compile_file, sort_issues
from scalepilot.control.alerting.rules.group import GroupEvaluator, GroupOutcome, Querier
from scalepilot.control.alerting.rules.model import RuleGroup
from scalepilot.domain.alerts import Alert
from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.events import EventKind
from scalepilot.domain.labels import make_labels
from scalepilot.domain.store import Store
from scalepilot.service.loops import Tasks, run_loop
from scalepilot.service.selfmetrics import SelfMetrics

log = logging.getLogger(__name__)

STATE_PREFIX = "rules/"


# --- loading --------------------------------------------------------------------------------
def load_rule_groups(paths: Sequence[Path], default_interval_ms: int) -> tuple[list[RuleGroup], list[RuleIssue]]:
    """Load and compile rule files; every problem of every file, in promtool's order.
    A rule with a problem is left out; the rest of its group still runs."""
    groups: list[RuleGroup] = []
    issues: list[RuleIssue] = []
    for path in paths:
        spec, found = load_rule_file(path)
        compiled, more = compile_file(spec, found, default_interval_ms)
        groups.extend(compiled)
        issues.extend(sort_issues([*found, *more]))
    return groups, issues


def builtin_groups(cfg: Config, default_interval_ms: int) -> list[RuleGroup]:
    text = builtin_rule_file(service_shapes(cfg), cfg.alert_rules.builtin)
    spec, found = load_rule_text(text, BUILTIN_FILE)
    groups, more = compile_file(spec, found, default_interval_ms)
    if found or more:  # pragma: no cover - a bug in the generator, not the user's doing
        raise RuntimeError("built-in rules do not compile: " + "; ".join(str(i) for i in [*found, *more]))
    return groups


def service_shapes(cfg: Config) -> list[ServiceShape]:
    from scalepilot.config.targets import LocalTargetSettings

    out = []
    for svc in cfg.services:
        local = isinstance(svc.target, LocalTargetSettings)
        cpu = mem = None
        if isinstance(svc.target, LocalTargetSettings):
            cpu, mem = svc.target.resources.cpu, svc.target.resources.memory
        out.append(
            ServiceShape(
                svc.name,
                cpu_limit_cores=cpu,
                memory_limit_bytes=mem,
                autoscaling=svc.autoscaling is not None and svc.target is not None,
                scraped=bool(svc.scrape.endpoints) or local,
                balanced=local,
                replicas=local,
            )
        )
    return out


# --- metrics ----------------------------------------------------------------------------------
class RuleMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        group = ["rule_group"]
        self.duration = Histogram(
            "scalepilot_rule_evaluation_duration_seconds",
            "How long one rule took to evaluate (Prometheus: prometheus_rule_evaluation_duration_seconds).",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0),
            registry=r,
        )
        self.evaluations = Counter("scalepilot_rule_evaluations", "Rule evaluations, by group.", group, registry=r)
        self.failures = Counter(
            "scalepilot_rule_evaluation_failures", "Rule evaluations that failed, by group.", group, registry=r
        )
        self.last_duration = Gauge(
            "scalepilot_rule_group_last_duration_seconds", "How long the group's last cycle took.", group, registry=r
        )
        self.interval = Gauge(
            "scalepilot_rule_group_interval_seconds", "The group's evaluation interval.", group, registry=r
        )
        self.last_evaluation = Gauge(
            "scalepilot_rule_group_last_evaluation_timestamp_seconds",
            "When the group last ran (its slot, Unix seconds).",
            group,
            registry=r,
        )
        self.rules = Gauge("scalepilot_rule_group_rules", "Rules in the group.", group, registry=r)
        self.missed = Counter(
            "scalepilot_rule_group_iterations_missed",
            "Cycles skipped because the previous one ran past its slot.",
            group,
            registry=r,
        )
        self.samples = Gauge(
            "scalepilot_rule_group_last_samples", "Samples the group's last cycle wrote.", group, registry=r
        )
        self.reload_success = Gauge(
            "scalepilot_rules_last_reload_successful",
            "Whether the last load or reload of the rule files succeeded (1) or was refused (0).",
            registry=r,
        )
        self.reload_time = Gauge(
            "scalepilot_rules_last_reload_success_timestamp_seconds",
            "When the rule files were last loaded successfully.",
            registry=r,
        )


# --- the loop ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ServiceFacts:
    desired_replicas: int | None
    max_replicas: int | None


class RuleEvaluation:
    def __init__(
        self,
        cfg: Config,
        *,
        store: Store,
        querier: Querier,
        clock: Clock,
        metrics: SelfMetrics,
        base_dir: Path,
        on_alerts: Callable[[list[Alert]], None] | None = None,
        on_pending: Callable[[list[Alert]], None] | None = None,
        service_facts: Callable[[], Mapping[str, ServiceFacts]] | None = None,
        external_url: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.querier = querier
        self.clock = clock
        self.selfmetrics = metrics
        self.metrics = RuleMetrics(metrics.registry)
        self.base_dir = base_dir
        self.on_alerts = on_alerts
        self.on_pending = on_pending
        self.service_facts = service_facts
        self.external_url = external_url
        self.evaluators: list[GroupEvaluator] = []
        self.issues: list[RuleIssue] = []
        self.warnings: list[str] = []
        self._pending: dict[str, list[Alert]] = {}
        self._last_slot: dict[str, int] = {}
        self._stop: asyncio.Event | None = None
        self._generation: asyncio.Event | None = None
        self._tasks: Tasks | None = None
        self._reload_lock = asyncio.Lock()

    # --- setup ------------------------------------------------------------------------
    def load(self) -> None:
        """Load rule files and the built-in pack and restore saved state. Problems in
        users' files are logged and those rules skipped (``scalepilot check`` and
        ``scalepilot run`` refuse them before a start)."""
        groups, self.issues, self.warnings = self._read_groups()
        for w in self.warnings:
            log.warning("%s", w)
        for issue in self.issues:
            log.error("rule file: %s", issue)
        now_ms = to_ms(self.clock.now())
        for g in groups:
            ev = self._evaluator(g)
            saved = self.store.get_state(STATE_PREFIX + g.key)
            if saved is not None:
                restored = ev.restore(saved, now_ms)
                if restored:
                    log.info("rule group %s: restored %d alerts", g.key, restored)
            self.evaluators.append(ev)
        self._set_group_metrics()
        self.metrics.reload_success.set(1)
        self.metrics.reload_time.set(now_ms / 1000)

    def _read_groups(self) -> tuple[list[RuleGroup], list[RuleIssue], list[str]]:
        cfg = self.cfg
        interval_ms = round(cfg.evaluation_interval * 1000)
        paths, warnings = expand_rule_files(list(cfg.rule_files), self.base_dir)
        groups, issues = load_rule_groups(paths, interval_ms)
        groups.extend(builtin_groups(cfg, interval_ms))
        return groups, issues, warnings

    def _evaluator(self, g: RuleGroup) -> GroupEvaluator:
        ar = self.cfg.alert_rules
        return GroupEvaluator(
            g,
            external_labels=ar.external_labels,
            external_url=self.external_url,
            resend_delay_ms=round(ar.resend_delay * 1000),
            for_grace_period_ms=round(ar.for_grace_period * 1000),
        )

    def _set_group_metrics(self) -> None:
        for metric in (self.metrics.interval, self.metrics.rules):
            metric.clear()
        for ev in self.evaluators:
            g = ev.group
            self.metrics.interval.labels(g.key).set(g.interval_ms / 1000)
            self.metrics.rules.labels(g.key).set(len(g.rules))

    # --- reload -------------------------------------------------------------------------
    async def reload(self) -> list[RuleIssue]:
        """Re-read the rule files (``SIGHUP``, ``POST /-/reload``), as Prometheus does:
        if any file has a problem nothing changes and the problems are returned; else
        the group loops restart on the new groups, rules that stayed keep their state
        (pending timers, firing alerts, their last send), and the series of removed
        rules get stale markers at once."""
        async with self._reload_lock:
            groups, issues, warnings = await asyncio.to_thread(self._read_groups)
            for w in warnings:
                log.warning("%s", w)
            if issues:
                for issue in issues:
                    log.error("rule reload refused: %s", issue)
                self.metrics.reload_success.set(0)
                return issues
            await self._stop_loops()  # lets a cycle in progress finish first
            old = {ev.group.key: ev for ev in self.evaluators}
            evaluators = []
            stale = []
            for g in groups:
                ev = self._evaluator(g)
                previous = old.pop(g.key, None)
                if previous is not None:
                    stale += previous.stale_series(ev.copy_state(previous))
                evaluators.append(ev)
            for gone in old.values():
                stale += gone.stale_series()
                self.store.delete_state(STATE_PREFIX + gone.group.key)
                self._pending.pop(gone.group.key, None)
            now_ms = to_ms(self.clock.now())
            self._write(stale, now_ms)
            self.evaluators = evaluators
            self.issues, self.warnings = [], warnings
            self._set_group_metrics()
            self.metrics.reload_success.set(1)
            self.metrics.reload_time.set(now_ms / 1000)
            log.info(
                "rules reloaded: %d groups, %d rules", len(evaluators), sum(len(e.group.rules) for e in evaluators)
            )
            if self._stop is not None and not self._stop.is_set():
                self._start_loops()
            return []

    def start(self, stop: asyncio.Event, on_crash: Callable[[str, BaseException], None]) -> None:
        """One loop per group until ``stop`` is set (or a reload replaces them)."""
        self._stop = stop
        self._tasks = Tasks(on_crash)
        self._start_loops()

    def _start_loops(self) -> None:
        assert self._stop is not None and self._tasks is not None
        # The loops of this generation stop on the runtime's stop or on a reload.
        generation = asyncio.Event()
        self._generation = generation
        stop = self._stop

        async def follow_stop() -> None:
            waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(generation.wait())}
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
            generation.set()

        self._tasks.spawn(follow_stop(), "rules stop")
        for ev in self.evaluators:
            g = ev.group

            async def tick(scheduled: float, ev: GroupEvaluator = ev) -> None:
                await self.run_cycle(ev, to_ms(scheduled))

            loop = run_loop(
                f"rules {g.key}",
                tick,
                clock=self.clock,
                interval_s=g.interval_ms / 1000,
                offset_s=g.offset_ms / 1000,
                stop=generation,
                metrics=self.selfmetrics,
            )
            self._tasks.spawn(loop, f"rules {g.key}")

    async def _stop_loops(self) -> None:
        if self._tasks is None or self._generation is None:
            return
        self._generation.set()
        await self._tasks.drain()

    async def stop(self) -> None:
        if self._tasks is not None:
            await self._tasks.stop()

    def crashed(self) -> list[str]:
        return self._tasks.crashed() if self._tasks is not None else []

    # --- one cycle --------------------------------------------------------------------------
    async def run_cycle(self, ev: GroupEvaluator, now_ms: int) -> GroupOutcome:
        ts = ev.group.eval_timestamp(now_ms)
        key = ev.group.key
        last = self._last_slot.get(key)
        if last is not None and ts - last > ev.group.interval_ms:
            self.metrics.missed.labels(key).inc((ts - last) // ev.group.interval_ms - 1)
        self._last_slot[key] = ts
        outcome = await asyncio.to_thread(self.evaluate, ev, ts)
        self.deliver(key, outcome)
        return outcome

    def evaluate(self, ev: GroupEvaluator, ts_ms: int) -> GroupOutcome:
        """One cycle of one group at slot ``ts_ms`` (in a worker thread)."""
        if ev.group.file == BUILTIN_FILE:
            self._write_service_facts(ts_ms)
        outcome = ev.evaluate(ts_ms, self.querier, self._write)
        self.store.put_state(STATE_PREFIX + ev.group.key, ev.snapshot())
        key = ev.group.key
        for rule, seconds in outcome.rule_durations:
            self.metrics.duration.observe(seconds)
            del rule
        self.metrics.evaluations.labels(key).inc(len(ev.group.rules))
        if outcome.failures:
            self.metrics.failures.labels(key).inc(outcome.failures)
            for i, rule in enumerate(ev.group.rules):
                if ev.status[i].health == "err":
                    log.warning("rule %s in %s: %s", rule.name, key, ev.status[i].last_error)
        self.metrics.last_duration.labels(key).set(outcome.duration_s)
        self.metrics.last_evaluation.labels(key).set(ts_ms / 1000)
        self.metrics.samples.labels(key).set(outcome.samples_written)
        return outcome

    def deliver(self, key: str, outcome: GroupOutcome) -> None:
        if outcome.to_send and self.on_alerts is not None:
            self.on_alerts(outcome.to_send)
        self._pending[key] = outcome.pending
        if self.on_pending is not None:
            self.on_pending([a for alerts in self._pending.values() for a in alerts])

    def _write(self, samples: Sequence[Sample], ts_ms: int) -> None:
        if not samples:
            return
        ids = self.store.series_ids([labels for labels, _ in samples])
        self.store.append(ids, ts_ms, [v for _, v in samples])

    def _write_service_facts(self, ts_ms: int) -> None:
        """The series the built-in crash-loop and capacity rules read, which no scrape
        produces: crash-loop events in the window, desired and maximum replicas."""
        facts = self.service_facts() if self.service_facts is not None else {}
        samples: list[Sample] = []
        for svc in self.cfg.services:
            pack = self.cfg.alert_rules.builtin.for_service(svc.name)
            if pack.crash_loop.enabled:
                since = ts_ms - round(pack.crash_loop.window * 1000)
                loops = self.store.events(
                    since_ms=since, kinds=[EventKind.REPLICA_CRASH_LOOP], service=svc.name, limit=1000
                )
                samples.append((make_labels(CRASH_LOOPS, {"service": svc.name}), float(len(loops))))
            f = facts.get(svc.name)
            if f is not None and f.desired_replicas is not None and f.max_replicas is not None:
                samples.append((make_labels(REPLICAS_DESIRED, {"service": svc.name}), float(f.desired_replicas)))
                samples.append((make_labels(REPLICAS_MAX, {"service": svc.name}), float(f.max_replicas)))
        self._write([(labels, v) for labels, v in samples if math.isfinite(v)], ts_ms)

    # --- for people -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        groups = []
        for ev in self.evaluators:
            rules = []
            for i, rule in enumerate(ev.group.rules):
                st = ev.status[i]
                rules.append(
                    {"name": rule.name, "health": st.health, "last_error": st.last_error, "duration_s": st.duration_s}
                )
            groups.append(
                {
                    "name": ev.group.name,
                    "file": ev.group.file,
                    "interval_s": ev.group.interval_ms / 1000,
                    "last_eval_ms": ev.last_eval_ms,
                    "last_duration_s": ev.last_duration_s,
                    "rules": rules,
                }
            )
        return {"groups": groups, "problems": [str(i) for i in self.issues]}
