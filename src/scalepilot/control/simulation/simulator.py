"""Replay a trace through a scaling policy: the live engine on a virtual clock.

Every ``autoscaling.interval`` of simulated time the simulator calls
``control.scaling.decide`` — the function the live ``ServiceController`` calls — with an
:class:`~scalepilot.domain.scaling.Observation` built the way the live loop builds one:

* **the target** honours the startup delay: a scale-up's replicas exist (and are paid
  for) at once but are ready only ``startup_delay`` later; a scale-down removes starting
  replicas first (as a ReplicaSet deletes not-ready pods first), then ready ones, at once;
* **the metrics** are sampled every ``scrape_interval`` and read as the mean over the
  policy's ``window`` of samples, as ``rate(...[window])`` over a counter would read, so a
  reading lags the load as it does live. Each sample is the mean over its scrape
  interval of: per-replica CPU utilisation = load ÷ (ready × replica_rps), capped at 100 %
  (a saturated CPU reads full however much work queues); per-replica request rate =
  load ÷ ready (the balancer counts every request it routes, served or queued); and the
  service's request rate. Every ready replica reports the same value (the balancer
  shares the load evenly); starting replicas report nothing and the engine sets them
  aside, as it does live.

Metric kinds map onto those signals: ``cpu`` → per-replica utilisation, ``rps`` →
per-replica rate (the service total at zero replicas, as the live balancer reads it),
``series`` → the service's request rate (the usual KEDA/Prometheus query,
``sum(rate(requests_total[1m]))``). Memory, in-flight and latency metrics have no model
here yet and are refused.

A policy with ``predictive`` also gets a request-rate forecast in each observation: the
forecast made at the start of the current step from the steps before it only
(``control.forecast.forecast_series``, computed once per run), as the live loop makes it
from the complete minutes in the store.

Time advances in ticks of the greatest common divisor of the step, the decision interval
and the scrape interval (15 s by default), so every event falls on a tick. Nothing is
random: the same trace and settings give the same numbers.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.forecast import ForecastParams, Seasonality, forecast_series
from scalepilot.control.scaling import compile_policy, decide
from scalepilot.control.scaling.policy import MetricSpec
from scalepilot.control.simulation.model import Report, Run, ServiceModel
from scalepilot.control.simulation.oracle import needed_replicas
from scalepilot.control.simulation.trace import Trace
from scalepilot.domain.scaling import Forecast, MetricReading, Observation, ScalerState, TargetType

Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all) now and then during a run."""

_CPU, _RPS, _TOTAL = 0, 1, 2
_PROGRESS_EVERY = 1440


class UnsupportedPolicy(ValueError):
    """The policy uses something the simulator cannot model (a metric kind, a timing)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """One decision of a run: the engine's inputs and the count it chose."""

    now: float
    observation: Observation
    replicas: int


def _source(spec: MetricSpec) -> int:
    if spec.kind == "cpu":
        return _CPU
    if spec.kind == "rps":
        return _RPS
    if spec.kind == "series" and spec.target_type is not TargetType.UTILIZATION:
        return _TOTAL
    raise UnsupportedPolicy(
        f"metric {spec.name!r} ({spec.kind}) has no model in the simulator: use cpu, rps, or a series "
        "(read as the service's request rate)"
    )


def modelled_part(settings: AutoscalingSettings) -> tuple[AutoscalingSettings | None, list[str]]:
    """``settings`` without the metrics the simulator has no model of, and how to call
    those (``p95 (latency)``); None when no metric would be left."""
    unmodelled: dict[str, str] = {}
    for spec in compile_policy(settings).metrics:
        try:
            _source(spec)
        except UnsupportedPolicy:
            unmodelled[spec.name] = spec.name if spec.name == spec.kind else f"{spec.name} ({spec.kind})"
    if not unmodelled:
        return settings, []
    kept = [m for m in settings.metrics if m.metric_name not in unmodelled]
    if not kept:
        return None, list(unmodelled.values())
    return settings.model_copy(update={"metrics": kept}), list(unmodelled.values())


