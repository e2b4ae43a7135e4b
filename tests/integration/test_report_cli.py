"""``scalepilot report`` over a real store backfilled with six hours of a service's life.

The service ``api`` (autoscaling 1–4 replicas on CPU at 70 %) served 20 req/s on 2
replicas for three hours, then 40 req/s on 4 (its max_replicas) for three; each
replica used half a core. ``quiet`` has a fixed count and no data.

Covers: the measured figures (traffic, replica-hours from the stored replica series,
CPU per replica, minutes at max_replicas, scaling actions) and the cost at a price;
headroom in replicas and req/s; projections per 30 days for ``--users`` and
``--growth``, the oracle never above a policy without violations, and a growth past
max_replicas flagged; the recommendations that evidence asks for (and the capacity one
when no capacity is given); table, markdown and JSON agree; the HTML plot; a service
without data; bad options exit with a message; ``--help`` has examples.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.events import Event, EventKind
from tests.support import backfill_scaled_service

SCALEPILOT = [sys.executable, "-m", "scalepilot", "report"]
NOW_S = int(time.time()) // 60 * 60
STEP_S = 15
HOURS = 6
STARTS = (4.0, 5.0, 6.0, 30.0)
"""Replica starts recorded (start to ready, seconds): the projections' startup delay is their median."""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([*SCALEPILOT, *args], check=False, capture_output=True, text=True, timeout=180, env=env)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    data = root / "data"
    backfill_scaled_service(data, NOW_S, hours=HOURS, step_s=STEP_S)
    store = SQLiteStore.open(data, StorageSettings())
    try:
        for i, startup_s in enumerate(STARTS):
            at_ms = (NOW_S - 3 * 3600 + 10 + i) * 1000
            store.add_event(
                Event(at_ms, EventKind.REPLICA_READY, "ready", "api", {"replica": i, "startup_s": startup_s})
            )
    finally:
        store.close()
    path = root / "scalepilot.yaml"
    path.write_text(
        f"""
storage: {{data_dir: {data}}}
dashboard: {{refresh: 15s}}
services:
  - name: api
    target: {{type: local, command: [app], replicas: 2, resources: {{cpu: 1.0}}}}
    autoscaling:
      min_replicas: 1
      max_replicas: 4
      metrics: [{{type: cpu, target: 70%}}]
  - name: quiet
    target: {{type: local, command: [app], replicas: 3}}
"""
    )
    return path


def service(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["services"] if s["service"] == name)


