"""``scalepilot demo``: a real service under real load, scaled live.

The plan: the bundled example service (``scalepilot.examples.shop``: each request waits
on a simulated ~100–140 ms upstream call and does a little CPU work, 8 requests at a
time per replica, so one replica serves about 8 / 0.12 s ≈ 65 requests/s and beyond that
requests queue and p95 climbs) runs as local replicas behind the built-in balancer, and
an open-loop load generator drives it quiet → peak → quiet. Everything binds loopback
only and stops by itself.

This module builds the demo's config (written next to its data, so it doubles as a
worked example), the load profile, and the closing summary; the CLI draws the live view.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from scalepilot.adapters.loadgen import LoadSecond, ramp
from scalepilot.adapters.loadgen.generator import Profile
from scalepilot.domain.events import Event, EventKind

QUIET_RPS = 15.0
ROLLOUT_NEEDS_S = 40.0
"""The final quiet phase must be this long for the demo to roll a new version out in it:
the canary's steps (about 30 s with replica starts) and the old replicas' drain."""


@dataclass(frozen=True, slots=True)
class DemoPlan:
    duration_s: float
    peak_rps: float
    server_port: int
    rollout: bool = True
    """Roll version 2 of the shop out in the final quiet phase, when it is long enough."""

    @property
    def phases(self) -> list[tuple[str, float, float]]:
        """(name, start, end) in seconds: quiet, ramp up, peak, ramp down, quiet."""
        d = self.duration_s
        marks = [0.0, 0.15 * d, 0.25 * d, 0.6 * d, 0.7 * d, d]
        names = ["quiet", "ramp up", "peak", "ramp down", "quiet"]
        return [(n, a, b) for n, a, b in zip(names, marks, marks[1:], strict=False)]

    def profile(self) -> Profile:
        (_, _, up), (_, _, top), (_, _, hold), (_, _, down), _ = self.phases
        return ramp([(0, QUIET_RPS), (up, QUIET_RPS), (top, self.peak_rps), (hold, self.peak_rps), (down, QUIET_RPS)])

    @property
    def rollout_at(self) -> float | None:
        """Seconds into the load at which version 2 is rolled out; None if not."""
        _, start, end = self.phases[-1]
        return start if self.rollout and end - start >= ROLLOUT_NEEDS_S else None

    def phase_at(self, t: float) -> str:
        for name, start, end in self.phases:
            if start <= t < end:
                return name
        return "done"

    def config_yaml(self, version: int = 1) -> str:
        """The demo's config; ``version`` 2 differs only in the shop's environment, which
        a reload rolls out by the ``rollout:`` block (a canary with analysis)."""
        python = sys.executable
        return f"""# Written by `scalepilot demo`; run it yourself with `scalepilot run -c <this file>`.
server:
  address: 127.0.0.1:{self.server_port}
storage:
  data_dir: .                    # this directory
scrape: {{interval: 2s, timeout: 1s}}
probe: {{interval: 2s, timeout: 1s}}
host_stats: {{interval: 2s}}
services:
  - name: shop
    labels: {{team: marketplace}}
    target:
      type: local
      command: ["{python}", -m, scalepilot.examples.shop, --port, "{{port}}", --concurrency, "8"]
      env: {{SHOP_VERSION: "{version}"}}   # a reload with a new version rolls it out (rollout: below)
      replicas: 2
      readiness: {{type: http, path: /healthz, interval: 500ms, timeout: 1s}}
      resources: {{cpu: 0.5, memory: 256MiB}}
      grace_period: 10s
      stop_timeout: 5s
    balancer:
      listen: 127.0.0.1:0        # a free port; see /status
    autoscaling:
      min_replicas: 2
      max_replicas: 10
      interval: 5s               # evaluate often: the demo is short
      window: 10s                # metrics averaged over the last 10 s (5 scrapes)
      metrics:
        # one replica serves ~65 req/s (8 at a time x ~120 ms): aim for ~70 % of that
        - {{type: rps, target: 45}}
        # and a guard on what users feel, at the seeds' critical threshold
        - {{type: latency, quantile: 0.95, target: 500ms}}
      behavior:                  # the HPA's behavior block; scale-down sped up for the demo
        scaleUp:
          stabilizationWindowSeconds: 0
          policies: [{{type: Pods, value: 4, periodSeconds: 10}}]
        scaleDown:
          stabilizationWindowSeconds: 30
          policies: [{{type: Pods, value: 2, periodSeconds: 10}}]
    rollout:                     # how a new version (here: SHOP_VERSION) replaces the running one
      strategy: canary
      steps: [{{weight: 25}}, {{pause: 8s}}, {{weight: 50}}, {{pause: 8s}}]
      scale_down_delay: 5s       # old replicas kept this long after all traffic moved
      analysis:                  # measured every interval while the canary has traffic
        interval: 4s
        window: 20s
        max_error_rate: 5%
        max_latency: 500ms
        on_no_data: pass         # a quiet canary with no request yet is not a failure here
