"""Traces and their loaders.

Covers: resampling by time-weighted mean conserves the requests (coarser and finer
steps, uneven input); a trace refuses non-increasing timestamps and negative rates;
scaling to a peak; the synthetic generators are deterministic per seed and shaped as
named; the CSV, WorldCup98 and Azure Functions loaders read their fixtures and the
two public traces (kept in tests/data/traces/public); malformed files are rejected with the file, the line and
the reason; a policy file's errors carry file:line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scalepilot.config.loader import ConfigError
from scalepilot.control.simulation.trace import (
    DAY,
    Trace,
    TraceValueError,
    diurnal,
    noise,
    spikes,
    synthetic,
    weekly,
)
from scalepilot.service.traces import TraceFormatError, load_policy, load_trace

DATA = Path(__file__).parents[1] / "data" / "traces"
PUBLIC = DATA / "public"


def test_resample_conserves_requests_on_uneven_input() -> None:
    trace = Trace.of([0, 30, 90, 120], [10, 20, 40, 5])  # last sample holds 30 s, as the one before
    out = trace.resample(60)
    assert out.timestamps.tolist() == [0, 60]
    # [0,60): 30 s at 10 + 30 s at 20; [60,120): 30 s at 20 + 30 s at 40
    assert out.rps.tolist() == pytest.approx([15.0, 30.0])
    total_in = float((trace.rps * trace.durations()).sum())
    assert float(out.rps.sum() * 60) == pytest.approx(total_in - 5 * 30)  # the trailing half step is dropped


def test_resample_to_finer_step_repeats_the_rate() -> None:
    out = Trace.of([0, 300], [6, 12]).resample(60)
    assert out.rps.tolist() == pytest.approx([6] * 5 + [12] * 5)


def test_trace_rejects_bad_arrays() -> None:
    with pytest.raises(TraceValueError, match="increase strictly"):
        Trace.of([0, 60, 60], [1, 2, 3])
    with pytest.raises(TraceValueError, match="negative"):
        Trace.of([0, 60], [1, -2])


def test_scaled_to_peak() -> None:
    trace = Trace.of([0, 60, 120], [5, 50, 25]).scaled_to_peak(20, replica_rps=10)
    assert trace.peak == pytest.approx(200)
    assert trace.rps.tolist() == pytest.approx([20, 200, 100])


def test_generators_are_seeded_and_shaped() -> None:
    a = synthetic(7, seed=3)
    b = synthetic(7, seed=3)
    c = synthetic(7, seed=4)
    assert np.array_equal(a.rps, b.rps)
    assert not np.array_equal(a.rps, c.rps)
    day = diurnal(1, base=100, amplitude=0.5, peak_hour=12)
    noon = int(np.argmax(day.rps))
    assert abs((day.timestamps[noon] % DAY) / 3600 - 12) < 0.05
    assert day.rps.max() == pytest.approx(150, rel=1e-3)
    week = weekly(diurnal(7, amplitude=0.0), weekend_factor=0.5)
    assert sorted(set(np.round(week.rps, 6))) == [50.0, 100.0]
    burst = spikes(diurnal(1, amplitude=0.0), count=1, height=3, duration=600, seed=1)
    assert np.count_nonzero(burst.rps > 100) == 10  # ten minutes at ×3
    assert noise(day, sigma=0.2, seed=1).rps.mean() == pytest.approx(day.rps.mean(), rel=0.05)


def test_csv_loader_reads_rfc3339_and_unix_seconds() -> None:
    trace = load_trace(DATA / "small.csv")
    assert trace.timestamps.tolist() == [1714521600, 1714521660, 1714521720, 1714521780]
    assert trace.rps.tolist() == [10, 20, 30, 0]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("timestamp,rps\n1,2\n2,abc\n", 3, "rps 'abc' is not a number"),
        ("timestamp,rps\n1,2\n3,-1\n", 3, "not negative"),
        ("timestamp,rps\n60,1\n120,2\n120,3\n", 4, "does not increase (line 3"),
        ("timestamp,rps\n60,1\nyesterday,2\n", 3, "neither unix seconds nor RFC 3339"),
        ("timestamp,rps\n2024-05-01T00:00:00,1\n", 2, "has no time zone"),
        ("timestamp,rps\n60,1\n120\n", 3, "expected at least 2 columns"),
        ("time,requests\n60,1\n", 1, "the header needs column(s) timestamp, rps"),
    ],
)
def test_csv_loader_rejects_malformed_lines(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TraceFormatError) as info:
        load_trace(path)
    assert info.value.line == line
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_empty_and_header_only_files_are_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TraceFormatError, match="empty"):
        load_trace(empty)
    header = tmp_path / "header.csv"
    header.write_text("timestamp,rps\n")
    with pytest.raises(TraceFormatError, match="no data rows"):
        load_trace(header)


def test_worldcup98_fixture() -> None:
    trace = load_trace(DATA / "worldcup98_head.csv", "worldcup98")
    assert trace.rps.size == 24
    assert trace.start == 896565000.0  # 1998-05-30 21:50:00 UTC
    assert trace.rps[0] == pytest.approx(12253 / 300)
    assert np.all(np.diff(trace.timestamps) == 300)


def test_worldcup98_rejects_a_bad_count(tmp_path: Path) -> None:
    path = tmp_path / "wc.csv"
    path.write_text("timestamp,count_raw,count_thousand\n1998-05-30 21:50:00,12,0.012\n1998-05-30 21:55:00,x,0\n")
    with pytest.raises(TraceFormatError, match=r"wc.csv:3: count_raw 'x' is not a number"):
        load_trace(path, "worldcup98")


def test_azure_functions_fixture_sums_functions_per_minute() -> None:
    trace = load_trace(DATA / "azure_functions_head.csv", "azure-functions")
    rows = [line.split(",") for line in (DATA / "azure_functions_head.csv").read_text().splitlines()[1:]]
    expected = sum(float(r[3]) for r in rows) / 60
    assert trace.rps.size == 120
    assert trace.rps[0] == pytest.approx(expected)
    assert trace.start == 1563148800.0  # 2019-07-15T00:00:00Z
    assert np.all(np.diff(trace.timestamps) == 60)


def test_azure_functions_rejects_a_short_row(tmp_path: Path) -> None:
    path = tmp_path / "az.csv"
    path.write_text("HashFunction,HashApp,HashOwner,minute_1,minute_2\na,a,a,1,2\nb,b,b,3\n")
    with pytest.raises(TraceFormatError, match=r"az.csv:3: expected 5 columns"):
        load_trace(path, "azure-functions")


@pytest.mark.parametrize(
    ("name", "fmt", "rows", "days"),
    [
        ("worldcup98_5m.csv", "worldcup98", 8929, 31.0),
        ("azure_functions_2019_sample100_inv.csv", "azure-functions", 1440, 1.0),
    ],
)
def test_public_traces_load(name: str, fmt: str, rows: int, days: float) -> None:
    trace = load_trace(PUBLIC / name, fmt)
    assert trace.rps.size == rows
    assert trace.span / DAY == pytest.approx(days, abs=0.01)
    assert trace.resample(60).peak > 0


def test_policy_file_errors_carry_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("autoscaling:\n  max_replicas: 10\n  metrics:\n    - type: cpu\n      target: 170%\n")
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    text = str(info.value)
    assert f"{path}:5:" in text
    assert "must not exceed 100%" in text
    path.write_text("scaling: {}\n")
    with pytest.raises(ConfigError, match="autoscaling"):
        load_policy(path)
    path.write_text("autoscaling:\n  max_replicas: 10\n  metrics: [{type: rps, target: 50/s}]\n")
    assert load_policy(path).metrics[0].metric_name == "rps"
