"""``scalepilot import``: backfilling an OpenMetrics file with timestamps into the store.

Covers: every sample of a file (counters, gauges with NaN, a histogram, a summary,
escaped and non-ASCII label values, exemplars, metadata) lands in the store with its
timestamp and value, and the head is compacted into chunks afterwards; cutting the file
into pieces anywhere the importer may (down to one MetricPoint a piece) changes neither
the stored data nor the line of any error; promtool's rules (a timestamp on every sample,
``# EOF`` last) and OpenMetrics's (no duplicate or backwards timestamps in a series, no
interleaved metrics or families, also across pieces) each give ``line N: reason`` and
import nothing; a piece never grows past its size by more than a line, so a big file is
never held whole; progress is reported for both passes; importing twice changes nothing,
and imported samples replace stored ones at equal timestamps; the CLI prints a summary
(and a warning for samples past raw retention), exits 1 with ``file: line N: reason``
for a bad file, refuses clearly a data directory a running scalepilot holds, reads the
data directory from ``-c``, and shows examples in ``--help``.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.labels import Labels, make_labels
from scalepilot.domain.matchers import Matcher, MatchOp
from scalepilot.service.importer import PIECE_BYTES, ImportProgress, InvalidBackfill, import_openmetrics
from tests.support import free_port, start, wait_for

NOW_S = int(time.time()) // 60 * 60
T0 = NOW_S - 3 * 3600
"""Three hours ago: inside the raw retention, in closed head windows."""

EVERYTHING = "\n".join(
    [
        "# HELP http_requests Requests served.",
        "# TYPE http_requests counter",
        f'http_requests_total{{code="200",path="/a\\"b"}} 1 {T0}.001 # {{trace_id="x"}} 1 {T0}.000',
        f'http_requests_total{{code="200",path="/a\\"b"}} 5 {T0 + 15}.001',
        f'http_requests_total{{code="200",path="/a\\"b"}} 2 {T0 + 30}.001',
        f'http_requests_total{{code="500",path="/ü\\\\n"}} 0 {T0}.002',
        f'http_requests_total{{code="500",path="/ü\\\\n"}} 1 {T0 + 15}.002',
        "# TYPE temperature_celsius gauge",
        "# UNIT temperature_celsius celsius",
        f"temperature_celsius -3.5 {T0}.5",
        f"temperature_celsius NaN {T0 + 15}.5",
        f"temperature_celsius +Inf {T0 + 30}.5",
        f"temperature_celsius 1e-3 {T0 + 45}.5",
        f"temperature_celsius 7 {T0 + 45}.5004",
        "# TYPE latency histogram",
        f'latency_bucket{{le="0.1"}} 1 {T0}',
        f'latency_bucket{{le="+Inf"}} 2 {T0}',
        f"latency_count 2 {T0}",
        f"latency_sum 0.3 {T0}",
        f'latency_bucket{{le="0.1"}} 4 {T0 + 15}',
        f'latency_bucket{{le="+Inf"}} 6 {T0 + 15}',
        f"latency_count 6 {T0 + 15}",
        f"latency_sum 1.5 {T0 + 15}",
        "# TYPE rpc summary",
        f'rpc{{quantile="0.5"}} 0.2 {T0}',
        f'rpc{{quantile="0.9"}} 0.7 {T0}',
        f"rpc_count 10 {T0}",
        f"rpc_sum 3 {T0}",
        f"untyped_thing 42 {T0 + 1}.25",
        "# EOF",
        "",
    ]
)


def expected_samples() -> dict[Labels, list[tuple[int, float]]]:
    ms = T0 * 1000
    a = make_labels("http_requests_total", {"code": "200", "path": '/a"b'})
    b = make_labels("http_requests_total", {"code": "500", "path": "/ü\\n"})
    temp = make_labels("temperature_celsius")
    return {
        a: [(ms + 1, 1.0), (ms + 15_001, 5.0), (ms + 30_001, 2.0)],
        b: [(ms + 2, 0.0), (ms + 15_002, 1.0)],
        # The sub-millisecond later point is one sample with the first, which is kept.
        temp: [(ms + 500, -3.5), (ms + 15_500, math.nan), (ms + 30_500, math.inf), (ms + 45_500, 1e-3)],
        make_labels("latency_bucket", {"le": "0.1"}): [(ms, 1.0), (ms + 15_000, 4.0)],
        make_labels("latency_bucket", {"le": "+Inf"}): [(ms, 2.0), (ms + 15_000, 6.0)],
        make_labels("latency_count"): [(ms, 2.0), (ms + 15_000, 6.0)],
        make_labels("latency_sum"): [(ms, 0.3), (ms + 15_000, 1.5)],
        make_labels("rpc", {"quantile": "0.5"}): [(ms, 0.2)],
        make_labels("rpc", {"quantile": "0.9"}): [(ms, 0.7)],
        make_labels("rpc_count"): [(ms, 10.0)],
        make_labels("rpc_sum"): [(ms, 3.0)],
        make_labels("untyped_thing"): [(ms + 1250, 42.0)],
    }


def open_store(path: Path, *, read_only: bool = False) -> SQLiteStore:
    return SQLiteStore.open(path, StorageSettings(), read_only=read_only)


def stored(store: SQLiteStore) -> dict[Labels, list[tuple[int, float]]]:
    out = {}
    for s in store.select([Matcher("__name__", MatchOp.RE, ".+")], 0, 2**62):
        out[s.labels] = list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
    return out


def same(a: dict[Labels, list[tuple[int, float]]], b: dict[Labels, list[tuple[int, float]]]) -> bool:
    if a.keys() != b.keys():
        return False
    for key, points in a.items():
        other = b[key]
        if len(points) != len(other):
            return False
        for (t1, v1), (t2, v2) in zip(points, other, strict=True):
            if t1 != t2 or not (v1 == v2 or (math.isnan(v1) and math.isnan(v2))):
                return False
    return True


def import_text(tmp_path: Path, text: str | bytes, piece_bytes: int = PIECE_BYTES) -> SQLiteStore:
    path = tmp_path / "in.om"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    store = open_store(tmp_path / f"data-{piece_bytes}")
    try:
        import_openmetrics(path, store, piece_bytes=piece_bytes)
    except BaseException:
        store.close()
        raise
    return store


@pytest.mark.parametrize("piece_bytes", [PIECE_BYTES, 300, 1])
def test_every_sample_lands_with_its_timestamp(tmp_path: Path, piece_bytes: int) -> None:
    store = import_text(tmp_path, EVERYTHING, piece_bytes)
    try:
        assert same(stored(store), expected_samples()), stored(store)
        # Maintenance ran: the backfilled windows are compacted, the head is empty.
        stats = store.stats()
        assert stats.head_samples == 0 and stats.chunks > 0
    finally:
        store.close()


def big_file(path: Path, series: int = 40, points: int = 600) -> int:
    """A few MB: a counter family and a histogram family, series after series."""
    lines = ["# HELP reqs Requests.", "# TYPE reqs counter"]
    for s in range(series):
        for i in range(points):
            labels = f'instance="host-{s:03d}:9100",route="/r{s % 7}"'
            lines.append(f"reqs_total{{{labels}}} {i * 3} {T0 + i * 15}.{s + 1:03d}")
    lines.append("# TYPE lat histogram")
    for s in range(series // 4):
        for i in range(points // 4):
            stamp = f"{T0 + i * 60}.{s + 1:03d}"
            lines += [
                f'lat_bucket{{instance="host-{s}",le="0.5"}} {i} {stamp}',
                f'lat_bucket{{instance="host-{s}",le="+Inf"}} {2 * i} {stamp}',
                f'lat_count{{instance="host-{s}"}} {2 * i} {stamp}',
                f'lat_sum{{instance="host-{s}"}} {i * 0.7:.1f} {stamp}',
            ]
    path.write_text("\n".join(lines) + "\n# EOF\n")
    return series * points + (series // 4) * (points // 4) * 4


def test_pieces_stay_small_and_give_the_same_data(tmp_path: Path) -> None:
    path = tmp_path / "big.om"
    total = big_file(path)
    piece = 64 * 1024
    seen: list[ImportProgress] = []
    small = open_store(tmp_path / "small")
    whole = open_store(tmp_path / "whole")
    try:
        summary = import_openmetrics(path, small, piece_bytes=piece, progress=seen.append)
        import_openmetrics(path, whole)
        assert summary.samples == total
        assert summary.series == 40 + 10 * 4
        assert summary.families == 2
        assert same(stored(small), stored(whole))
    finally:
        small.close()
        whole.close()
    size = path.stat().st_size
    for phase in ("check", "import"):
        done = [p.bytes_done for p in seen if p.phase == phase]
        assert done[-1] == size
        steps = np.diff([0, *done])
        assert len(done) > size // piece // 2
        assert steps.max() <= piece + 200, "a piece grew past its size by more than a line"
    assert [p.phase for p in seen] == sorted(p.phase for p in seen)  # check, then import
    assert seen[-1].samples == total


BAD = [
    ("a 1 100\na 2 115\n", 2, 'the file does not end with "# EOF"'),
    ("", 1, 'the file does not end with "# EOF"'),
    ("a 1 100\nb 2\n# EOF\n", 2, "has no timestamp"),
    ("a 1 100\na 2\n# EOF\n", 2, "without a timestamp"),
    ("a 1 100\na 2 100\n# EOF\n", 2, "duplicate series"),
    ("a 1 115\na 2 100\n# EOF\n", 2, "goes backwards"),
    ('a{x="1"} 1 100\na{x="2"} 1 100\na{x="1"} 2 115\n# EOF\n', 3, "contiguous"),
    ("a 1 100\nb 1 100\na 2 115\n# EOF\n", 3, "contiguous"),
    ("# TYPE a gauge\na 1 100\n# TYPE b gauge\nb 1 100\n# TYPE a gauge\na 2 115\n# EOF\n", 5, "contiguous"),
    ("# TYPE a gauge\na 1 100\n# HELP a x\na 2 115\n# EOF\n", 3, "after its samples"),
    ("a 1 100\n# EOF\na 2 115\n", 3, 'unexpected content after "# EOF" on line 2'),
    ("a 1 100\n# EOF\n\n", 3, 'unexpected content after "# EOF" on line 2'),
    ("a 1 100\r\n# EOF\n", 1, "carriage return"),
    (b'a{x="\xff"} 1 100\n# EOF\n', 1, "invalid UTF-8"),
    ("# TYPE c counter\nc_total 1 100\nc_total -1 115\n# EOF\n", 3, "negative"),
    (
        '# TYPE h histogram\nh_bucket{le="1"} 1 100\nh_bucket{le="+Inf"} 1 100\nh_count 1 100\nh_sum 1 100\n'
        'h_bucket{le="1"} 1 115\nh_count 1 115\nh_sum 1 115\n# EOF\n',
        8,
        "in the point that starts at line 6",
    ),
    ("a 1 100\nb 1 100\nc 1 100\nb 2 115\n# EOF\n", 4, "contiguous"),
]


@pytest.mark.parametrize("piece_bytes", [PIECE_BYTES, 1])
@pytest.mark.parametrize(("text", "line", "reason"), BAD)
def test_bad_input_names_the_line_and_imports_nothing(
    tmp_path: Path, text: str | bytes, line: int, reason: str, piece_bytes: int
) -> None:
    with pytest.raises(InvalidBackfill) as info:
        import_text(tmp_path, text, piece_bytes).close()
    assert info.value.line == line, str(info.value)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"line {line}: ")
    store = open_store(tmp_path / f"data-{piece_bytes}", read_only=True)
    try:
        assert store.series([Matcher("__name__", MatchOp.RE, ".+")]) == []
    finally:
        store.close()


def test_errors_after_a_cut_keep_their_line(tmp_path: Path) -> None:
    """The first lines are fine and fill several pieces; the error is far down."""
    lines = ["# TYPE g gauge"] + [f'g{{i="{i // 50}"}} {i} {T0 + (i % 50) * 15}.001' for i in range(2000)]
    lines.insert(1500, f'g{{i="3"}} 1 {T0}.001')  # metric i=3 ended long before
    text = "\n".join(lines) + "\n# EOF\n"
    for piece in (PIECE_BYTES, 2048, 1):
        with pytest.raises(InvalidBackfill) as info:
            import_text(tmp_path, text, piece).close()
        assert info.value.line == 1501, (piece, str(info.value))
        assert "contiguous" in info.value.reason


def test_importing_twice_changes_nothing_and_replaces_equal_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "in.om"
    path.write_text(EVERYTHING)
    store = open_store(tmp_path / "data")
    try:
        first = import_openmetrics(path, store)
        again = import_openmetrics(path, store)
        assert first.samples == again.samples
        assert same(stored(store), expected_samples())
        # A later import with other values at the same timestamps wins.
        path.write_text(f"temperature_celsius 99 {T0}.5\n# EOF\n")
        import_openmetrics(path, store)
        temp = stored(store)[make_labels("temperature_celsius")]
        assert temp[0] == (T0 * 1000 + 500, 99.0)
        assert len(temp) == 4
    finally:
        store.close()


# --- the command ------------------------------------------------------------------------------


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "scalepilot", "import", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cli_imports_reports_and_warns_about_retention(tmp_path: Path) -> None:
    (tmp_path / "scalepilot.yaml").write_text("storage: {data_dir: here}\nservices: []\n")
    path = tmp_path / "in.om"
    old = NOW_S - 30 * 86400
    path.write_text(EVERYTHING.replace("# EOF", f"old_metric 1 {old}\n# EOF"))
    res = cli(path, "-c", tmp_path / "scalepilot.yaml")
    assert res.returncode == 0, res.stderr
    assert "imported 23 samples of 13 series (6 families)" in res.stdout
    assert f"into {tmp_path / 'here'}" in res.stdout
    assert "older than storage.retention.raw (15d)" in res.stderr
    store = open_store(tmp_path / "here", read_only=True)
    try:
        data = stored(store)
    finally:
        store.close()
    assert same({k: v for k, v in data.items() if k != make_labels("old_metric")}, expected_samples())


def test_cli_bad_file_exits_1_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.om"
    path.write_text("a 1 100\nb 2\n# EOF\n")
    res = cli(path, "--data-dir", tmp_path / "data")
    assert res.returncode == 1
    assert f"{path}: line 2: sample b has no timestamp" in res.stderr
    assert "nothing was imported" in res.stderr
    res = cli(tmp_path / "missing.om", "--data-dir", tmp_path / "data")
    assert res.returncode == 2 and "does not exist" in res.stderr


@pytest.mark.slow
def test_cli_refuses_a_data_directory_in_use(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "scalepilot.yaml"
    config.write_text(
        f"server: {{address: '127.0.0.1:{port}'}}\nstorage: {{data_dir: data}}\nhost_stats: {{enabled: false}}\n"
        "services: []\n"
    )
    path = tmp_path / "in.om"
    path.write_text(EVERYTHING)
    running = start([sys.executable, "-m", "scalepilot", "run", "-c", str(config)])
    try:
        wait_for(lambda: _healthy(port), timeout=30, what="scalepilot to serve /health")
        res = cli(path, "-c", config)
        assert res.returncode == 1
        assert f"already open for writing by another process (pid {running.pid})" in res.stderr
    finally:
        assert running.stop(signal.SIGTERM) == 0
    res = cli(path, "-c", config)
    assert res.returncode == 0, res.stderr


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_help_shows_examples() -> None:
    res = cli("--help")
    assert res.returncode == 0
    assert "scalepilot import history.om --data-dir" in res.stdout
    assert "--data-dir" in res.stdout and "--config" in res.stdout
