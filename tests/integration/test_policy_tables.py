"""The policy tables in README.md and docs/predictive.md are what ``scalepilot simulate`` prints.

Covers: for both public traces (kept in tests/data/traces/public) at 60, 120 and 300 s
startup, ``scalepilot simulate --compare hpa,keda,static,predictive
--scale-peak-replicas 20 -o json`` run as a real process gives every cell of both
tables (violation minutes exactly, replica-hours to the shown digits) and the
"predictive vs hpa" percentages. A change to the engine, the forecast, a baseline or a
loader that moves a figure fails here until the tables are updated with it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ROOT / "tests" / "data" / "traces" / "public"
TRACES = {
    "WorldCup98": (PUBLIC / "worldcup98_5m.csv", "worldcup98"),
    "Azure": (PUBLIC / "azure_functions_2019_sample100_inv.csv", "azure-functions"),
}
POLICIES = ("hpa", "keda", "static", "predictive")
COLUMNS = (*POLICIES, "oracle")
STARTUPS = (60, 120, 300)


def simulate(trace: str, startup: int) -> dict[str, Any]:
    path, fmt = TRACES[trace]
    args = [
        *("--trace", str(path), "--trace-format", fmt),
        *("--replica-rps", "10", "--scale-peak-replicas", "20", "--startup-delay", f"{startup}s"),
        *("--compare", ",".join(POLICIES), "-o", "json"),
    ]
    res = subprocess.run(
        [sys.executable, "-m", "scalepilot", "simulate", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return {**doc["policies"], "oracle": doc["oracle"]}


@pytest.fixture(scope="module")
def simulated() -> dict[tuple[str, int], dict[str, Any]]:
    return {(trace, startup): simulate(trace, startup) for trace in TRACES for startup in STARTUPS}


def table_rows(path: Path) -> list[tuple[str, int, list[str]]]:
    """(trace, startup seconds, the cells after the startup) of each row of the
    policy table in ``path``; a row naming no trace repeats the one above."""
    rows = []
    trace = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 + len(COLUMNS) + 1 or not re.fullmatch(r"\d+ s", cells[1]):
            continue
        trace = next((name for name in TRACES if cells[0].startswith(name)), trace)
        rows.append((trace, int(cells[1].split()[0]), cells[2:]))
    return rows


def percentages(text: str) -> list[float]:
    return [float(n.replace("−", "-")) for n in re.findall(r"([+−-]?\d+(?:\.\d+)?) %", text.replace("*", ""))]


@pytest.mark.parametrize("doc", ["README.md", "docs/predictive.md"])
def test_policy_table_matches_the_simulator(doc: str, simulated: dict[tuple[str, int], dict[str, Any]]) -> None:
    rows = table_rows(ROOT / doc)
    assert sorted((t, s) for t, s, _ in rows) == sorted(simulated), f"{doc} lacks a row"
    for trace, startup, cells in rows:
        reports = simulated[(trace, startup)]
        where = f"{doc}, {trace} at {startup} s"
        for column, cell in zip(COLUMNS, cells, strict=False):
            violations, hours = (part.strip() for part in cell.split("/"))
            report = reports[column]
            assert float(violations) == report["slo_violation_minutes"], f"{where}, {column}: {cell}"
            assert int(hours.replace(",", "")) == round(report["replica_hours"]), f"{where}, {column}: {cell}"
        hpa, predictive = reports["hpa"], reports["predictive"]
        shown = percentages(cells[-1])
        hours_change = (predictive["replica_hours"] / hpa["replica_hours"] - 1) * 100
        assert shown[-1] == round(hours_change, 1), f"{where}: {cells[-1]}"
        if len(shown) == 2:
            cut = (predictive["slo_violation_minutes"] / hpa["slo_violation_minutes"] - 1) * 100
            assert shown[0] == round(cut), f"{where}: {cells[-1]}"
        else:  # the cell says in words that neither violates, or that they violate equally
            assert predictive["slo_violation_minutes"] == hpa["slo_violation_minutes"], f"{where}: {cells[-1]}"
