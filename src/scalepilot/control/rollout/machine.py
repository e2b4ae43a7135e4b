"""One step of a rollout, pure: the clock is an argument.

The service calls :func:`advance` every second or so with what it sees (the stable
count, the canary replicas ready, a measurement when :func:`measure_due` asked for one)
and carries out the :class:`~scalepilot.domain.rollout.Directive`: the canary's size and
traffic weight, or its promotion. Level-triggered, as the autoscaler: the directive is
the whole desired state, so applying it twice is harmless.

A stage is *reached* when the replicas it asks for are ready; only then does its traffic
weight apply (routing a stage's share to fewer replicas than it needs would overload
them), and its hold starts. A stage not reached within ``progress_deadline`` aborts the
rollout, as a Deployment that stops making progress fails. Several stages can pass in
one call (a weight step followed by a pause at the same size is reached at once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scalepilot.config.durations import format_duration
from scalepilot.control.rollout.plan import AnalysisSpec, CheckSpec, Plan, canary_replicas
from scalepilot.domain.errors import ScalepilotError
from scalepilot.domain.events import EventKind
from scalepilot.domain.rollout import (
    CheckValue,
    Directive,
    Measurement,
    Phase,
    RolloutObservation,
    RolloutState,
    Transition,
    Verdict,
)

KEEP_MEASUREMENTS = 10
"""Measurements kept in the state: enough to see a trend in ``rollout status``."""

STEP = EventKind.ROLLOUT_STEP
PAUSED = EventKind.ROLLOUT_PAUSED
RESUMED = EventKind.ROLLOUT_RESUMED
ANALYSIS_FAILED = EventKind.ROLLOUT_ANALYSIS_FAILED
PROMOTED = EventKind.ROLLOUT_PROMOTED
ABORTED = EventKind.ROLLOUT_ABORTED

ACTIONS = ("promote", "promote_full", "pause", "resume", "abort")


class RolloutCommandError(ScalepilotError):
    """A command that does not apply to the rollout as it is (resume when not paused,
    anything once it ended)."""


def start(revision: str, stable_revision: str, now: float) -> RolloutState:
    return RolloutState(revision, stable_revision, started_at=now, stage_started_at=now)


def measure_due(plan: Plan, state: RolloutState, now: float) -> bool:
    """Whether the caller should measure the canary before the next :func:`advance`:
    analysis is configured, the canary has traffic, and an interval has passed since it
    got it (so the rate window holds canary traffic) or since the last measurement."""
    return (
        plan.analysis is not None
        and not state.ended
        and state.weight > 0
        and state.next_measure_at is not None
        and now >= state.next_measure_at
    )


def _bound(check: CheckSpec) -> str:
    if check.min is not None and check.max is not None:
        return f"{check.min:g} … {check.max:g}{check.unit}"
    if check.max is not None:
        return f"≤ {check.max:g}{check.unit}"
    return f"≥ {check.min:g}{check.unit}"


def applicable(check: CheckSpec, weight: int) -> bool:
    """Whether ``check`` is measured at the canary's traffic ``weight`` (in %)."""
    return not check.against_stable or weight < 100


def judge(
    spec: AnalysisSpec, results: Sequence[tuple[float | None, str] | None], at: float, stage: int = 0
) -> Measurement:
    """A measurement from each check's result, in ``spec.checks`` order: ``(value,
    error)``, the value None (or NaN) when there is none, or None for a check not
    measured now (see :func:`applicable`). Failed if any value is out of its bounds;
    else no data if any value is missing; else passed."""
    values = []
    for check, result in zip(spec.checks, results, strict=True):
        if result is None:
            continue
        value, error = result
        if value is None or math.isnan(value):  # NaN: 0/0 with no traffic
            values.append(CheckValue(check.name, None, None, error, _bound(check)))
            continue
        ok = (check.max is None or value <= check.max) and (check.min is None or value >= check.min)
        values.append(CheckValue(check.name, value, ok, "", _bound(check)))
    if any(v.passed is False for v in values):
        verdict = Verdict.FAILED
    elif any(v.passed is None for v in values):
        verdict = Verdict.NO_DATA
    else:
        verdict = Verdict.PASSED
    return Measurement(at, verdict, tuple(values), stage)


