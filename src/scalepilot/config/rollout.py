"""A service's ``rollout:`` section: how a new version of a local target replaces the old.

A rollout starts when a reload (``kill -HUP``, ``POST /-/reload``, ``scalepilot reload``)
finds a local target's *template* changed — its ``command``, ``env`` or ``cwd``. The new
replicas run beside the old ones as the ``canary`` group of the built-in balancer, which
splits traffic between the groups by weight; the old ones stay ``stable`` until the new
version is promoted. Argo Rollouts' vocabulary, on purpose:

``strategy: canary``
    ``steps`` move traffic in stages, e.g. ``[{weight: 10}, {pause: 2m}, {weight: 50},
    {pause: 2m}]``: each ``weight`` step scales the canary to that share of the stable
    count (at least one replica) and, once those replicas are ready, sends it that share
    of the traffic; each ``pause`` waits (``pause: manual`` waits for ``scalepilot
    rollout promote``). After the last step the canary is scaled to the full count and
    gets all the traffic.

``strategy: blue_green``
    The whole new set starts with no traffic (the *preview*); once it is ready and
    ``preview`` has passed (``manual``: when promoted by hand), all traffic switches at
    once.

Either way the old replicas are kept for ``scale_down_delay`` after all traffic moved,
so a failed analysis then switches back at once; then the new version is promoted
(becomes ``stable``) and the old replicas drain and stop.

``analysis`` measures the canary every ``interval`` while it has traffic: the built-in
checks read the balancer's per-group series (the canary's share of 5xx answers, its
latency quantile, each on its own or against the stable group's), ``checks`` run any
PromQL. A measurement fails when a value is out of
its bounds; more than ``failure_limit`` failures abort the rollout: traffic goes back to
the stable group and the canary replicas stop. A check with no value (no traffic yet, a
series not there) follows ``on_no_data``, said explicitly, since "no data" is neither
good nor bad news.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scalepilot.config.base import Model
from scalepilot.config.durations import Duration, PositiveDuration, parse_duration
from scalepilot.config.scaling import Percent, check_promql


class WeightStep(Model):
    weight: int = Field(
        ge=0,
        le=100,
        description="Share of the traffic, in %, for the canary; it is also scaled to that share of the stable "
        "count (at least 1 replica).",
    )


def _duration_or_manual(v: Any) -> Any:
    """A hold: a duration (``2m``, or seconds), or ``manual`` (until promoted by hand)."""
    if v == "manual":
        return v
    if isinstance(v, str):
        try:
            return parse_duration(v)
        except ValueError as exc:
            raise PydanticCustomError("duration", "{e} (or manual)", {"e": str(exc)}) from None
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise PydanticCustomError("duration", "must be a duration such as 2m, or manual")
    return float(v)


class PauseStep(Model):
    pause: float | Literal["manual"] = Field(
        description="Wait this long (a duration such as 2m), or `manual`: until `scalepilot rollout promote`."
    )

    _pause = field_validator("pause", mode="before")(classmethod(lambda cls, v: _duration_or_manual(v)))


def _step_kind(v: Any) -> str | None:
    if isinstance(v, dict):
        return "weight" if "weight" in v else "pause" if "pause" in v else None
    return "weight" if isinstance(v, WeightStep) else "pause" if isinstance(v, PauseStep) else None


Step = Annotated[
    Annotated[WeightStep, Tag("weight")] | Annotated[PauseStep, Tag("pause")],
    Discriminator(
        _step_kind,
        custom_error_type="step",
        custom_error_message="a step is {weight: N} or {pause: DURATION | manual}",
    ),
]


class Check(Model):
    """One PromQL expression and the bounds its value must stay within."""

    name: str = Field(description="Shown in events and `scalepilot rollout status`, e.g. checkout-errors.")
    query: str = Field(
        description="PromQL giving one number (or a one-element vector), e.g. the canary's error share from "
        'scalepilot_lb_group_requests_total{service="shop",group="canary"}.'
    )
    max: float | None = Field(None, description="The value must be at most this.")
    min: float | None = Field(None, description="The value must be at least this.")

    _q = field_validator("query")(classmethod(lambda cls, v: check_promql(v)))

    @model_validator(mode="after")
    def _bounded(self) -> Check:
        if self.max is None and self.min is None:
            raise PydanticCustomError("bounds", "give max, min or both: a check without bounds cannot fail")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise PydanticCustomError("bounds", "min is above max: no value could pass")
        return self


BUILT_IN = ("error_rate", "latency", "error_rate_increase", "latency_ratio")
"""The names of the built-in checks, in events and measurements."""


class AnalysisSettings(Model):
    interval: PositiveDuration = Field(
        30.0,
        description="Seconds between two measurements of the canary. 30s: a bad version is caught within a "
        "minute or two, over windows long enough to hold a few requests.",
    )
    window: PositiveDuration = Field(
        60.0,
        description="The rate window of the built-in checks, in seconds (their queries use rate(...[window])).",
    )
    max_error_rate: Percent | None = Field(
        None,
        description="Built-in check: the canary's answers with a 5xx status (the balancer's own 502/503/504 "
        "included) as a % of all its answers, over `window`. E.g. 1%.",
    )
    max_latency: PositiveDuration | None = Field(
        None,
        description="Built-in check: the canary's `latency_quantile` request latency, over `window`, as the "
        "balancer measures it. E.g. 500ms.",
    )
    latency_quantile: float = Field(
        0.95, gt=0, lt=1, description="Which quantile `max_latency` and `max_latency_ratio` bound."
    )
    max_error_rate_increase: Percent | None = Field(
        None,
        description="Built-in check against the stable group, over the same `window`: the canary's error rate "
        "may exceed the stable group's by at most this many percentage points. E.g. 0.5%: a canary at 1.2% "
        "fails beside a stable group at 0.5%, one at 3% passes beside a stable group at 2.8% (a bad "
        "upstream, not the new version).",
    )
    max_latency_ratio: float | None = Field(
        None,
        gt=1,
        description="Built-in check against the stable group: the canary's `latency_quantile` latency may be at "
        "most this many times the stable group's. E.g. 1.2: no more than 20 % slower than the running version.",
    )
    checks: list[Check] = Field(default_factory=list, description="More checks, any PromQL.")
    failure_limit: int = Field(
        0,
        ge=0,
        description="Failed measurements tolerated; one more aborts the rollout. 0, as Argo Rollouts: the "
        "first failure rolls back.",
    )
    on_no_data: Literal["pause", "fail", "pass"] = Field(
        "pause",
        description="A check without a value: `pause` the rollout until a person promotes or aborts it "
        "(default: neither good nor bad news), count it as a `fail`ed measurement, or let it `pass`.",
    )

    @model_validator(mode="after")
    def _something_to_check(self) -> AnalysisSettings:
        builtin = (self.max_error_rate, self.max_latency, self.max_error_rate_increase, self.max_latency_ratio)
        if all(b is None for b in builtin) and not self.checks:
            raise PydanticCustomError(
                "analysis",
                "analysis checks nothing: set max_error_rate, max_latency, max_error_rate_increase, "
                "max_latency_ratio or checks",
            )
        names = [c.name for c in self.checks]
        dup = sorted({n for n in names if names.count(n) > 1} | (set(BUILT_IN) & set(names)))
        if dup:
            raise PydanticCustomError(
                "analysis", "check names must be unique and not those of the built-in checks: {d}", {"d": dup}
            )
        return self


class RolloutSettings(Model):
    strategy: Literal["canary", "blue_green"] = Field(
        "canary",
        description="canary: traffic moves to the new version in `steps`. blue_green: the new version starts "
        "in full with no traffic, then takes all of it at once.",
    )
    steps: list[Step] = Field(
        default_factory=list,
        description="canary only: `{weight: N}` and `{pause: 2m | manual}` steps, in order. Empty: the new "
        "version is scaled to the full count and takes all traffic once ready.",
    )
    preview: float | Literal["manual"] = Field(
        0.0,
        description="blue_green only: how long the ready new version waits with no traffic before the switch "
        "(a duration), or `manual`: until `scalepilot rollout promote`.",
    )
    scale_down_delay: Duration = Field(
        30.0,
        description="How long the old replicas are kept after all traffic moved, while analysis goes on: a "
        "failure then switches back at once. 30s, as Argo Rollouts.",
    )
    progress_deadline: PositiveDuration = Field(
        600.0,
        description="A step whose new replicas are not all ready within this many seconds aborts the rollout. "
        "10m, as Kubernetes' progressDeadlineSeconds.",
    )
    deadline: PositiveDuration | None = Field(
        None,
        description="A hard limit on the whole rollout, pauses included: past it, the rollout is aborted. Unset: none.",
    )
    analysis: AnalysisSettings | None = Field(None, description="Measure the canary while it has traffic.")

    _preview = field_validator("preview", mode="before")(classmethod(lambda cls, v: _duration_or_manual(v)))

    @model_validator(mode="after")
    def _strategy_fields(self) -> RolloutSettings:
        if self.strategy == "blue_green" and self.steps:
            raise PydanticCustomError("steps", "steps are for strategy canary; blue_green uses preview")
        if self.strategy == "canary" and self.preview != 0.0:
            raise PydanticCustomError("preview", "preview is for strategy blue_green; canary uses steps")
        return self
