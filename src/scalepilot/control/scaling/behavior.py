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

# ``Select.X`` is slow on Python 3.11 (``EnumType.__getattr__``); called every decision.
_DISABLED, _MIN = Select.DISABLED, Select.MIN


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
    # An entry counts for a window when it is newer than both the window and ``keep``,
    # i.e. newer than the shorter of the two: ``now - w`` only grows as ``w`` shrinks,
    # in floating point too, so one comparison per entry and window is exact.
    up_cut = now - (up_window if up_window < keep else keep)
    down_cut = now - (down_window if down_window < keep else keep)
    up_rec = down_rec = desired
    for t, r in recommendations:
        # up_rec <= desired <= down_rec throughout, so an r above down_rec cannot be
        # below up_rec: one comparison settles most entries.
        if r > down_rec:
            if t > down_cut:
                down_rec = r
        elif r < up_rec and t > up_cut:
            up_rec = r
    # Drop the expired prefix only: history is kept in time order, but a clock that
    # stepped back can leave an old entry behind a newer one, and that one stays.
    keep_cut = now - keep
    first = 0
    n = len(recommendations)
    while first < n and recommendations[first][0] <= keep_cut:
        first += 1
    return min(max(current, up_rec), down_rec), (*recommendations[first:], (now, desired))


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
    if rules.select is _DISABLED:
        return current, None
    use_min = rules.select is _MIN
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
    if rules.select is _DISABLED:
        return current, None
    use_min = rules.select is _MIN
    best: int | None = None
    chosen: RatePolicy | None = None
    for policy in rules.policies:
        start = _period_start(current, events, now, policy.period)
        proposed = int(start * (1 - policy.value / 100)) if policy.percent else start - policy.value
        if best is None or (proposed > best if use_min else proposed < best):
            best, chosen = proposed, policy
    return (current if best is None else best), chosen
