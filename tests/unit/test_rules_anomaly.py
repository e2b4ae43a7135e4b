"""Anomaly rules: the seasonal baseline band, its minimum-history guard, and a whole
rule evaluated over a real query engine and an in-memory history."""

from __future__ import annotations

import math

from scalepilot.config.rules import load_rule_text
from scalepilot.control.alerting.rules import anomaly
from scalepilot.control.alerting.rules.compile import compile_file
from scalepilot.control.alerting.rules.group import GroupEvaluator
from scalepilot.control.alerting.rules.model import AnomalyParams
from scalepilot.control.alerting.rules.unittest import MemorySeries
from scalepilot.control.query.engine import Engine
from scalepilot.domain.alerts import AlertState
from scalepilot.domain.labels import Labels
from scalepilot.domain.query import InstantSample

DAY = anomaly.DAY_MS
STEP = 300_000


def params(**kw: object) -> AnomalyParams:
    base: dict[str, object] = {
        "seasonality": "daily",
        "k": 3.0,
        "window_ms": 1_800_000,
        "history_ms": 7 * DAY,
        "min_seasons": 3,
        "direction": "both",
        "min_deviation": 0.0,
        "min_deviation_ratio": 0.0,
    }
    base.update(kw)
    return AnomalyParams(**base)  # type: ignore[arg-type]


def test_baseline_is_median_and_scaled_mad() -> None:
    b = anomaly.baseline(params(), [[10, 12], [11, 100], [9, 10]])
    assert b is not None
    # values 9 10 10 11 12 100: median 10.5; |dev| .5 .5 .5 1.5 1.5 89.5 → MAD 1.0
    assert b.median == 10.5 and math.isclose(b.sigma, 1.4826) and math.isclose(b.half_width, 3 * 1.4826)
    assert b.seasons == 3


def test_too_little_history_gives_no_verdict() -> None:
    assert anomaly.baseline(params(min_seasons=3), [[1.0], [], [2.0]]) is None
    assert anomaly.baseline(params(min_seasons=2), [[1.0], [], [2.0]]) is not None


def test_floors_keep_a_flat_history_from_alerting_on_every_wobble() -> None:
    flat = [[100.0] * 5] * 4
    b = anomaly.baseline(params(min_deviation_ratio=0.05), flat)
    assert b is not None and b.half_width == 5.0
    assert not anomaly.is_anomalous(params(), 104.0, b)
    assert anomaly.is_anomalous(params(), 106.0, b)


def test_direction() -> None:
    b = anomaly.Baseline(median=10, sigma=1, half_width=3, seasons=3)
    assert anomaly.is_anomalous(params(direction="above"), 14, b)
    assert not anomaly.is_anomalous(params(direction="above"), 6, b)
    assert anomaly.is_anomalous(params(direction="below"), 6, b)
    assert not anomaly.is_anomalous(params(), math.nan, b)


def test_auto_seasonality_takes_weeks_once_history_allows() -> None:
    assert anomaly.period_ms(params(seasonality="auto", history_ms=28 * DAY, min_seasons=3)) == anomaly.WEEK_MS
    assert anomaly.period_ms(params(seasonality="auto", history_ms=14 * DAY, min_seasons=3)) == DAY


def test_detect_keeps_only_series_outside_their_band() -> None:
    cur = [
        InstantSample((("s", "a"),), 0, 50.0),
        InstantSample((("s", "b"),), 0, 10.5),
        InstantSample((("s", "c"),), 0, 99.0),
    ]
    hist: dict[Labels, list[list[float]]] = {(("s", "a"),): [[10.0, 11.0]] * 3, (("s", "b"),): [[10.0, 11.0]] * 3}
    assert [s.labels for s in anomaly.detect(params(), cur, hist)] == [(("s", "a"),)]


RULE = """
groups:
  - name: g
    interval: 5m
    rules:
      - alert: TrafficAnomaly
        anomaly:
          expr: traffic
          seasonality: daily
          k: 3
          window: 30m
          history: 4d
          min_seasons: 3
        annotations: {summary: "{{ $value }}"}
"""


def daily(t_ms: int) -> float:
    return 100 + 50 * math.sin(2 * math.pi * (t_ms % DAY) / DAY) + ((t_ms // STEP) % 3)


def test_anomaly_rule_fires_on_an_outlier_and_not_on_the_usual_daily_peak() -> None:
    spec, issues = load_rule_text(RULE, "a.yml")
    groups, more = compile_file(spec, issues, 60_000)
    assert not issues and not more
    store = MemorySeries()
    labels = (("__name__", "traffic"), ("service", "web"))
    start = 0
    now = 4 * DAY + DAY // 4  # the daily peak (sin = 1)
    for t in range(start, now + 1, STEP):
        store.add(labels, t, daily(t))
    engine = Engine(store, lookback_ms=300_000)
    ev = GroupEvaluator(groups[0])
    ev.evaluate(now, engine, lambda s, t: None)
    assert ev.alerts() == []  # a peak, but the usual one at this time of day

    store.add(labels, now + STEP, daily(now + STEP) * 3)  # three times the usual
    out = ev.evaluate(now + STEP, engine, lambda s, t: None)
    ((_, alert),) = ev.alerts()
    assert alert.state is AlertState.FIRING
    assert out.to_send and out.to_send[0].labels == (("alertname", "TrafficAnomaly"), ("service", "web"))


def test_anomaly_rule_stays_quiet_without_enough_history() -> None:
    spec, issues = load_rule_text(RULE, "a.yml")
    groups, _ = compile_file(spec, issues, 60_000)
    store = MemorySeries()
    labels = (("__name__", "traffic"), ("service", "web"))
    now = 2 * DAY  # two seasons only, three required
    for t in range(0, now, STEP):
        store.add(labels, t, daily(t))
    store.add(labels, now, 10_000.0)
    ev = GroupEvaluator(groups[0])
    ev.evaluate(now, Engine(store, lookback_ms=300_000), lambda s, t: None)
    assert ev.alerts() == []