def describe(m: Measurement) -> str:
    """``error_rate 3.2 (≤ 1%), latency no data``: the values that did not pass first."""
    parts = []
    for v in sorted(m.values, key=lambda v: v.passed is not False):
        if v.value is None:
            parts.append(f"{v.name} no data" + (f" ({v.error})" if v.error else ""))
        else:
            parts.append(f"{v.name} {v.value:.4g} ({'ok' if v.passed else 'not'} {v.bound})")
    return ", ".join(parts)


def _details(plan: Plan, state: RolloutState, **extra: object) -> dict[str, object]:
    return {
        "revision": state.revision,
        "stable_revision": state.stable_revision,
        "stage": state.stage + 1,
        "stages": len(plan.stages),
        "stage_label": plan.stages[state.stage].label,
        "weight": state.weight,
        **extra,
    }


def _abort(
    plan: Plan, state: RolloutState, now: float, why: str, transitions: list[Transition], actor: str = ""
) -> tuple[Directive, RolloutState]:
    state = state.but(phase=Phase.ABORTED, ended_at=now, reason=why, actor=actor, weight=0, paused_at=None)
    message = f"rollout of {state.revision} aborted: {why}; all traffic back on {state.stable_revision}"
    transitions.append(Transition(ABORTED, message, _details(plan, state, reason=why, actor=actor)))
    return Directive(0, 0, False, tuple(transitions)), state


def abort(plan: Plan, state: RolloutState, now: float, why: str, actor: str = "") -> tuple[Directive, RolloutState]:
    """End ``state`` as aborted for ``why`` (a reload superseding it, say)."""
    return _abort(plan, state, now, why, [], actor)


def advance(
    plan: Plan, state: RolloutState, observation: RolloutObservation, now: float
) -> tuple[Directive, RolloutState]:
    """What to do now, and the next state. An ended rollout asks for nothing."""
    if state.ended:
        return Directive(0, 0), state
    transitions: list[Transition] = []
    if plan.deadline is not None and now - state.started_at >= plan.deadline:
        return _abort(plan, state, now, f"deadline {format_duration(plan.deadline)} passed", transitions)

    m = observation.measurement
    if m is not None and plan.analysis is not None:
        analysis = plan.analysis
        state = state.but(
            measurements=(*state.measurements, m)[-KEEP_MEASUREMENTS:], next_measure_at=now + analysis.interval
        )
        no_data = m.verdict is Verdict.NO_DATA
        if m.verdict is Verdict.FAILED or (no_data and analysis.on_no_data == "fail"):
            state = state.but(failures=state.failures + 1)
            what = describe(m)
            if state.failures > analysis.failure_limit:
                return _abort(plan, state, now, f"analysis failed: {what}", transitions)
            transitions.append(
                Transition(
                    ANALYSIS_FAILED,
                    f"analysis of {state.revision} failed ({state.failures} of {analysis.failure_limit} "
                    f"tolerated): {what}",
                    _details(plan, state, failures=state.failures, measurement=m.to_dict()),
                )
            )
        elif no_data and analysis.on_no_data == "pause" and state.phase is Phase.PROGRESSING:
            why = f"analysis has no data ({describe(m)}): on_no_data is pause"
            state = state.but(phase=Phase.PAUSED, paused_at=now, reason=why, actor="")
            message = f"rollout of {state.revision} paused: {why}; promote or abort it"
            transitions.append(Transition(PAUSED, message, _details(plan, state, reason=why, actor="")))

    if state.phase is Phase.PAUSED:
        want = canary_replicas(plan.stages[state.stage].scale, observation.stable_desired)
        return Directive(state.weight, want, False, tuple(transitions)), state

    while True:
        stage = plan.stages[state.stage]
        want = canary_replicas(stage.scale, observation.stable_desired)
        if state.reached_at is None:
            if observation.canary_ready < want:
                waited = now - state.stage_started_at
                if waited >= plan.progress_deadline:
                    why = (
                        f"{observation.canary_ready} of {want} new replicas ready after {format_duration(waited)} "
                        f"at {stage.label} (progress_deadline {format_duration(plan.progress_deadline)})"
                    )
                    return _abort(plan, state, now, why, transitions)
                break
            if state.weight == 0 and stage.weight > 0 and plan.analysis is not None:
                state = state.but(next_measure_at=now + plan.analysis.interval)
            state = state.but(reached_at=now, weight=stage.weight)
            transitions.append(
                Transition(
                    STEP,
                    f"rollout of {state.revision}: stage {state.stage + 1}/{len(plan.stages)} {stage.label}: "
                    f"{want} new replicas ready, {stage.weight}% of traffic",
                    _details(plan, state, canary_replicas=want),
                )
            )
        hold_s = 0.0 if state.skip_hold else stage.hold
        assert state.reached_at is not None
        if now - state.reached_at < hold_s:
            break
        if state.stage + 1 == len(plan.stages):
            why = "promoted by hand" if state.skip_hold and state.actor else "every stage passed"
            state = state.but(phase=Phase.PROMOTED, ended_at=now, reason=why)
            message = f"rollout of {state.revision} promoted ({why}): it is the stable version now"
            transitions.append(Transition(PROMOTED, message, _details(plan, state, reason=why, actor=state.actor)))
            return Directive(100, want, True, tuple(transitions)), state
        state = state.but(stage=state.stage + 1, stage_started_at=now, reached_at=None, skip_hold=False)
    return Directive(state.weight, want, False, tuple(transitions)), state


