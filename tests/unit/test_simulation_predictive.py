"""The ``predictive`` baseline in the simulator.

Covers: the baseline is the ``hpa`` section plus a predictive block (capacity, horizon =
startup delay + 2 m, min_history 2 h); on a trace with a sharp daily ramp and a 5 m
startup it provisions ahead of the ramp once it has a day of history (at the third
day's ramp, fewer than half the violation minutes of ``hpa``) at a few percent more replica-hours; the
forecast in each decision comes from the trace's past only: changing the load after a
moment leaves every decision before it (and its forecast) unchanged; same input, same
numbers; ``scalepilot simulate --compare predictive`` runs it and reports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.simulation import Recorded, ServiceModel, Trace, simulate
from scalepilot.control.simulation.baselines import ALL, DEFAULT, baseline

DAY = 86_400
START = 1_750_000_000 // DAY * DAY
STEP = 60.0
MODEL = ServiceModel(10.0, startup_delay=300.0)
CLI = (sys.executable, "-m", "scalepilot", "simulate")
ARGS = ("--startup-delay", "300s", "--compare", "hpa,predictive", "-o", "json")


def ramp_trace(days: int = 3) -> Trace:
    """30 req/s at night; from 08:00 UTC up to 180 req/s within 6 minutes, until 20:00."""
    t = START + STEP * np.arange(days * 1440)
    minute = (t % DAY) / 60.0
    up = np.clip((minute - 480) / 6.0, 0.0, 1.0)
    rps = np.where(minute < 1200, 30.0 + 150.0 * up, 30.0)
    return Trace(t.astype(np.float64), rps.astype(np.float64))


def settings(name: str) -> AutoscalingSettings:
    return baseline(name, replica_rps=10.0, min_replicas=1, max_replicas=100, startup_delay=300.0)


def test_the_baseline_is_hpa_plus_a_predictive_block() -> None:
    hpa, pred = settings("hpa"), settings("predictive")
    assert "predictive" in ALL and "predictive" not in DEFAULT
    assert pred.metrics == hpa.metrics and pred.interval == hpa.interval
    p = pred.predictive
    assert (p.enabled, p.replica_rps, p.horizon, p.min_history) == (True, 10.0, 420.0, 7200.0)
    assert not hpa.predictive.enabled


def test_provisions_ahead_of_a_daily_ramp() -> None:
    trace = ramp_trace()
    hpa = simulate("hpa", settings("hpa"), trace, MODEL, step=STEP)
    pred = simulate("predictive", settings("predictive"), trace, MODEL, step=STEP)
    day3_ramp = slice(2 * 1440 + 470, 2 * 1440 + 520)
    assert pred.violated[day3_ramp].sum() < hpa.violated[day3_ramp].sum() / 2
    assert pred.report.slo_violation_minutes < hpa.report.slo_violation_minutes
    assert pred.report.replica_hours < 1.1 * hpa.report.replica_hours


def test_no_peeking_future_load_does_not_change_past_decisions() -> None:
    trace = ramp_trace(2)
    cut = 1440 + 470  # day 2, 07:50: the forecast would see the ramp if it peeked
    changed = trace.rps.copy()
    changed[cut:] *= 4.0
    a: list[Recorded] = []
    b: list[Recorded] = []
    simulate("p", settings("predictive"), trace, MODEL, step=STEP, record=a)
    simulate("p", settings("predictive"), Trace(trace.timestamps, changed), MODEL, step=STEP, record=b)
    before = [r for r in a if r.now < trace.timestamps[cut]]
    assert len(before) == sum(1 for r in b if r.now < trace.timestamps[cut]) > 1000
    assert before == b[: len(before)]  # observations (forecasts included) and decisions
    used = [r.observation.forecast for r in before if r.observation.forecast is not None]
    assert len(used) == len(before)
    assert used[-1].history == (cut - 1) * STEP  # made at the start of the last step before the cut
    # ...and the change shows up after the cut: the forecast there differs
    after_a = [r.observation.forecast for r in a if r.now >= trace.timestamps[cut] + 600]
    after_b = [r.observation.forecast for r in b if r.now >= trace.timestamps[cut] + 600]
    assert after_a[0] != after_b[0]


def test_same_input_same_numbers() -> None:
    trace = ramp_trace(2)
    a = simulate("p", settings("predictive"), trace, MODEL, step=STEP)
    b = simulate("p", settings("predictive"), ramp_trace(2), MODEL, step=STEP)
    assert a.report == b.report
    np.testing.assert_array_equal(a.provisioned, b.provisioned)


def test_cli_compares_predictive(tmp_path: Path) -> None:
    trace = ramp_trace(2)
    path = tmp_path / "trace.csv"
    path.write_text(
        "timestamp,rps\n" + "".join(f"{int(t)},{r:.3f}\n" for t, r in zip(trace.timestamps, trace.rps, strict=True))
    )
    res = subprocess.run(
        [*CLI, "--trace", str(path), "--replica-rps", "10", *ARGS],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out["policies"]) == {"hpa", "predictive"}
    assert out["policies"]["predictive"]["slo_violation_minutes"] < out["policies"]["hpa"]["slo_violation_minutes"]
