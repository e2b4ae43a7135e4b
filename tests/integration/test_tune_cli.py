"""``scalepilot tune``: end to end as a real process (``python -m scalepilot tune``), and
in-process through typer's CliRunner where a second interpreter would only add start-up
time (with ``--jobs 1``: no worker processes forked from pytest).

Covers: ``-o json`` prints one object — every trial with its parameters and five
figures, trial 0 the base policy as ``scalepilot simulate`` reports it, the Pareto
indices, the best within the budget (which defaults to the base's own violation minutes)
and the budget; the same seed gives the same trials, in worker processes or not, and another seed
others; the
``autoscaling:`` block printed under the table validates as ``scalepilot.yaml`` does and,
fed back through ``scalepilot simulate --policy``, reproduces the best trial's figures;
a predictive base searches its safety factor and horizon; an unreachable budget gives no
best (on tests/data/traces/small.csv); a malformed trace exits 1 naming file:line; ``--plot`` writes a self-contained
page with every trial and the front; ``--help`` shows examples.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.control.simulation import ServiceModel, simulate
from scalepilot.control.simulation.baselines import baseline
from scalepilot.faces.cli.simulate_cmd import simulate_cmd
from scalepilot.faces.cli.tune_cmd import tune_cmd
from scalepilot.service.traces import load_trace

TUNE = [sys.executable, "-m", "scalepilot", "tune"]
FIELDS = ("slo_violation_minutes", "replica_hours", "cost", "scaling_actions", "overload_requests")
SMALL = Path(__file__).parent.parent / "data" / "traces" / "small.csv"


def run(cmd: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*cmd, *args], check=False, capture_output=True, text=True, timeout=120, env=env)


def tune_json(*args: str) -> dict[str, Any]:
    res = run(TUNE, *args, "-o", "json")
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def invoke(*args: str) -> Any:
    """The command in this process, on a one-command app, trials run serially."""
    app = typer.Typer()
    app.command()(tune_cmd)
    return CliRunner().invoke(app, [*args, "--jobs", "1"], env={"COLUMNS": "200"})


def invoke_json(*args: str) -> dict[str, Any]:
    res = invoke(*args, "-o", "json")
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    minutes = np.arange(4 * 60)
    rps = 60 + 50 * np.sin(minutes / 40.0) + np.where((minutes > 100) & (minutes < 110), 120, 0)
    path = tmp_path_factory.mktemp("tune") / "trace.csv"
    path.write_text(
        "timestamp,rps\n" + "".join(f"{1_700_000_000 + 60 * m},{r:.3f}\n" for m, r in zip(minutes, rps, strict=True))
    )
    return path


def common(trace: Path) -> list[str]:
    return ["--trace", str(trace), "--replica-rps", "10", "--startup-delay", "120s", "--max", "40"]


def searched(trace: Path) -> list[str]:
    return [*common(trace), "--cost-per-replica-hour", "2", "--trials", "8", "--seed", "2", "--budget", "60"]


@pytest.fixture(scope="module")
def tuned(trace: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One search, shared: its JSON and its plot page."""
    plot = tmp_path_factory.mktemp("plot") / "tune.html"
    doc = tune_json(*searched(trace), "--plot", str(plot))
    return doc, plot.read_text()


def test_json_document(trace: Path, tuned: tuple[dict[str, Any], str]) -> None:
    doc = tuned[0]
    assert set(doc) >= {"trials", "pareto", "best", "budget"}
    assert doc["budget"] == 60
    trials = doc["trials"]
    assert [t["index"] for t in trials] == list(range(8))
    for t in trials:
        assert set(FIELDS) <= set(t)
        assert t["cost"] == pytest.approx(2 * t["replica_hours"])
        assert set(t["params"]) >= {"target", "window", "scale_down", "min_replicas"}
    base = trials[0]
    assert base["params"] == {
        "target": 70.0,
        "window": 60.0,
        "scale_down": 300.0,
        "min_replicas": 1,
        "safety_factor": None,
        "horizon": None,
    }
    # Trial 0 is the base as given: what simulate reports for hpa.
    hpa = baseline("hpa", replica_rps=10.0, min_replicas=1, max_replicas=40)
    model = ServiceModel(10.0, 120.0, cost_per_replica_hour=2.0)
    report = simulate("hpa", hpa, load_trace(trace).resample(60.0), model, step=60.0).report
    assert {k: base[k] for k in FIELDS} == report.to_dict()
    front = set(doc["pareto"])
    assert front and front <= set(range(8))
    for i, t in enumerate(trials):
        dominated = any(
            o["slo_violation_minutes"] <= t["slo_violation_minutes"]
            and o["cost"] <= t["cost"]
            and (o["slo_violation_minutes"] < t["slo_violation_minutes"] or o["cost"] < t["cost"])
            for o in trials
        )
        assert (i in front) == (not dominated)
    best = doc["best"]
    assert best is not None
    assert best["slo_violation_minutes"] <= 60
    assert best["cost"] == min(t["cost"] for t in trials if t["slo_violation_minutes"] <= 60)


