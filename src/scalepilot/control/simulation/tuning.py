"""Search a scaling policy's parameters on a trace: the pure half of ``scalepilot tune``.

The search space is a handful of dimensions, each a short grid of values a person would
write in ``scalepilot.yaml`` (70 %, 5 m, …), so every trial is a policy one can paste:

``target``
    The metrics' target as a percent of one replica's capacity (cpu: the percent; rps and
    an average-value series: that share of ``replica_rps``).
``window``
    The metric window the readings average over.
``scale_down``
    How long a lower count must persist before scaling in: the HPA's
    ``behavior.scaleDown.stabilizationWindowSeconds`` (mode hpa) or ``cooldown.down``
    (mode threshold).
``min_replicas``
    The floor.
``safety_factor``, ``horizon``
    The predictive margin, only when the base policy is predictive.

The method is **random search, then local refinement**: trial 0 is the base policy
itself; the exploration round draws points uniformly from the grid (random search
covers each dimension with as many distinct values as there are trials, where a grid
of even three values per dimension would need 3⁶ = 729 runs, most spent on dimensions
that barely matter); the refinement round perturbs the cheapest policies within the
budget (and the Pareto front), since the optimum lies on the budget's edge, a narrow
region uniform draws rarely hit. Everything draws from one ``numpy`` generator seeded
by the caller, and duplicates are skipped, so the same seed gives the same trials.

No I/O here: the command (``faces/cli/tune_cmd.py``) runs the trials and prints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.simulation.model import Report

TARGETS = tuple(float(v) for v in range(40, 96))
"""Percent of a replica's capacity: below 40 % is static provisioning by another name,
above 95 % leaves no headroom for the metric lag."""
WINDOWS = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0)
"""Seconds: from two 15 s scrapes to the 10 m a slow rate() query would use."""
SCALE_DOWNS = tuple(float(v) for v in range(0, 1801, 30))
"""Seconds, 0–30 m: the HPA allows up to an hour, but beyond 30 m a policy is all but static."""
SAFETY_FACTORS = tuple(round(1.0 + 0.05 * i, 2) for i in range(11))
"""1.0–1.5: above 1.5 the forecast asks for more than the 70 % target's headroom already gives."""
HORIZON_MARGINS = tuple(float(v) for v in range(0, 601, 30))
"""Seconds added to the startup delay for the predictive horizon, 0–10 m."""
MIN_REPLICAS_SHARE = 0.5
"""The highest floor tried is this share of the replicas the trace's peak needs."""
REFINE_SHARE = 0.4
"""Share of the trials spent refining the best ones found by exploring."""
_TRIES = 50
"""Draws per new trial before giving up on finding one not yet tried (a small space)."""


@dataclass(frozen=True, slots=True)
class Params:
    """One point of the search space (``None``: the dimension is not searched)."""

    target: float | None
    """Percent of a replica's capacity the metrics aim at."""
    window: float
    """Metric window, seconds."""
    scale_down: float
    """Scale-down stabilization (mode hpa) or cooldown.down (mode threshold), seconds."""
    min_replicas: int
    safety_factor: float | None = None
    horizon: float | None = None
    """Predictive horizon, seconds."""

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Space:
    """The values each dimension may take, ascending (empty: not searched)."""

    target: tuple[float, ...]
    window: tuple[float, ...]
    scale_down: tuple[float, ...]
    min_replicas: tuple[int, ...]
    safety_factor: tuple[float, ...] = ()
    horizon: tuple[float, ...] = ()

    def dimensions(self) -> dict[str, Sequence[float | int]]:
        """The searched dimensions by name."""
        dims: dict[str, Sequence[float | int]] = {
            "target": self.target,
            "window": self.window,
            "scale_down": self.scale_down,
            "min_replicas": self.min_replicas,
            "safety_factor": self.safety_factor,
            "horizon": self.horizon,
        }
        return {k: v for k, v in dims.items() if v}


@dataclass(frozen=True, slots=True)
class Trial:
    """A point and what the simulator reported for it."""

    index: int
    params: Params
    report: Report


# --- the space and the policies -------------------------------------------------------------


