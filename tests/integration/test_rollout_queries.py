"""The analysis's built-in checks, compiled to PromQL, evaluated by the PromQL engine over
a real store holding the balancer's per-group series as ``BalancerRecorder`` writes
them: each check gives the number its docs promise (the canary's error rate, its p95,
each against the stable group's), and a group without traffic gives no data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from scalepilot.adapters.balancer import LATENCY_BUCKETS
from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.config.rollout import RolloutSettings
from scalepilot.control.query.engine import Engine
from scalepilot.control.rollout import compile_plan
from scalepilot.control.rollout.machine import applicable, judge
from scalepilot.domain.labels import make_labels
from scalepilot.domain.rollout import Verdict
from scalepilot.service.balancing import format_le

T0 = 1_700_000_000_000
T1 = T0 + 30_000
SETTINGS = RolloutSettings.model_validate(
    {
        "analysis": {
            "window": "1m",
            "max_error_rate": "2%",
            "max_latency": "150ms",
            "max_error_rate_increase": "1%",
            "max_latency_ratio": 1.5,
        }
    }
)


def write_group(store: SQLiteStore, group: str, codes: dict[str, int], le: float, at: int, scale: float) -> None:
    """The group's counters at ``at``: ``scale`` × the final counts, every request
    answered within the bucket ``le`` (and above the one below it)."""
    rows: list[tuple[dict[str, str], float]] = []
    base = {"job": "shop", "service": "shop", "group": group}
    for code, n in codes.items():
        rows.append(({"__name__": "scalepilot_lb_group_requests_total", **base, "code": code}, n * scale))
    total = sum(codes.values()) * scale
    for bound in (*LATENCY_BUCKETS, math.inf):
        name = "scalepilot_lb_group_request_duration_seconds_bucket"
        rows.append(({"__name__": name, **base, "le": format_le(bound)}, total if bound >= le else 0.0))
    labels = [make_labels(row.pop("__name__"), row) for row, _ in rows]
    store.append(store.series_ids(labels), at, [value for _, value in rows])


def evaluate(store: SQLiteStore) -> dict[str, float | None]:
    plan = compile_plan(SETTINGS, "shop")
    assert plan.analysis is not None
    engine = Engine(store)
    out: dict[str, float | None] = {}
    for check in plan.analysis.checks:
        result = engine.instant(check.query, T1)
        assert len(result.vector) <= 1, (check.name, result.vector)
        value = result.vector[0].value if result.vector else None
        out[check.name] = None if value is None or math.isnan(value) else value
    return out


def test_builtin_checks_give_the_canary_figures_and_their_difference_from_stable(tmp_path: Path) -> None:
    with SQLiteStore.open(tmp_path, StorageSettings()) as store:
        for at, scale in ((T0, 0.0), (T1, 1.0)):
            # canary: 3 % errors, every answer within 150-200 ms; stable: 1 %, within 75-100 ms.
            write_group(store, "canary", {"200": 97, "500": 3}, 0.2, at, scale)
            write_group(store, "stable", {"200": 990, "503": 10}, 0.1, at, scale)
        got = evaluate(store)
    assert got["error_rate"] == pytest.approx(3.0)
    assert got["latency"] == pytest.approx(0.15 + 0.95 * 0.05)  # linear inside the bucket, as Prometheus
    assert got["error_rate_increase"] == pytest.approx(2.0)
    assert got["latency_ratio"] == pytest.approx((0.15 + 0.95 * 0.05) / (0.075 + 0.95 * 0.025))


def test_no_errors_is_zero_and_a_group_without_traffic_is_no_data(tmp_path: Path) -> None:
    with SQLiteStore.open(tmp_path, StorageSettings()) as store:
        for at, scale in ((T0, 0.0), (T1, 1.0)):
            write_group(store, "canary", {"200": 50}, 0.1, at, scale)  # no 5xx series at all
            write_group(store, "stable", {"200": 0}, 0.1, at, scale)  # no traffic: 0/0
        got = evaluate(store)
    assert got["error_rate"] == 0.0  # "or vector(0)": no 5xx series is no error, not no data
    assert got["error_rate_increase"] is None and got["latency_ratio"] is None
    plan = compile_plan(SETTINGS, "shop")
    assert plan.analysis is not None
    # With all traffic on the canary the comparisons are left out, not "no data".
    results = [None if not applicable(c, 100) else (got[c.name], "") for c in plan.analysis.checks]
    measured = judge(plan.analysis, results, T1 / 1000)
    assert [v.name for v in measured.values] == ["error_rate", "latency"]
    assert measured.verdict is Verdict.PASSED
    # At 50 % they are measured, and their missing data counts.
    assert judge(plan.analysis, [(got[c.name], "") for c in plan.analysis.checks], 0.0).verdict is Verdict.NO_DATA