def test_same_seed_same_trials(trace: Path, tuned: tuple[dict[str, Any], str]) -> None:
    again = invoke_json(*searched(trace))  # serially, in this process: as in worker processes
    assert again == tuned[0]
    other = invoke_json(*common(trace), "--trials", "6", "--seed", "5")
    assert [t["params"] for t in other["trials"]] != [t["params"] for t in again["trials"][:6]]
    assert other["trials"][0] == {**again["trials"][0], "cost": other["trials"][0]["cost"]}  # the base
    # Without --budget, the budget is the base's own violation minutes: never worse than it.
    assert other["budget"] == other["trials"][0]["slo_violation_minutes"]
    assert other["best"] is not None
    assert other["best"]["cost"] <= other["trials"][0]["cost"]


def test_printed_yaml_reproduces_the_best(trace: Path, tuned: tuple[dict[str, Any], str], tmp_path: Path) -> None:
    res = invoke(*searched(trace))
    assert res.exit_code == 0, res.output
    assert "Simulated" in res.stdout
    block = res.stdout[res.stdout.index("autoscaling:") :]
    settings = AutoscalingSettings.model_validate(yaml.safe_load(block)["autoscaling"])
    best = tuned[0]["best"]
    assert best is not None
    assert settings.min_replicas == best["params"]["min_replicas"]
    assert settings.window == best["params"]["window"]
    policy = tmp_path / "tuned.yaml"
    policy.write_text(block)
    app = typer.Typer()
    app.command()(simulate_cmd)
    sim = CliRunner().invoke(
        app, [*common(trace), "--cost-per-replica-hour", "2", "--compare", "", "--policy", str(policy), "-o", "json"]
    )
    assert sim.exit_code == 0, sim.output
    assert json.loads(sim.stdout)["policies"]["tuned"] == {k: best[k] for k in FIELDS}


def test_predictive_base_searches_the_margin(trace: Path) -> None:
    doc = invoke_json(*common(trace), "--base", "predictive", "--trials", "6", "--budget", "1000")
    assert doc["trials"][0]["params"]["safety_factor"] == 1.1
    assert doc["trials"][0]["params"]["horizon"] == 240.0  # startup delay + 2 m
    assert len({t["params"]["safety_factor"] for t in doc["trials"]}) > 1
    best = doc["best"]
    assert best is not None
    assert best["autoscaling"]["predictive"]["enabled"] is True
    assert best["autoscaling"]["predictive"]["safety_factor"] == best["params"]["safety_factor"]


def test_unreachable_budget_has_no_best() -> None:
    # small.csv peaks at 30 req/s: 30 replicas of 1 req/s, more than --max 5.
    args = ("--trace", str(SMALL), "--replica-rps", "1", "--max", "5", "--trials", "3", "--budget", "0")
    doc = invoke_json(*args)
    assert len(doc["trials"]) == 3
    assert all(t["slo_violation_minutes"] > 0 for t in doc["trials"])
    assert doc["best"] is None
    assert doc["budget"] == 0
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert "No trial stays within 0" in res.stdout
    assert "autoscaling:" not in res.stdout


def test_malformed_trace_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,rps\n60,1\n120,2\n180,lots\n")
    res = invoke("--trace", str(path), "--replica-rps", "10")
    assert res.exit_code == 1
    assert f"{path}:4: rps 'lots' is not a number" in res.stderr


def test_plot(tuned: tuple[dict[str, Any], str]) -> None:
    doc, page = tuned
    assert page.count("<svg") == 1
    assert page.count('<circle class="front"') == len(doc["pareto"])
    assert page.count("<title>#") == 8 + len(doc["pareto"])  # every trial, the front again on top
    assert "Simulated" in page
    assert "<script" not in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_help_has_examples() -> None:
    res = run(TUNE, "--help")
    assert res.returncode == 0
    assert "Examples" in res.stdout
    assert "--budget" in res.stdout