def _tunable(metric: Any) -> bool:
    kind = metric.type
    return kind in ("cpu", "rps") or (kind == "series" and metric.target_type == "average_value")


def base_params(settings: AutoscalingSettings, replica_rps: float) -> Params:
    """The point ``settings`` already are (the first trial)."""
    target: float | None = None
    if settings.mode == "hpa":
        for metric in settings.metrics:
            if _tunable(metric) and metric.target is not None:
                value = float(metric.target)
                target = value if metric.type == "cpu" else value / replica_rps * 100.0
                break
    if settings.mode == "hpa":
        rules = settings.behavior.scaleDown if settings.behavior is not None else None
        window = rules.stabilizationWindowSeconds if rules is not None else None
        scale_down = 300.0 if window is None else float(window)
    else:
        scale_down = float(settings.cooldown.down)
    p = settings.predictive
    return Params(
        target=None if target is None else round(target, 6),
        window=float(settings.window),
        scale_down=scale_down,
        min_replicas=settings.min_replicas,
        safety_factor=float(p.safety_factor) if p.enabled else None,
        horizon=float(p.horizon) if p.enabled else None,
    )


def space_for(settings: AutoscalingSettings, *, startup_delay: float, peak_replicas: float) -> Space:
    """The space around ``settings`` for a trace whose peak needs ``peak_replicas``."""
    base = base_params(settings, 1.0)
    floor = settings.min_replicas
    top = min(settings.max_replicas, max(floor, math.ceil(peak_replicas * MIN_REPLICAS_SHARE)))
    predictive = settings.predictive.enabled
    return Space(
        target=TARGETS if base.target is not None else (),
        window=WINDOWS,
        scale_down=SCALE_DOWNS,
        min_replicas=tuple(range(floor, top + 1)),
        safety_factor=SAFETY_FACTORS if predictive else (),
        horizon=tuple(h for h in (startup_delay + m for m in HORIZON_MARGINS) if h > 0) if predictive else (),
    )


def apply(data: dict[str, Any], params: Params, *, replica_rps: float) -> dict[str, Any]:
    """A copy of the ``autoscaling:`` mapping ``data`` (as a YAML file holds it) with
    ``params`` set; validate it with ``AutoscalingSettings.model_validate``."""
    out: dict[str, Any] = _copy(data)
    mode = out.get("mode", "hpa")
    if params.target is not None and mode == "hpa":
        for metric in out.get("metrics", []):
            kind = metric.get("type")
            if kind == "cpu":
                metric["target"] = params.target
            elif kind == "rps" or (kind == "series" and metric.get("target_type", "value") == "average_value"):
                metric["target"] = round(params.target / 100.0 * replica_rps, 9)
    out["window"] = params.window
    if mode == "hpa":
        behavior = out.setdefault("behavior", {}) or {}
        out["behavior"] = behavior
        down = behavior.setdefault("scaleDown", {}) or {}
        behavior["scaleDown"] = down
        down["stabilizationWindowSeconds"] = int(params.scale_down)
    else:
        cooldown = out.setdefault("cooldown", {}) or {}
        out["cooldown"] = cooldown
        cooldown["down"] = params.scale_down
    out["min_replicas"] = params.min_replicas
    if params.safety_factor is not None or params.horizon is not None:
        predictive = out.setdefault("predictive", {})
        if params.safety_factor is not None:
            predictive["safety_factor"] = params.safety_factor
        if params.horizon is not None:
            predictive["horizon"] = params.horizon
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# --- sampling --------------------------------------------------------------------------------


def _with(params: Params, name: str, value: float | int) -> Params:
    changes: dict[str, Any] = {name: value}
    return replace(params, **changes)


def sample(space: Space, base: Params, rng: np.random.Generator, n: int, seen: set[Params]) -> list[Params]:
    """Up to ``n`` new points drawn uniformly from ``space`` (dimensions it does not
    search keep ``base``'s value); each is added to ``seen``."""
    out: list[Params] = []
    dims = space.dimensions()
    for _ in range(n):
        for _try in range(_TRIES):
            point = base
            for name, values in dims.items():
                point = _with(point, name, values[int(rng.integers(len(values)))])
            if point not in seen:
                seen.add(point)
                out.append(point)
                break
    return out


