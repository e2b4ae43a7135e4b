"""One-line explanations of decisions, with values in their units.

A reason reads ``cause: effect``. The cause is the metric that decided (the one asking
for the most replicas): ``p95 412ms > target 250ms``, ``cpu 45% within 10% of target
50%``, ``memory missing on 1 of 3 replicas: counted as target, no scale-down``. The
effect is the move from the current count to the raw proposal, then each limit that
changed it: ``4 → 7, limited to 6 by scale-up policy +2 pods/15s``.
"""

from __future__ import annotations

from functools import lru_cache

from scalepilot.control.scaling.hpa import HELD, INVALID, TOLERANCE
from scalepilot.control.scaling.thresholds import DOWN, UP
from scalepilot.domain.scaling import Limit, LimitKind, MetricOutcome

# ``LimitKind.X`` is slow on Python 3.11 (``EnumType.__getattr__``); read every decision.
_FILLED_IN = (LimitKind.TOLERANCE, LimitKind.MISSING)


def number(x: float) -> str:
    """About three significant digits, no trailing zeros: 1250, 45, 12.5, 3.14, 0.0125."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    size = abs(x)
    if size >= 100:
        return f"{x:.0f}"
    if size < 1:
        return f"{x:.3g}"
    text = f"{x:.1f}" if size >= 10 else f"{x:.2f}"
    return text.rstrip("0").rstrip(".")


@lru_cache(maxsize=8192, typed=True)
def quantity(x: float, unit: str) -> str:
    """``45%``, ``412ms``, ``1.5s``, ``12.5 req/s``, ``30 jobs``."""
    if unit == "%":
        return f"{number(x)}%"
    if unit == "s":
        return f"{number(x * 1000)}ms" if abs(x) < 1 else f"{number(x)}s"
    if unit:
        return f"{number(x)} {unit}"
    return number(x)


@lru_cache(maxsize=256, typed=True)
def percent(fraction: float) -> str:
    return f"{number(fraction * 100)}%"


def n_replicas(n: int) -> str:
    return f"{n} replica{'' if n == 1 else 's'}"


def cause(m: MetricOutcome, tol_up: float, tol_down: float) -> str:
    """What one metric says, in words."""
    name = m.name
    if m.status == INVALID or m.value is None:
        return f"{name} {m.note}"
    value = quantity(m.value, m.unit)
    if m.lower is not None:  # threshold mode
        if m.status == UP:
            return f"{name} {value} > {quantity(m.target, m.unit)}"
        if m.status == DOWN:
            return f"{name} {value} < {quantity(m.lower, m.unit)}"
        return f"{name} {value} between {quantity(m.lower, m.unit)} and {quantity(m.target, m.unit)}"
    target = quantity(m.target, m.unit)
    if m.status == TOLERANCE:
        tol = tol_up if m.ratio is not None and m.ratio > 1.0 else tol_down
        return f"{name} {value} within {percent(tol)} of target {target}"
    if m.status == HELD:
        below = m.ratio is not None and m.ratio < 1.0
        return f"{name} {m.note}, no scale-{'down' if below else 'up'}"
    op = ">" if m.value > m.target else "<" if m.value < m.target else "="
    return f"{name} {value} {op} target {target}"


def _verb(limit: Limit, current: int) -> str:
    before, after = limit.before - current, limit.after - current
    if after == 0:
        return "held at"
    if before * after > 0 and abs(after) < abs(before):
        return "limited to"  # a smaller move the same way
    return "raised to" if limit.after > limit.before else "lowered to"


def chain(limits: tuple[Limit, ...] | list[Limit], current: int) -> str:
    """``limited to 6 by scale-up policy +2 pods/15s, held at 4 by ...``."""
    return ", ".join([f"{_verb(lim, current)} {lim.after} by {lim.detail}" for lim in limits])


def explain(
    driver: MetricOutcome | None,
    current: int,
    raw: int,
    limits: tuple[Limit, ...] | list[Limit],
    tol_up: float,
    tol_down: float,
) -> str:
    """The reason for a decision decided by ``driver`` (the metric asking for the most
    replicas; ``None`` without metrics), from ``current`` via the raw proposal ``raw``
    through ``limits``."""
    rest = list(limits)
    if driver is None:
        text = f"no metrics: {current} → {raw}" if raw != current else f"no metrics: stay at {current}"
    else:
        said = cause(driver, tol_up, tol_down)
        if driver.status in (TOLERANCE, HELD):
            if rest and rest[0].kind in _FILLED_IN:
                rest.pop(0)
            text = said if driver.status == HELD else f"{said}: stay at {current}"
        elif raw == current:
            text = f"{said}: stay at {current}"
        else:
            text = f"{said}: {current} → {raw}"
    return f"{text}, {chain(rest, current)}" if rest else text
