"""``decide()``: one autoscaling decision, pure and cheap.

The steps, in order (each that changes the count is recorded as a ``Limit``):

1. **Paused.** At 0 replicas with scale to zero off, nothing is decided: someone scaled
   the service to zero by hand (the HPA's implicit maintenance mode).
2. **Metrics.** Each metric proposes a count (``hpa`` or ``thresholds``). The raw
   proposal is the largest bare-formula count; the HPA's tolerance and missing-replica
   rules turn it into the metrics' proposal (limit *tolerance* / *missing*).
3. **Unreadable metrics.** If every metric is unreadable, the count stays; if some are
   and the others would scale down, it stays too (limit *invalid*); the HPA skips the
   rest of the steps then, and so do we, except schedules.
4. **Out of range.** A count above ``max_replicas`` or below ``min_replicas`` goes
   straight to the bound, whatever the metrics say (as the HPA).
5. **Stabilization and rate policies** (mode hpa), then the **min/max clamp**.
6. **Cooldown** (mode threshold).
   With ``predictive`` (before step 5): a forecast asking for more than both the
   metrics' proposal and the current count raises the proposal (limit *predictive*);
   it never lowers it, so scaling in follows the metrics alone (``predictive.py``).
7. **Schedule**: an open window's minimum raises the count.
8. **Scale to zero**: after ``scale_to_zero.cooldown`` of idleness, from the floor
   (``min_replicas``), 0. At 0 replicas, the service wakes when a metric passes its
   activation value.

The returned state assumes the decision is carried out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache, partial

from scalepilot.config.durations import format_duration
from scalepilot.control.scaling.behavior import scale_down_limit, scale_up_limit, stabilize, trim
from scalepilot.control.scaling.hpa import OK, TOLERANCE, hpa_outcome
from scalepilot.control.scaling.policy import Policy, RatePolicy
from scalepilot.control.scaling.predictive import raise_on_forecast
from scalepilot.control.scaling.reasons import chain, explain, n_replicas, percent, quantity
from scalepilot.control.scaling.schedules import Schedule, scheduled_minimum
from scalepilot.control.scaling.thresholds import step_size, threshold_outcome
from scalepilot.control.scaling.zero import first_active, idle_since, service_value
from scalepilot.domain.scaling import (
    Decision,
    Limit,
    LimitKind,
    MetricOutcome,
    MetricReading,
    Observation,
    ScalerState,
)

_duration = lru_cache(maxsize=1024, typed=True)(format_duration)
"""``format_duration``, memoized: windows and cooldowns are few, and asked for often."""

# On Python 3.11 ``LimitKind.X`` costs ~0.2 µs (``EnumType.__getattr__`` puts every class
# attribute lookup on a slow path), about 1 % of a decision each: the hot path reads these.
_TOLERANCE, _MISSING, _INVALID = LimitKind.TOLERANCE, LimitKind.MISSING, LimitKind.INVALID
_STABILIZATION, _RATE, _MIN, _MAX = LimitKind.STABILIZATION, LimitKind.RATE, LimitKind.MIN, LimitKind.MAX

PAUSED = "0 replicas and scale to zero is off: autoscaling paused until the service is scaled by hand"


def decide(policy: Policy, state: ScalerState, observation: Observation, now: float) -> tuple[Decision, ScalerState]:
    """Decide the replica count for ``observation`` at ``now`` (unix seconds).

    Returns the decision and the state to pass to the next call."""
    current = observation.spec_replicas
    if current == 0 and not policy.scale_to_zero:
        return Decision(now, 0, (), 0, (), 0, PAUSED), state
    replicas = observation.replicas
    readings = observation.readings
    hpa = policy.hpa
    tol_up = policy.scale_up.tolerance
    tol_down = policy.scale_down.tolerance
    if hpa:
        metrics = tuple(
            [hpa_outcome(spec, readings.get(spec.name), replicas, current, tol_up, tol_down) for spec in policy.metrics]
        )
    else:
        step = step_size(current, policy.step, policy.step_percent)
        metrics = tuple(
            [threshold_outcome(spec, readings.get(spec.name), replicas, current, step) for spec in policy.metrics]
        )
    recs = state.recommendations
    if hpa and not recs:
        recs = ((now, current),)  # the HPA's initial recommendation: no scale-down for one window
    smin, sched = scheduled_minimum(policy.schedules, now) if policy.schedules else (0, None)
    idle = idle_since(policy.metrics, readings, state.idle_since, now) if policy.scale_to_zero else None

    reason: str | Callable[[], str]
    if current == 0:
        final, raw, limits, reason, recs = _wake(policy, state, metrics, readings, recs, now, smin, sched)
    else:
        limits = []
        mx, mn = policy.max_replicas, policy.min_replicas
        if current > mx or current < mn:
            final = mx if current > mx else mn
            raw = current
            kind, word, bound = (_MAX, "above", "max") if current > mx else (_MIN, "below", "min")
            limits.append(Limit(kind, current, final, f"{bound}_replicas {final}"))
            text = f"{n_replicas(current)} {word} {bound}_replicas {final}: {current} → {final}"
        else:
            final, raw, driver, recs, note = _normal(policy, state, metrics, recs, current, now, limits, observation)
            text = ""
        if smin > final and sched is not None:
            limits.append(Limit(LimitKind.SCHEDULE, final, smin, f"schedule {sched.name}"))
            final = smin
        if idle is not None and smin == 0 and final == policy.min_replicas and now - idle >= policy.zero_cooldown:
            limits.append(Limit(LimitKind.SCALE_TO_ZERO, final, 0, f"scale to zero after {_duration(now - idle)} idle"))
            final = 0
        if text:
            reason = f"{text}, {chain(limits[1:], current)}" if len(limits) > 1 else text
        else:
            # The words are built when someone reads them (``Decision.reason``): most
            # decisions of a simulation are never read. ``limits`` is not changed again.
            reason = partial(_explained, driver, current, raw, limits, tol_up, tol_down, note)

    if final != current:
        change = final - current
        events = (*trim(state.events, now, policy.event_history), (now, change))
        new_state = ScalerState(
            recs,
            events,
            now if change > 0 else state.last_scale_up,
            now if change < 0 else state.last_scale_down,
            idle,
        )
    elif recs is state.recommendations and idle == state.idle_since:
        new_state = state
    else:
        new_state = ScalerState(recs, state.events, state.last_scale_up, state.last_scale_down, idle)
    return Decision(now, current, metrics, raw, tuple(limits), final, reason), new_state


def _explained(
    driver: MetricOutcome | None,
    current: int,
    raw: int,
    limits: list[Limit],
    tol_up: float,
    tol_down: float,
    note: str,
) -> str:
    reason = explain(driver, current, raw, limits, tol_up, tol_down)
    return f"{reason}; {note}" if note else reason


def _normal(
    policy: Policy,
    state: ScalerState,
    metrics: tuple[MetricOutcome, ...],
    recs: tuple[tuple[float, int], ...],
    current: int,
    now: float,
    limits: list[Limit],
    observation: Observation,
) -> tuple[int, int, MetricOutcome | None, tuple[tuple[float, int], ...], str]:
    """Steps 2-6 for a count within [min, max]: (final, raw, driver, recommendations,
    a note when a predictive policy could not use its forecast)."""
    driver = raw_driver = first_invalid = None
    proposal = raw = -1
    for m in metrics:
        p = m.proposal
        if p is None:
            if first_invalid is None:
                first_invalid = m
            continue
        if p > proposal:
            proposal, driver = p, m
        r = m.raw if m.raw is not None else p
        if r > raw:
            raw, raw_driver = r, m
    if not metrics:
        proposal = raw = policy.min_replicas
    elif driver is None:
        return current, current, first_invalid, recs, ""
    elif raw != proposal and raw_driver is not None:
        why = raw_driver if raw_driver.status != OK else driver
        if why.status == TOLERANCE:
            tol = policy.scale_up.tolerance if raw > current else policy.scale_down.tolerance
            detail = f"tolerance {percent(tol)} ({why.name} within it)"
            limits.append(Limit(_TOLERANCE, raw, proposal, detail))
        else:
            limits.append(Limit(_MISSING, raw, proposal, f"{why.name} {why.note.replace(': ', ' ')}"))
    if first_invalid is not None and proposal < current:
        detail = f"the unreadable-metric rule: {first_invalid.name} {first_invalid.note}"
        limits.append(Limit(_INVALID, proposal, current, detail))
        return current, raw, driver, recs, ""
    note = ""
    if policy.predictive is not None:
        proposal, note = raise_on_forecast(policy.predictive, observation.forecast, proposal, current, limits)

    mx, mn = policy.max_replicas, policy.min_replicas
    if policy.hpa:
        up, down = policy.scale_up, policy.scale_down
        desired, recs = stabilize(recs, now, current, proposal, up.window, down.window, policy.history)
        if desired != proposal:
            detail = policy.up_stabilization if proposal > current else policy.down_stabilization
            limits.append(Limit(_STABILIZATION, proposal, desired, detail))
        final = desired
        if desired > current:
            lim, rate = scale_up_limit(current, state.events, now, up)
            lim = max(lim, current)
            if lim >= mx:
                if desired > mx:
                    limits.append(Limit(_MAX, desired, mx, policy.max_detail))
                    final = mx
            elif desired > lim:
                limits.append(Limit(_RATE, desired, lim, _rate_detail(rate, up=True)))
                final = lim
        elif desired < current:
            lim, rate = scale_down_limit(current, state.events, now, down)
            lim = min(lim, current)
            if lim <= mn:
                if desired < mn:
                    limits.append(Limit(_MIN, desired, mn, policy.min_detail))
                    final = mn
            elif desired < lim:
                limits.append(Limit(_RATE, desired, lim, _rate_detail(rate, up=False)))
                final = lim
        return final, raw, driver, recs, note

    final = proposal
    if final > mx:
        limits.append(Limit(_MAX, final, mx, policy.max_detail))
        final = mx
    elif final < mn:
        limits.append(Limit(_MIN, final, mn, policy.min_detail))
        final = mn
    last = state.last_scale
    if last is not None and final != current:
        up_move = final > current
        cooldown = policy.cooldown_up if up_move else policy.cooldown_down
        left = cooldown - (now - last)
        if left > 0:
            word = "up" if up_move else "down"
            detail = f"scale-{word} cooldown {_duration(cooldown)} ({_duration(left)} left)"
            limits.append(Limit(LimitKind.COOLDOWN, final, current, detail))
            final = current
    return final, raw, driver, recs, note


def _rate_detail(rate: RatePolicy | None, *, up: bool) -> str:
    word = "up" if up else "down"
    if rate is None:
        return f"selectPolicy Disabled (no scale-{word})"
    return f"scale-{word} policy {rate.describe(up)}"


def _wake(
    policy: Policy,
    state: ScalerState,
    metrics: tuple[MetricOutcome, ...],
    readings: Mapping[str, MetricReading | None],
    recs: tuple[tuple[float, int], ...],
    now: float,
    smin: int,
    sched: Schedule | None,
) -> tuple[int, int, list[Limit], str, tuple[tuple[float, int], ...]]:
    """At zero replicas (scale to zero on): stay idle, or wake to at least 1."""
    limits: list[Limit] = []
    found = first_active(policy.metrics, readings)
    if found is None:
        spec = next(s for s in policy.metrics if s.wakes)
        value = service_value(readings.get(spec.name))
        if value is None:
            text = f"{spec.name} has no reading: stay at 0"
        else:
            act = quantity(spec.activation, spec.unit)
            text = f"{spec.name} {quantity(value, spec.unit)} at or below activation {act}: stay at 0"
        final = raw = 0
    else:
        spec, value = found
        act = quantity(spec.activation, spec.unit)
        asked = [m.proposal for m in metrics if m.proposal is not None] if policy.hpa else []
        raw = final = max(1, *asked) if asked else 1
        text = f"{spec.name} {quantity(value, spec.unit)} > activation {act}: 0 → {raw}"
        if policy.hpa:
            recs = (*trim(recs, now, policy.history), (now, raw))
            lim, rate = scale_up_limit(0, state.events, now, policy.scale_up)
            lim = max(lim, 1)
            if final > lim:
                limits.append(Limit(LimitKind.RATE, final, lim, _rate_detail(rate, up=True)))
                final = lim
        if final > policy.max_replicas:
            limits.append(Limit(LimitKind.MAX, final, policy.max_replicas, f"max_replicas {policy.max_replicas}"))
            final = policy.max_replicas
        if final < policy.min_replicas:
            limits.append(Limit(LimitKind.MIN, final, policy.min_replicas, f"min_replicas {policy.min_replicas}"))
            final = policy.min_replicas
    if smin > final and sched is not None:
        limits.append(Limit(LimitKind.SCHEDULE, final, smin, f"schedule {sched.name}"))
        final = smin
    reason = f"{text}, {chain(limits, 0)}" if limits else text
    return final, raw, limits, reason, recs