def refine(
    space: Space, parents: Sequence[Params], rng: np.random.Generator, n: int, seen: set[Params]
) -> list[Params]:
    """Up to ``n`` new points near ``parents`` (taken in turn): each searched dimension
    moves, with probability ½, by one to three grid steps either way."""
    out: list[Params] = []
    if not parents:
        return out
    dims = space.dimensions()
    for k in range(n):
        parent = parents[k % len(parents)]
        for _try in range(_TRIES):
            point = parent
            for name, values in dims.items():
                if rng.random() < 0.5:
                    continue
                here = _nearest(values, getattr(parent, name))
                move = int(rng.integers(1, 4)) * (1 if rng.random() < 0.5 else -1)
                point = _with(point, name, values[min(len(values) - 1, max(0, here + move))])
            if point not in seen:
                seen.add(point)
                out.append(point)
                break
    return out


def _nearest(values: Sequence[float | int], value: float | int | None) -> int:
    if value is None:
        return 0
    return min(range(len(values)), key=lambda i: (abs(values[i] - value), i))


# --- judging ---------------------------------------------------------------------------------


def _objectives(trials: Sequence[Trial]) -> tuple[np.ndarray, np.ndarray]:
    violations = np.array([t.report.slo_violation_minutes for t in trials], dtype=np.float64)
    cost = np.array([_cost(t.report) for t in trials], dtype=np.float64)
    return violations, cost


def _cost(report: Report) -> float:
    """What is minimised: the cost, or the replica-hours when the price is 0."""
    return report.cost if report.cost > 0 else report.replica_hours


def pareto_front(trials: Sequence[Trial]) -> list[int]:
    """Positions in ``trials`` of the points no other point dominates, by SLO-violation
    minutes and cost (both lower is better; a point dominates another when it is no
    worse in both and better in one). Equal points do not dominate each other, so ties
    are all on the front. Sorted by violation minutes, then cost, then position."""
    if not trials:
        return []
    v, c = _objectives(trials)
    front = []
    for i in range(len(trials)):
        dominated = (v <= v[i]) & (c <= c[i]) & ((v < v[i]) | (c < c[i]))
        if not dominated.any():
            front.append(i)
    return sorted(front, key=lambda i: (v[i], c[i], i))


def best_within(trials: Sequence[Trial], budget: float) -> int | None:
    """Position of the cheapest trial with at most ``budget`` SLO-violation minutes
    (ties: fewer violation minutes, then fewer scaling actions, then the earlier
    trial); ``None`` when none is within budget."""
    eligible = [i for i, t in enumerate(trials) if t.report.slo_violation_minutes <= budget + 1e-9]
    if not eligible:
        return None
    return min(
        eligible,
        key=lambda i: (
            _cost(trials[i].report),
            trials[i].report.slo_violation_minutes,
            trials[i].report.scaling_actions,
            i,
        ),
    )


def parents_for_refinement(trials: Sequence[Trial], budget: float, count: int = 4) -> list[Params]:
    """The points worth refining: the cheapest within budget, then the Pareto front
    nearest the budget (by violation minutes), at most ``count``."""
    ranked: list[int] = []
    eligible = sorted(
        (i for i, t in enumerate(trials) if t.report.slo_violation_minutes <= budget + 1e-9),
        key=lambda i: (_cost(trials[i].report), i),
    )
    ranked.extend(eligible[: max(1, count // 2)])
    front = sorted(pareto_front(trials), key=lambda i: (abs(trials[i].report.slo_violation_minutes - budget), i))
    for i in front:
        if len(ranked) >= count:
            break
        if i not in ranked:
            ranked.append(i)
    return [trials[i].params for i in ranked]


def split(total: int) -> tuple[int, int]:
    """(exploration draws, refinement draws) for ``total`` trials including the base."""
    rest = max(0, total - 1)
    refine_n = int(rest * REFINE_SHARE) if rest >= 5 else 0
    return rest - refine_n, refine_n


def trials_from(points: Iterable[tuple[Params, Report]], start: int = 0) -> list[Trial]:
    return [Trial(start + k, p, r) for k, (p, r) in enumerate(points)]
