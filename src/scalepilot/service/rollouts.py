"""Carries out a service's rollouts on its local target and balancer.

The decisions are ``control.rollout``'s (pure, on the clock it is given); this loop
gathers what they need every second — the stable count, the new replicas ready, a
measurement of the canary when one is due — and applies each directive: the ``canary``
group's template and size (``LocalTarget.scale_group``), the traffic weights of the two
groups (``Balancer.set_group_weights``), and at the end ``LocalTarget.promote`` or the
canary's removal. Every transition is an event (``rollout_*``).

What survives a restart of scalepilot (local replicas do not: they stop with it): while
a rollout runs or after it was aborted, the stable template is stored, so the next start
runs the version that was stable, not the one in the config file. An aborted rollout
stays aborted (``scalepilot rollout retry`` starts it again); one that was running
starts again from its first stage. After a promotion nothing is kept: the config's
template is the stable one.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from scalepilot.adapters.balancer import Balancer
from scalepilot.adapters.targets import LocalTarget
from scalepilot.config.rollout import RolloutSettings
from scalepilot.config.targets import LocalTargetSettings, template_revision
from scalepilot.control.rollout import advance, command, compile_plan, judge, measure_due, start
from scalepilot.control.rollout.machine import RolloutCommandError, abort, applicable
from scalepilot.control.rollout.plan import CANARY, STABLE, Plan, canary_replicas
from scalepilot.domain.clock import Clock, to_ms
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.query import MetricSource, QueryError, ResultType
from scalepilot.domain.rollout import Directive, Measurement, Phase, RolloutObservation, RolloutState, Transition
from scalepilot.domain.store import Store
from scalepilot.domain.targets import ReplicaState

log = logging.getLogger(__name__)

TICK_S = 1.0
"""How often a rollout is looked at: a stage is reached within a second of its replicas
being ready, and a hold or deadline ends within a second of its time."""

DEFAULT = RolloutSettings()
"""A service without a ``rollout`` block: the new version starts in full beside the old
and takes all traffic once ready (after ``scale_down_delay`` the old ones go)."""


def state_key(service: str) -> str:
    return f"rollout/{service}"


class RolloutDriver:
    def __init__(
        self,
        service: str,
        configured: LocalTargetSettings,
        settings: RolloutSettings | None,
        *,
        store: Store,
        metric_source: MetricSource,
        clock: Clock,
    ) -> None:
        """``configured`` is the config file's target. If an earlier run left a rollout
        unfinished or aborted, :attr:`stable` is the template that was stable then: the
        one to start the target with."""
        self.service = service
        self.settings = settings
        self._store = store
        self._source = metric_source
        self._clock = clock
        self._initial = configured
        self.goal: LocalTargetSettings | None = None
        """The template being rolled out (or whose rollout was aborted)."""
        self.state: RolloutState | None = None
        self.plan: Plan | None = None
        self._resume: LocalTargetSettings | None = None
        self._target: LocalTarget | None = None
        self._balancer: Balancer | None = None
        self._lock = asyncio.Lock()
        saved = store.get_state(state_key(service)) or {}
        if isinstance(saved.get("stable"), dict):
            stable = LocalTargetSettings.model_validate(saved["stable"])
            wanted = template_revision(configured)
            if template_revision(stable) != wanted:
                self._initial = stable.model_copy(update={"replicas": configured.replicas})
                last = saved.get("state")
                if isinstance(last, dict) and last.get("phase") == Phase.ABORTED and last.get("revision") == wanted:
                    self.state = RolloutState.from_dict(last)
                    self.goal = configured
                    self.plan = compile_plan(settings or DEFAULT, service)
                else:
                    self._resume = configured

    def attach(self, target: LocalTarget, balancer: Balancer) -> None:
        self._target, self._balancer = target, balancer

    @property
    def stable(self) -> LocalTargetSettings:
        """The stable group's template: the target's own once attached (a promotion
        changes it there), else the one to start the target with."""
        return self._target.settings if self._target is not None else self._initial

    async def started(self) -> None:
        """After the target started: begin the rollout an earlier run left unfinished."""
        if self._resume is not None:
            goal, self._resume = self._resume, None
            await self.begin(goal, "scalepilot (start-up: the earlier rollout did not finish)")

    # --- what people and reloads ask ---------------------------------------------------
    @property
    def active(self) -> bool:
        return self.state is not None and not self.state.ended

    def settings_for(self, revision: str) -> LocalTargetSettings:
        """The template a replica of ``revision`` was made from (its readiness check)."""
        if self.goal is not None and revision == template_revision(self.goal):
            return self.goal
        return self.stable

    async def begin(self, goal: LocalTargetSettings, actor: str) -> None:
        """Roll ``goal`` out (a reload changed the target's template). A rollout under
        way is superseded; a goal equal to the stable template ends it (aborted)."""
        async with self._lock:
            now = self._clock.now()
            new, old = template_revision(goal), template_revision(self.stable)
            if self.active and self.state is not None and self.plan is not None:
                if self.state.revision == new:
                    self.goal = goal
                    return
                why = "the config is back to the stable version" if new == old else f"superseded by {new}"
                directive, state = abort(self.plan, self.state, now, f"{why} ({actor})", actor)
                self._record(state, directive.transitions)
                if new == old:
                    await self._apply(directive)
                    self.goal = None
                    return
            elif new == old:
                # Back to the stable version: an aborted rollout is no longer the
                # config's, so there is nothing left to retry.
                self.goal = None
                return
            self.goal = goal
            self.plan = compile_plan(self.settings or DEFAULT, self.service)
            state = start(new, old, now)
            stages = ", ".join(s.label for s in self.plan.stages)
            message = f"rollout of {new} (replacing {old}) started by {actor}: {self.plan.strategy}, {stages}"
            details = {"revision": new, "stable_revision": old, "actor": actor, "strategy": self.plan.strategy}
            self._record(state, (Transition(EventKind.ROLLOUT_STARTED, message, details),))
            await self._tick_locked()

    async def act(self, action: str, actor: str) -> RolloutState:
        """``promote``, ``promote_full``, ``pause``, ``resume``, ``abort``, or ``retry``
        (an aborted rollout from its start). Raises :class:`RolloutCommandError`."""
        async with self._lock:
            now = self._clock.now()
            if action == "retry":
                if self.state is None or self.goal is None or self.state.phase is not Phase.ABORTED:
                    raise RolloutCommandError(f"{self.service} has no aborted rollout to retry")
                if self.state.revision != template_revision(self.goal):
                    raise RolloutCommandError("the aborted revision is no longer the config's")
                goal = self.goal
                self.state = None
            elif self.state is None or self.plan is None:
                raise RolloutCommandError(f"{self.service} has no rollout")
            else:
                directive, state, transitions = command(self.plan, self.state, action, now, actor)
                self._record(state, transitions)
                if directive is not None:
                    await self._apply(directive)
                await self._tick_locked()
                return self._current()
        await self.begin(goal, actor)
        return self._current()

    def _current(self) -> RolloutState:
        assert self.state is not None
        return self.state

    def apply_settings(self, settings: RolloutSettings | None) -> None:
        """A reload's new ``rollout`` block: the next rollout follows it; one under way
        keeps the plan it started with."""
        self.settings = settings

    # --- the loop ----------------------------------------------------------------------
    async def tick(self, scheduled: float = 0.0) -> None:
        async with self._lock:
            await self._tick_locked()

    async def _tick_locked(self) -> None:
        state, plan, target = self.state, self.plan, self._target
        if state is None or state.ended or plan is None or target is None:
            return
        now = self._clock.now()
        status = target.snapshot()
        ready = sum(
            1
            for r in status.replicas
            if r.group == CANARY and r.revision == state.revision and r.state is ReplicaState.READY
        )
        measurement = await self._measure(plan, state, now) if measure_due(plan, state, now) else None
        directive, new_state = advance(plan, state, RolloutObservation(status.desired, ready, measurement), now)
        if new_state != state:
            self._record(new_state, directive.transitions)
        await self._apply(directive)

    async def _measure(self, plan: Plan, state: RolloutState, now: float) -> Measurement:
        assert plan.analysis is not None
        results: list[tuple[float | None, str] | None] = []
        for check in plan.analysis.checks:
            if not applicable(check, state.weight):
                results.append(None)
                continue
            try:
                result = await self._source.query(check.query, to_ms(now))
            except QueryError as exc:
                results.append((None, str(exc)))
                continue
            if result.type is ResultType.SCALAR and result.scalar is not None:
                results.append((result.scalar[1], ""))
            elif result.type is ResultType.VECTOR and len(result.vector) == 1:
                results.append((result.vector[0].value, ""))
            elif result.type is ResultType.VECTOR and not result.vector:
                results.append((None, "empty result"))
            else:
                results.append((None, f"{len(result.vector)} series: a check needs one value"))
        return judge(plan.analysis, results, now, state.stage)

    async def _apply(self, directive: Directive) -> None:
        target, balancer = self._target, self._balancer
        assert target is not None and balancer is not None
        if directive.promote:
            assert self.goal is not None
            await target.promote(CANARY)
            balancer.set_group_weights({})
            self.goal = None  # the target's template is the promoted one now
            self._persist()
            return
        if self.state is not None and self.state.phase is Phase.ABORTED:
            balancer.set_group_weights({STABLE: 1, CANARY: 0})
            if CANARY in target.groups():
                await target.scale_group(CANARY, 0)
            return
        assert self.goal is not None
        await target.scale_group(CANARY, directive.canary_replicas, self.goal)
        balancer.set_group_weights({STABLE: 100 - directive.weight, CANARY: directive.weight})

    # --- record ------------------------------------------------------------------------
    def _record(self, state: RolloutState, transitions: tuple[Transition, ...]) -> None:
        self.state = state
        for t in transitions:
            bad = t.kind in (EventKind.ROLLOUT_ABORTED, EventKind.ROLLOUT_ANALYSIS_FAILED)
            log.log(logging.WARNING if bad else logging.INFO, "%s: %s", self.service, t.message)
            self._store.add_event(
                Event(to_ms(self._clock.now()), t.kind, f"{self.service}: {t.message}", self.service, dict(t.details))
            )
        self._persist()

    def _persist(self) -> None:
        state = self.state
        if state is None or state.phase is Phase.PROMOTED:
            # The config's template is the stable one: nothing to remember.
            self._store.put_state(state_key(self.service), {"stable": None, "state": None})
            return
        doc = {"stable": self.stable.model_dump(mode="json"), "state": state.to_dict()}
        self._store.put_state(state_key(self.service), doc)

    def describe(self) -> dict[str, Any] | None:
        """The latest rollout, for ``/status``, the API and ``scalepilot rollout status``:
        one since scalepilot started, or one an earlier run left aborted; None if
        neither."""
        state, plan = self.state, self.plan
        if state is None or plan is None:
            return None
        stable = self._target.snapshot().desired if self._target is not None else 0
        stage = plan.stages[state.stage]
        return {
            "revision": state.revision,
            "stable_revision": state.stable_revision,
            "phase": state.phase.value,
            "strategy": plan.strategy,
            "stage": state.stage + 1,
            "stages": [
                {
                    "label": s.label,
                    "kind": s.kind,
                    "weight": s.weight,
                    "hold_seconds": None if math.isinf(s.hold) else s.hold,
                }
                for s in plan.stages
            ],
            "stage_label": stage.label,
            "weight": state.weight,
            "canary_replicas": 0 if state.ended else canary_replicas(stage.scale, stable),
            "failures": state.failures,
            "failure_limit": plan.analysis.failure_limit if plan.analysis else None,
            "measurements": [m.to_dict() for m in state.measurements],
            "reason": state.reason,
            "actor": state.actor,
            "started_at": state.started_at,
            "ended_at": state.ended_at,
        }
