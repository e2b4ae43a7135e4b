"""``scalepilot simulate`` run as a real process.

Covers: ``-o json`` prints exactly one object with every policy's five figures and the
oracle; the table ends with the oracle; ``--compare`` with several policies (parallel
processes) gives the same numbers as one at a time; a user's ``--policy`` file runs and a
broken one exits 1 with file:line; a malformed trace exits 1 naming the line;
``--scale-peak-replicas`` scales the trace; ``--plot`` writes a self-contained HTML page;
``--help`` shows examples.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCALEPILOT = [sys.executable, "-m", "scalepilot", "simulate"]
FIELDS = {"slo_violation_minutes", "replica_hours", "cost", "scaling_actions", "overload_requests"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*SCALEPILOT, *args], check=False, capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    minutes = np.arange(6 * 60)
    rps = 60 + 50 * np.sin(minutes / 60.0) + np.where((minutes > 100) & (minutes < 115), 120, 0)
    path = tmp_path / "trace.csv"
    path.write_text(
        "timestamp,rps\n" + "".join(f"{1_700_000_000 + 60 * m},{r:.3f}\n" for m, r in zip(minutes, rps, strict=True))
    )
    return path


def test_json_is_one_object_with_every_figure(trace: Path) -> None:
    res = cli("--trace", str(trace), "--replica-rps", "10", "--cost-per-replica-hour", "2", "-o", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["policies"]) == {"hpa", "keda", "static"}
    for report in [*doc["policies"].values(), doc["oracle"]]:
        assert set(report) == FIELDS
        assert report["cost"] == pytest.approx(2 * report["replica_hours"])
    assert doc["trace"]["steps"] == 360
    assert doc["policies"]["static"]["slo_violation_minutes"] == 0
    assert doc["policies"]["static"]["replica_hours"] == pytest.approx(23 * 6)  # peak ≈ 226 req/s
    for report in doc["policies"].values():
        assert report["replica_hours"] >= doc["oracle"]["replica_hours"]


def test_parallel_compare_matches_single_runs(trace: Path) -> None:
    both = json.loads(cli("--trace", str(trace), "--replica-rps", "10", "-o", "json").stdout)
    for name in ("hpa", "keda"):
        alone = json.loads(cli("--trace", str(trace), "--replica-rps", "10", "--compare", name, "-o", "json").stdout)
        assert alone["policies"][name] == both["policies"][name]


def test_table_ends_with_the_oracle(trace: Path) -> None:
    res = cli("--trace", str(trace), "--replica-rps", "10")
    assert res.returncode == 0, res.stderr
    rows = [line for line in res.stdout.splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["hpa", "keda", "static", "oracle"]
    assert "1.00×" in rows[-1]


def test_user_policy_and_its_errors(trace: Path, tmp_path: Path) -> None:
    good = tmp_path / "eager.yaml"
    good.write_text("autoscaling:\n  max_replicas: 50\n  metrics:\n    - type: rps\n      target: 5\n")
    res = cli("--trace", str(trace), "--replica-rps", "10", "--compare", "hpa", "--policy", str(good), "-o", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["policies"]) == {"hpa", "eager"}
    # Aiming at half a replica's capacity costs more than hpa's 70 %.
    assert doc["policies"]["eager"]["replica_hours"] > doc["policies"]["hpa"]["replica_hours"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("autoscaling:\n  max_replicas: 50\n  metrics:\n    - type: rps\n      targt: 5\n")
    res = cli("--trace", str(trace), "--replica-rps", "10", "--policy", str(bad))
    assert res.returncode == 1
    assert f"{bad}:5:" in res.stderr
    assert "targt" in res.stderr


def test_malformed_trace_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,rps\n60,1\n120,2\n180,lots\n")
    res = cli("--trace", str(path), "--replica-rps", "10")
    assert res.returncode == 1
    assert f"{path}:4: rps 'lots' is not a number" in res.stderr


def test_scale_peak_and_plot(trace: Path, tmp_path: Path) -> None:
    plot = tmp_path / "runs.html"
    res = cli(
        "--trace", str(trace), "--replica-rps", "5", "--scale-peak-replicas", "20", "--plot", str(plot), "-o", "json"
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["trace"]["peak_replicas"] == pytest.approx(20)
    assert doc["policies"]["static"]["replica_hours"] == pytest.approx(20 * 6)
    page = plot.read_text()
    assert page.count("<svg") == 4  # hpa, keda, static, oracle
    assert "<script" not in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_help_has_examples() -> None:
    res = cli("--help")
    assert res.returncode == 0
    assert "Examples" in res.stdout
    assert "--trace-format" in res.stdout


def test_a_loadtest_capacity_model_supplies_capacity_startup_and_cost(trace: Path, tmp_path: Path) -> None:
    from scalepilot.control.capacity import CapacityModel
    from scalepilot.service.loadtest import write_capacity_model

    model = tmp_path / "shop.yaml"
    write_capacity_model(
        model,
        CapacityModel(
            replica_rps=10.0,
            slo_p95=0.2,
            startup_delay=90.0,
            cost_per_replica_hour=3.0,
            latency_curve=((0.5, 0.1), (1.0, 0.2)),
            measured_at="2026-12-06T00:00:00Z",
            url="http://127.0.0.1:8080/",
            source="measured",
        ),
    )
    via_model = json.loads(cli("--trace", str(trace), "--model", str(model), "--compare", "hpa", "-o", "json").stdout)
    explicit = cli(
        "--trace", str(trace), "--replica-rps", "10", "--startup-delay", "90s", "--cost-per-replica-hour", "3",
        "--compare", "hpa", "-o", "json",
    )  # fmt: skip
    assert via_model["policies"] == json.loads(explicit.stdout)["policies"]
    assert via_model["policies"]["hpa"]["cost"] == pytest.approx(3 * via_model["policies"]["hpa"]["replica_hours"])
    # An option given explicitly wins over the model.
    cheaper = json.loads(
        cli(
            "--trace",
            str(trace),
            "--model",
            str(model),
            "--cost-per-replica-hour",
            "1",
            "--compare",
            "hpa",
            "-o",
            "json",
        ).stdout
    )
    assert cheaper["policies"]["hpa"]["cost"] == pytest.approx(cheaper["policies"]["hpa"]["replica_hours"])

    broken = tmp_path / "broken.yaml"
    broken.write_text("replica_rps: -1\n")
    res = cli("--trace", str(trace), "--model", str(broken))
    assert res.returncode == 1 and str(broken) in res.stderr

    res = cli("--trace", str(trace))
    assert res.returncode != 0 and "--replica-rps" in res.stderr
