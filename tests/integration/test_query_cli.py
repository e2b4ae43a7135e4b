"""``scalepilot query``, run as a real process against a data directory it did not write.

Covers: an instant query's ``-o json`` is exactly the ``data`` object of Prometheus's HTTP
API (vector, scalar, string), the same for ``--at`` as unix seconds (with a fraction), as
RFC 3339 and as ``now-…``; a range query (``--start``/``--end``/``--step``, the step as a
duration or float seconds) as a matrix; the terminal table (labels, values) and, for a
range, a sparkline per series; errors exit 1 with ``error: …``: a parse error with its
column and a caret under it, a bad time or step, ``--at`` with ``--start``, more than
11,000 points.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.labels import make_labels

STEP_MS = 15_000
POINTS = 240
# The newest sample a little in the past, on a 15 s grid, so now-relative times find data.
T_END = (int(time.time() * 1000) // STEP_MS - 2) * STEP_MS
T_START = T_END - (POINTS - 1) * STEP_MS


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """jobs_total{queue="orders"} rises by 3 and {queue="mail"} by 1 per 15 s sample."""
    path = tmp_path_factory.mktemp("query") / "data"
    with SQLiteStore.open(path, StorageSettings()) as store:
        orders, mail = store.series_ids(
            [make_labels("jobs_total", {"queue": "orders"}), make_labels("jobs_total", {"queue": "mail"})]
        )
        for i in range(POINTS):
            store.append([orders, mail], T_START + i * STEP_MS, [3.0 * i, 1.0 * i])
        store.flush()
    return path


def query(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}  # rich sizes tables to the terminal
    return subprocess.run(
        [sys.executable, "-m", "scalepilot", "query", *args, "--data-dir", str(data_dir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def json_of(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def seconds(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_instant_json_is_prometheus_data(data_dir: Path) -> None:
    at = T_END - 10 * STEP_MS + 500  # half a second after a sample
    expected = {
        "resultType": "vector",
        "result": [
            {"metric": {"__name__": "jobs_total", "queue": "orders"}, "value": [seconds(at), str(3 * (POINTS - 11))]},
        ],
    }
    selector = 'jobs_total{queue="orders"}'
    assert json_of(query(data_dir, selector, "--at", f"{at / 1000:.3f}", "-o", "json")) == expected
    assert json_of(query(data_dir, selector, "--at", iso(at), "-o", "json")) == expected

    total = json_of(query(data_dir, "sum(jobs_total)", "--at", str(T_END // 1000), "-o", "json"))
    assert total == {
        "resultType": "vector",
        "result": [{"metric": {}, "value": [T_END // 1000, str(4 * (POINTS - 1))]}],
    }
    scalar = json_of(query(data_dir, "scalar(sum(jobs_total)) * 2", "--at", str(T_END // 1000), "-o", "json"))
    assert scalar == {"resultType": "scalar", "result": [T_END // 1000, str(8 * (POINTS - 1))]}
    text = json_of(query(data_dir, '"hello"', "--at", "1700000000.25", "-o", "json"))
    assert text == {"resultType": "string", "result": [1700000000.25, "hello"]}


def test_relative_times(data_dir: Path) -> None:
    before = time.time()
    data = json_of(query(data_dir, "jobs_total", "--at", "now-30m", "-o", "json"))
    after = time.time()
    assert data["resultType"] == "vector" and len(data["result"]) == 2
    evaluated_at = data["result"][0]["value"][0]
    assert before - 1800 - 1 <= evaluated_at <= after - 1800 + 1
    # The newest sample at or before now-30m, in a series rising by 1 every 15 s.
    mail = next(r for r in data["result"] if r["metric"]["queue"] == "mail")["value"][1]
    assert int(mail) == (round(evaluated_at * 1000) - T_START) // STEP_MS


def test_range_json_is_a_prometheus_matrix(data_dir: Path) -> None:
    start, end = T_END - 4 * STEP_MS, T_END
    expected = {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"queue": "mail"},
                "values": [[seconds(t), str(((t - T_START) // STEP_MS) * 10)] for t in range(start, end + 1, STEP_MS)],
            }
        ],
    }
    args = ('jobs_total{queue="mail"} * 10', "--start", str(start // 1000), "--end", iso(end), "-o", "json")
    assert json_of(query(data_dir, *args, "--step", "15s")) == expected
    assert json_of(query(data_dir, *args, "--step", "15.0")) == expected


def test_tables(data_dir: Path) -> None:
    res = query(data_dir, "jobs_total", "--at", str(T_END // 1000))
    assert res.returncode == 0, res.stderr
    assert 'jobs_total{queue="orders"}' in res.stdout and str(3 * (POINTS - 1)) in res.stdout
    assert 'jobs_total{queue="mail"}' in res.stdout and iso(T_END) in res.stdout

    res = query(data_dir, "jobs_total", "--start", str(T_START // 1000), "--end", str(T_END // 1000), "--step", "1m")
    assert res.returncode == 0, res.stderr
    assert f"2 series from {iso(T_START)} to {iso(T_END - (T_END - T_START) % 60_000)}" in res.stdout
    rows = [line for line in res.stdout.splitlines() if "jobs_total{" in line]
    assert len(rows) == 2
    for row in rows:
        # A steadily rising counter: the sparkline climbs from the lowest block to the highest.
        spark = next(word for word in row.split() if word[0] in "▁▂▃▄▅▆▇█")
        assert spark[0] == "▁" and spark[-1] == "█" and list(spark) == sorted(spark), row
        assert row.split()[-1] == str((T_END - T_START) // 60_000 + 1)  # points

    assert query(data_dir, "nothing_here").stdout.strip() == "no data"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--at", "yesterday"), 'error: --at: cannot parse "yesterday" to a valid timestamp'),
        (("--at", "now", "--start", "now-1h"), "error: give --at for an instant query or --start/--end"),
        (("--end", "now"), "error: --end needs --start"),
        (("--start", "now-1h", "--step", "soon"), 'error: --step: cannot parse "soon" to a valid duration'),
        (("--start", "now-1h", "--step", "0"), "error: --step must be at least 1ms"),
        (("--start", "now", "--end", "now-1h"), "error: --end must not be before --start"),
        (("--start", "now-4h", "--step", "1s"), "error: more than 11,000 points per series"),
    ],
)
def test_bad_options(data_dir: Path, args: tuple[str, ...], message: str) -> None:
    res = query(data_dir, "jobs_total", *args)
    assert res.returncode == 1
    assert " ".join(res.stderr.split()).startswith(message), res.stderr
    assert res.stdout == ""


def test_a_bad_query_shows_the_column(data_dir: Path) -> None:
    res = query(data_dir, "sum(rate(jobs_total[5m]) by (queue")
    assert res.returncode == 1 and res.stdout == ""
    lines = res.stderr.splitlines()
    assert lines[0].startswith("error: parse error: ") and "(at column " in lines[0], lines
    column = int(lines[0].rsplit("(at column ", 1)[1].rstrip(")"))
    assert lines[1] == "  sum(rate(jobs_total[5m]) by (queue"
    assert lines[2] == "  " + " " * (column - 1) + "^"

    res = query(data_dir, "rate(jobs_total)")
    assert res.returncode == 1 and res.stderr.startswith("error: ") and "range vector" in res.stderr, res.stderr


def test_help_has_examples() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "scalepilot", "query", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "scalepilot query 'rate(http_requests_total[5m])' --start now-1h --step 1m" in res.stdout
    assert "data object of Prometheus's HTTP API" in res.stdout