def command(
    plan: Plan, state: RolloutState, action: str, now: float, actor: str
) -> tuple[Directive | None, RolloutState, tuple[Transition, ...]]:
    """A person's ``promote`` (skip the current stage's hold, or un-pause), ``promote_full``
    (go straight to all traffic), ``pause``, ``resume`` or ``abort``. Raises
    :class:`RolloutCommandError` when it does not apply. Returns the directive to apply
    at once for an abort (None otherwise: the next :func:`advance` carries it out)."""
    if action not in ACTIONS:
        raise RolloutCommandError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    if state.ended:
        raise RolloutCommandError(f"the rollout of {state.revision} already ended ({state.phase.value})")
    if action == "abort":
        directive, state = _abort(plan, state, now, f"aborted by {actor}", [], actor)
        return directive, state, directive.transitions
    transitions: list[Transition] = []
    if action == "pause":
        if state.phase is Phase.PAUSED:
            raise RolloutCommandError(f"the rollout of {state.revision} is already paused: {state.reason}")
        why = f"paused by {actor}"
        state = state.but(phase=Phase.PAUSED, paused_at=now, reason=why, actor=actor)
        transitions.append(
            Transition(PAUSED, f"rollout of {state.revision} {why}", _details(plan, state, reason=why, actor=actor))
        )
        return None, state, tuple(transitions)
    if action == "resume" and state.phase is not Phase.PAUSED:
        raise RolloutCommandError(f"the rollout of {state.revision} is not paused")
    if state.phase is Phase.PAUSED:
        # The time spent paused counts for neither the hold nor the progress deadline.
        gap = now - (state.paused_at if state.paused_at is not None else now)
        reached = None if state.reached_at is None else state.reached_at + gap
        state = state.but(
            phase=Phase.PROGRESSING,
            paused_at=None,
            reason="",
            reached_at=reached,
            stage_started_at=state.stage_started_at + gap,
        )
        transitions.append(
            Transition(RESUMED, f"rollout of {state.revision} resumed by {actor}", _details(plan, state, actor=actor))
        )
    if action == "promote":
        state = state.but(skip_hold=True, actor=actor)
    elif action == "promote_full":
        state = state.but(
            stage=len(plan.stages) - 1, stage_started_at=now, reached_at=None, skip_hold=True, actor=actor
        )
    return None, state, tuple(transitions)