def _whole_seconds(value: float, what: str) -> int:
    if value <= 0 or abs(value - round(value)) > 1e-9:
        raise UnsupportedPolicy(f"{what} must be a whole number of seconds greater than 0, got {value:g}")
    return round(value)


def _mean(buf: deque[float | None]) -> float | None:
    if None not in buf:
        # sum() adds the floats left to right from 0, as the loop below does: the
        # same result, without a Python-level loop at every decision.
        return sum(buf) / len(buf) if buf else None  # type: ignore[arg-type]  # no None, checked
    total = 0.0
    n = 0
    for v in buf:
        if v is not None:
            total += v
            n += 1
    return total / n if n else None


def _forecasts(settings: AutoscalingSettings, load: np.ndarray, step_s: int) -> tuple[list[float], list[float]] | None:
    """For a predictive policy, the forecast made at the start of each step from the
    steps before it only (prediction, recent error), computed once for the whole run."""
    p = settings.predictive
    if not p.enabled:
        return None
    params = ForecastParams(horizon=p.horizon, seasonality=Seasonality(p.seasonality))
    series = forecast_series(load, float(step_s), params)
    return series.predicted.tolist(), series.error.tolist()


def simulate(
    name: str,
    settings: AutoscalingSettings,
    trace: Trace,
    model: ServiceModel,
    *,
    step: float,
    initial: int | None = None,
    record: list[Recorded] | None = None,
    progress: Progress | None = None,
) -> Run:
    """Replay ``trace`` (at ``step`` resolution, see ``Trace.resample``) through the
    policy ``settings`` describe. ``initial`` replicas are running and ready at the
    start (default: what the first step's load needs, within min and max). With
    ``record``, every decision's inputs and output are appended to it."""
    policy = compile_policy(settings)
    sources = [(spec.name, _source(spec)) for spec in policy.metrics]
    step_s = _whole_seconds(step, "the step")
    interval_s = _whole_seconds(settings.interval, "autoscaling.interval")
    scrape_s = _whole_seconds(model.scrape_interval, "the scrape interval")
    dt = math.gcd(math.gcd(step_s, interval_s), scrape_s)
    ticks_per_step = step_s // dt
    decide_every = interval_s // dt
    scrape_every = scrape_s // dt
    window_samples = max(1, round(settings.window / scrape_s))
    cap = model.replica_rps
    delay = model.startup_delay
    load = trace.rps
    n_steps = load.size
    t0 = trace.start

    forecast_at = _forecasts(settings, load, step_s)
    horizon = settings.predictive.horizon

    if initial is None:
        initial = int(needed_replicas(load[:1], cap)[0])
    spec = ready = max(policy.min_replicas, min(policy.max_replicas, initial))
    if settings.scale_to_zero.enabled and initial == 0:
        spec = ready = 0
    starting = 0
    pending: deque[list[float]] = deque()  # [ready_at, count], oldest first
    state = ScalerState()
    actions = 0

    # The service has been running at the initial count: fill the windows as if so.
    first = float(load[0])
    util_buf: deque[float | None] = deque(maxlen=window_samples)
    per_buf: deque[float | None] = deque(maxlen=window_samples)
    tot_buf: deque[float] = deque(maxlen=window_samples)
    for _ in range(window_samples):
        util_buf.append(min(1.0, first / (ready * cap)) if ready else None)
        per_buf.append(first / ready if ready else None)
        tot_buf.append(first)
    acc_util = acc_per = acc_tot = 0.0
    acc_ready_ticks = acc_ticks = 0

    provisioned = np.empty(n_steps)
    ready_mean = np.empty(n_steps)
    violated = np.zeros(n_steps, dtype=np.bool_)
    overload = 0.0
    ids = [str(i) for i in range(policy.max_replicas + 1)]
    ready_ids = [tuple(ids[:n]) for n in range(policy.max_replicas + 1)]
    replica_maps: dict[tuple[int, int], dict[str, bool]] = {}

    for s in range(n_steps):
        load_s = float(load[s])
        prov_sum = ready_sum = 0
        over_s = 0.0
        base = s * ticks_per_step
        for k in range(ticks_per_step):
            i = base + k
            now = t0 + i * dt
            while pending and pending[0][0] <= now:
                ready += int(pending.popleft()[1])
                starting = spec - ready
            if i % scrape_every == 0 and acc_ticks:
                util_buf.append(acc_util / acc_ready_ticks if acc_ready_ticks else None)
                per_buf.append(acc_per / acc_ready_ticks if acc_ready_ticks else None)
                tot_buf.append(acc_tot / acc_ticks)
                acc_util = acc_per = acc_tot = 0.0
                acc_ready_ticks = acc_ticks = 0
            if i % decide_every == 0:
                key = (ready, starting)
                replicas = replica_maps.get(key)
                if replicas is None:
                    replicas = {ids[j]: j < ready for j in range(ready + starting)}
                    replica_maps[key] = replicas
                readings: dict[str, MetricReading | None] = {}
                for metric, source in sources:
                    if source == _TOTAL or (source == _RPS and ready == 0):
                        readings[metric] = MetricReading(value=sum(tot_buf) / len(tot_buf))
                        continue
                    value = _mean(util_buf if source == _CPU else per_buf)
                    if value is None or ready == 0:
                        readings[metric] = None
                        continue
                    if source == _CPU:
                        value *= 100.0
                    readings[metric] = MetricReading(per_replica=dict.fromkeys(ready_ids[ready], value))
                forecast = None
                if forecast_at is not None:
                    rps, err = forecast_at[0][s], forecast_at[1][s]
                    forecast = Forecast(
                        None if math.isnan(rps) else float(rps),
                        now + horizon,
                        horizon,
                        None if math.isnan(err) else float(err),
                        float(s * step_s),
                    )
                observation = Observation(spec, replicas, readings, forecast)
                decision, state = decide(policy, state, observation, now)
                new = decision.replicas
                if record is not None:
                    record.append(Recorded(now, observation, new))
                if new != spec:
                    actions += 1
                    if new > spec:
                        if delay <= 0:
                            ready += new - spec
                        else:
                            pending.append([now + delay, float(new - spec)])
                    else:
                        remove = spec - new
                        while remove and pending:  # the newest starting replicas go first
                            take = min(remove, int(pending[-1][1]))
                            pending[-1][1] -= take
                            remove -= take
                            if pending[-1][1] == 0:
                                pending.pop()
                        ready -= remove
                    spec = new
                    starting = spec - ready
            capacity = ready * cap
            if load_s > capacity:
                over_s += (load_s - capacity) * dt
            prov_sum += spec
            ready_sum += ready
            acc_ticks += 1
            acc_tot += load_s
            if ready:
                acc_ready_ticks += 1
                utilization = load_s / capacity
                acc_util += utilization if utilization < 1.0 else 1.0  # min(1.0, ...) without the call
                acc_per += load_s / ready
        provisioned[s] = prov_sum / ticks_per_step
        ready_mean[s] = ready_sum / ticks_per_step
        if over_s > 0:
            violated[s] = True
            overload += over_s
        if progress is not None and (s + 1) % _PROGRESS_EVERY == 0:
            progress(s + 1, n_steps)
    if progress is not None:
        progress(n_steps, n_steps)

    replica_hours = float(provisioned.sum()) * step_s / 3600.0
    report = Report(
        slo_violation_minutes=float(np.count_nonzero(violated)) * step_s / 60.0,
        replica_hours=replica_hours,
        cost=replica_hours * model.cost_per_replica_hour,
        scaling_actions=actions,
        overload_requests=overload,
    )
    return Run(name, report, provisioned, ready_mean, violated)