@pytest.fixture(scope="module")
def full(config: Path) -> dict[str, Any]:
    done = cli(
        "-c", str(config), "--range", "1d", "--replica-rps", "10", "--price", "0.5",
        "--users-now", "100", "--users", "200", "--growth", "3", "-o", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "applies to all 2 services; use -s for one" in done.stderr
    return dict(json.loads(done.stdout))


def test_measured_figures_and_cost(full: dict[str, Any]) -> None:
    api = service(full, "api")
    assert api["replica_hours"] == pytest.approx(2 * 3 + 4 * 3, abs=0.05)
    assert api["covered_seconds"] == pytest.approx(HOURS * 3600, abs=120)
    assert api["scaling_actions"] == 1 and api["scale_ups"] == 1
    u = api["usage"]
    assert u["traffic_rps"]["max"] == pytest.approx(40.0, rel=1e-6)
    assert u["traffic_rps"]["mean"] == pytest.approx(30.0, abs=0.5)
    assert u["cpu_utilization_percent"]["max"] == pytest.approx(50.0, rel=1e-3)
    assert u["above_target"] == {"cpu": 0.0}
    # Exactly the minutes with samples, however long after the data the report runs: a
    # gauge counts only in the minute it was written (no five-minute lookback).
    assert u["minutes_at_max"] == 180 and u["covered_minutes"] == HOURS * 60
    cost = api["cost"]
    assert cost["cost"] == pytest.approx(api["replica_hours"] * 0.5)
    assert cost["per_30_days"] == pytest.approx(cost["cost"] * 30 * 86400 / api["covered_seconds"])
    h = api["headroom"]
    assert h["peak_rps"] == pytest.approx(40.0) and h["ready_at_peak"] == 4 and h["ceiling"] == 4
    assert h["capacity_rps"] == 40.0 and h["growth"] == pytest.approx(1.0)


def test_projections(full: dict[str, Any]) -> None:
    api = service(full, "api")
    cap = api["capacity"]
    assert cap["replica_rps"] == 10 and cap["source"] == "--replica-rps"
    assert cap["startup_delay_seconds"] == 5.5 and cap["startup_source"] == "measured: the median of 4 replica starts"
    rows = {p["label"]: p for p in api["projections"]}
    assert list(rows) == ["as recorded", "200 users", "×3"]
    today, users, tripled = rows["as recorded"], rows["200 users"], rows["×3"]
    assert users["factor"] == 2.0 and users["peak_rps"] == pytest.approx(80.0)
    assert today["needed_replicas"] == 4 and not today["capped"]
    assert tripled["needed_replicas"] == 12 and tripled["capped"]
    assert tripled["per_30_days"]["slo_violation_minutes"] > 0  # max_replicas 4 cannot carry 120 req/s
    # Replicas ready 5.5 s after the decision carry the step from 20 to 40 req/s in time
    # (a 90 s start does not: see the next test).
    assert today["per_30_days"]["slo_violation_minutes"] == 0
    assert today["oracle_per_30_days"]["replica_hours"] <= today["per_30_days"]["replica_hours"]
    # Per 30 days from six hours: the oracle holds 2 then 4 replicas (capacity 10 req/s each).
    assert today["oracle_per_30_days"]["replica_hours"] == pytest.approx((2 * 3 + 4 * 3) * 120, rel=0.02)
    assert today["oracle_per_30_days"]["cost"] == pytest.approx(today["oracle_per_30_days"]["replica_hours"] * 0.5)
    assert "simulated" in api["projection_note"]
    kinds = [r["kind"] for r in api["recommendations"]]
    assert "raise_max_replicas" in kinds and "ceiling_for_growth" in kinds
    ceiling = next(r for r in api["recommendations"] if r["kind"] == "ceiling_for_growth")
    assert "200 users" in ceiling["text"] and "8" in ceiling["text"] and ceiling["source"] == "simulated"
    assert "measure_capacity" not in kinds


def test_a_given_startup_delay_wins(config: Path) -> None:
    done = cli(
        "-c", str(config), "--range", "1d", "-s", "api", "--replica-rps", "10", "--startup-delay", "90s", "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    api = service(json.loads(done.stdout), "api")
    cap = api["capacity"]
    assert (cap["startup_delay_seconds"], cap["startup_source"]) == (90, "--startup-delay")
    # The step to 40 req/s now waits 90 s for its replicas: two minutes of the six hours
    # recorded are violated, ×120 for 30 days.
    today = api["projections"][0]["per_30_days"]
    assert round(today["slo_violation_minutes"] * HOURS * 60 / (30 * 1440)) == 2


def test_a_service_without_data(full: dict[str, Any]) -> None:
    quiet = service(full, "quiet")
    assert quiet["replica_hours"] == 0 and quiet["usage"]["traffic_rps"] is None
    assert quiet["projections"] == [] and "less than an hour" in quiet["projection_note"]


def test_table_markdown_and_plot(config: Path, tmp_path: Path) -> None:
    plot = tmp_path / "report.html"
    table = cli(
        "-c", str(config), "--range", "1d", "-s", "api", "--replica-rps", "10", "--growth", "3", "--plot", str(plot)
    )
    assert table.returncode == 0, table.stderr
    out = table.stdout
    assert "usage (measured)" in out and "projected (simulated, per 30 days)" in out
    assert "raise autoscaling.max_replicas above 4" in out
    assert "quiet" not in out
    page = plot.read_text()
    assert page.count("<svg") == 2 and "Recorded (measured)" in page and "(simulated)" in page
    assert "×3 · " in page and "needs 12, capped at 4" in page and "needs 4<" in page
    md = cli("-c", str(config), "--range", "1d", "-s", "api", "-o", "markdown")
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# Scaling report") and "### Usage (measured)" in md.stdout
    assert "measure a replica's capacity" in md.stdout  # no capacity given: no projection, and it says how
    assert "### Projected" not in md.stdout


def test_bad_options_and_help(config: Path, tmp_path: Path) -> None:
    for args, message in (
        (["--users", "500"], "--users-now"),
        (["--users-now", "0", "--users", "500"], "the users today must be more than 0"),
        (["--growth", "two"], "not a number"),
        (["--range", "10m"], "at least 1h"),
        (["-s", "nope"], "no service nope"),
        (["--plot", str(tmp_path / "x.png")], ".html"),
    ):
        done = cli("-c", str(config), *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    missing = cli("-c", str(config), "--data-dir", str(tmp_path / "none"))
    assert missing.returncode == 1 and "no data directory" in missing.stderr
    helped = cli("--help")
    assert helped.returncode == 0 and "Examples" in helped.stdout and "--users-now" in helped.stdout
