"""The HPA's ``behavior``: stabilization windows and rate policies.

Ports of ``stabilizeRecommendationWithBehaviors``, ``convertDesiredReplicasWithBehaviorRate``
and ``calculateScale{Up,Down}Limit...`` from Kubernetes' ``horizontal.go``:

* **Stabilization.** Every decision's unstabilized recommendation is remembered. The
  result may rise no higher than the *lowest* recommendation of the last scale-up window
  and fall no lower than the *highest* of the last scale-down window (default 0 s and
  300 s: scale up at once, scale down only to the highest count asked for in the last
  five minutes). A recommendation exactly ``window`` seconds old no longer counts.
* **Rate policies.** Each policy allows, over any ``periodSeconds``, ``value`` pods or
  ``value`` percent of the replicas the period started with, where that start is the
  current count minus every change made within the period (both directions). A
  percentage rounds up when adding, down when removing. ``selectPolicy: Max`` takes the
  policy allowing the largest change, ``Min`` the smallest, ``Disabled`` forbids the
  direction. A limit never moves against the proposal.

History is kept as tuples of ``(time, value)``, oldest first, and trimmed to the
longest window on every decision, so one decision costs O(window / interval).
"""

from __future__ import annotations

from math import ceil

from scalepilot.control.scaling.policy import DirectionRules, RatePolicy, Select

History = tuple[tuple[float, int], ...]


def stabilize(
    recommendations: History,
    now: float,
    current: int,
    desired: int,
    up_window: float,
    down_window: float,
    keep: float,
) -> tuple[int, History]:
    """The stabilized recommendation, and the history with ``desired`` recorded and
    entries older than ``keep`` seconds dropped."""
    up_rec = down_rec = desired
    up_cut = now - up_window
    down_cut = now - down_window
    keep_cut = now - keep
    first = 0
    for i, (t, r) in enumerate(recommendations):
        if t <= keep_cut:
            if first == i:
                first = i + 1  # drop the expired prefix (history is kept in time order)
            continue
        if t > up_cut and r < up_rec:
            up_rec = r
        if t > down_cut and r > down_rec:
            down_rec = r
    result = current
    result = max(result, up_rec)
    result = min(result, down_rec)
    return result, (*recommendations[first:], (now, desired))


def trim(events: History, now: float, keep: float) -> History:
    """``events`` without the entries ``keep`` seconds old or older."""
    cut = now - keep
    first = 0
    for t, _ in events:
        if t > cut:
            break
        first += 1
    return events[first:] if first else events


def _period_start(current: int, events: History, now: float, period: float) -> int:
    cut = now - period
    changed = 0
    for t, change in events:
        if t > cut:
            changed += change
    return current - changed


def scale_up_limit(current: int, events: History, now: float, rules: DirectionRules) -> tuple[int, RatePolicy | None]:
    """The most replicas the scale-up policies allow now, and the policy that sets it
    (``None`` when ``selectPolicy`` is ``Disabled``)."""
    if rules.select is Select.DISABLED:
        return current, None
    use_min = rules.select is Select.MIN
    best: int | None = None
    chosen: RatePolicy | None = None
    for policy in rules.policies:
        start = _period_start(current, events, now, policy.period)
        proposed = ceil(start * (1 + policy.value / 100)) if policy.percent else start + policy.value
        if best is None or (proposed < best if use_min else proposed > best):
            best, chosen = proposed, policy
    return (current if best is None else best), chosen


def scale_down_limit(current: int, events: History, now: float, rules: DirectionRules) -> tuple[int, RatePolicy | None]:
    """The fewest replicas the scale-down policies allow now, and the policy that sets
    it (``None`` when ``selectPolicy`` is ``Disabled``)."""
    if rules.select is Select.DISABLED:
        return current, None
    use_min = rules.select is Select.MIN
    best: int | None = None
    chosen: RatePolicy | None = None
    for policy in rules.policies:
        start = _period_start(current, events, now, policy.period)
        proposed = int(start * (1 - policy.value / 100)) if policy.percent else start - policy.value
        if best is None or (proposed > best if use_min else proposed < best):
            best, chosen = proposed, policy
    return (current if best is None else best), chosen