"""


@dataclass(frozen=True, slots=True)
class DemoSummary:
    peak_replicas: int
    first_scale_up_s: float | None
    """Seconds from the start of the ramp to the first scale-up action."""
    first_ready_s: float | None
    """Seconds from the start of the ramp until a replica added by it was ready."""
    p95_before_s: float | None
    """Client-measured p95 from the start of the ramp until the new replicas were ready."""
    p95_after_s: float | None
    """Client-measured p95 over the second half of the peak, once scaled."""
    offered: int
    served: int
    errors: int
    shed: int
    rollout: str = ""
    """What became of the rollout of version 2: how long it took and how it ended, or why
    there was none."""


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


def summarize(
    plan: DemoPlan, seconds: list[LoadSecond], events: list[Event], started_ms: int, peak_replicas: int
) -> DemoSummary:
    """``events`` oldest first; ``started_ms`` is when the load began; ``peak_replicas``
    the most ready replicas seen."""
    ramp_start = plan.phases[1][1]
    scaled = [e for e in events if e.kind == "scaled" and e.details.get("to", 0) > e.details.get("from", 0)]
    first_up = next((e for e in scaled if (e.timestamp_ms - started_ms) / 1000 >= ramp_start), None)
    first_up_s = None if first_up is None else (first_up.timestamp_ms - started_ms) / 1000 - ramp_start
    ready_s = None
    if first_up is not None:
        ready = next((e for e in events if e.kind == "replica_ready" and e.timestamp_ms >= first_up.timestamp_ms), None)
        if ready is not None:
            ready_s = (ready.timestamp_ms - started_ms) / 1000 - ramp_start
    rollout = _rollout_outcome(plan, events)
    _, peak_start, peak_end = plan.phases[2]
    before_end = ramp_start + (ready_s if ready_s is not None else plan.phases[2][2] - ramp_start)
    before = [x for s in seconds if ramp_start <= s.second < before_end for x in s.latencies_s]
    after = [x for s in seconds if (peak_start + peak_end) / 2 <= s.second < peak_end for x in s.latencies_s]
    return DemoSummary(
        peak_replicas=peak_replicas,
        first_scale_up_s=first_up_s,
        first_ready_s=ready_s,
        p95_before_s=quantile(before, 0.95),
        p95_after_s=quantile(after, 0.95),
        offered=sum(s.offered for s in seconds),
        served=sum(s.ok for s in seconds),
        errors=sum(s.errors for s in seconds),
        shed=sum(s.shed for s in seconds),
        rollout=rollout,
    )


def _rollout_outcome(plan: DemoPlan, events: list[Event]) -> str:
    if not plan.rollout:
        return "not made (--no-rollout)"
    if plan.rollout_at is None:
        return f"not made: the last quiet phase is shorter than {ROLLOUT_NEEDS_S:g} s (try --duration 3m)"
    started = next((e for e in events if e.kind == EventKind.ROLLOUT_STARTED), None)
    if started is None:
        return "not started"
    ended = next(
        (
            e
            for e in events
            if e.kind in (EventKind.ROLLOUT_PROMOTED, EventKind.ROLLOUT_ABORTED)
            and e.timestamp_ms >= started.timestamp_ms
        ),
        None,
    )
    if ended is None:
        return "still running when the demo ended"
    took = (ended.timestamp_ms - started.timestamp_ms) / 1000
    if ended.kind == EventKind.ROLLOUT_PROMOTED:
        return f"version 2 promoted after {took:.0f} s (canary 25 % → 50 % → 100 %; analysis found no failure)"
    return f"aborted after {took:.0f} s: {ended.details.get('reason') or ended.message}"


def default_data_dir() -> Path:
    return Path(".scalepilot-demo")
