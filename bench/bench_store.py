"""Benchmark of the embedded store against the naive SQLite design, in one run.

Three figures, each printed beside a reference measured in the same run (or, for
Prometheus, its documented figure) and the ratio, because absolute numbers vary with the
machine:

1. **Sustained ingest**: 10k series scraped every 15 s for 6 simulated hours, fed as fast
   as possible the way the live loop feeds the store: ``series_ids`` once, one
   ``append`` per target per scrape, flushes every real second (by ``append`` itself, as
   in production), ``maintain`` every simulated minute, and the compaction of the last
   window at the end. Reference: the same samples inserted with ``executemany`` into a
   plain table ``(series_id, ts, value)`` with a primary key, committed every second.
2. **Disk bytes per sample** of that data once compacted (the whole data directory after
   ``close``). Reference: the naive table's bytes per sample, and Prometheus's
   documented 1-2 bytes per sample (a constant, not measured).
3. **Reading one series over 7 days** at 15 s (40,320 samples) from a compacted store
   holding 7 days of a few hundred series; the median of repeated reads. Reference: the
   same read from the naive table (an index range scan).

The data mix (per target of 100 series, 100 targets for 10k series) is what a typical
exporter page holds:

* 40 counters with Poisson increments, rates log-normally spread from a trickle to
  thousands per scrape (``http_requests_total``);
* 24 histogram series: 2 histograms of 10 cumulative ``le`` buckets plus ``_sum`` (a
  float accumulating observed seconds) and ``_count``;
* 15 integer gauges: resident memory moving in 4 KiB pages, and small counts (open fds);
* 10 decimal gauges: CPU seconds with 2 decimals, temperatures with 1;
* 8 constants (``up``, ``*_info``, configured limits);
* 3 full-precision random floats (ratios an exporter computes itself).

Scrape timestamps are the target's slot (targets spread over the 15 s interval) plus the
jitter of an asyncio timer rounded to the millisecond: +0 ms 60 %, +1 ms 30 %, +2 ms 10 %.

Usage::

    .venv/bin/python bench/bench_store.py            # full sizes (a few minutes)
    .venv/bin/python bench/bench_store.py --quick    # smoke run (seconds)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.labels import make_labels
from scalepilot.domain.matchers import Matcher, MatchOp, name_matcher

SCRAPE_MS = 15_000
PER_TARGET = 100
# Aligned to a 6 h block, as any 6 h of a long-running store would be once merged.
T0_MS = 1_700_000_000_000 // 21_600_000 * 21_600_000 + 21_600_000
PROMETHEUS_DOCUMENTED = "1-2"  # bytes/sample, prometheus.io/docs/prometheus/latest/storage

console = Console(width=max(120, shutil.get_terminal_size((120, 24)).columns))


# --- workload ------------------------------------------------------------------------------


class Workload:
    """Deterministic realistic samples for ``targets * 100`` series (see module doc)."""

    LAYOUT = (("counter", 40), ("hist", 24), ("igauge", 15), ("fgauge", 10), ("const", 8), ("rand", 3))

    def __init__(self, targets: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.targets = targets
        kinds = [k for _ in range(targets) for k, n in self.LAYOUT for _ in range(n)]
        self.kinds = np.array(kinds)
        n = self.n = len(kinds)
        self.value = np.zeros(n)
        k = self.kinds
        self.counter = np.flatnonzero(k == "counter")
        self.rate = np.exp(rng.normal(np.log(5), 2.0, self.counter.size))
        self.value[self.counter] = rng.integers(0, 10**6, self.counter.size)
        self.hist = np.flatnonzero(k == "hist").reshape(-1, 12)
        self.hist_rate = np.exp(rng.normal(np.log(20), 1.5, len(self.hist)))
        self.hist_buckets = np.zeros((len(self.hist), 10))
        self.hist_sum = np.zeros(len(self.hist))
        share = np.array([0.03, 0.05, 0.12, 0.2, 0.2, 0.2, 0.1, 0.05, 0.03, 0.015])
        self.bucket_p = np.append(share, 1 - share.sum())
        self.igauge = np.flatnonzero(k == "igauge")
        self.pages = rng.random(self.igauge.size) < 0.6
        self.value[self.igauge] = np.where(
            self.pages,
            rng.integers(50_000, 500_000, self.igauge.size) * 4096.0,
            rng.integers(5, 500, self.igauge.size),
        )
        self.fgauge = np.flatnonzero(k == "fgauge")
        self.cpu = rng.random(self.fgauge.size) < 0.5
        self.scale = np.where(self.cpu, 100.0, 10.0)
        self.value[self.fgauge] = np.round(rng.random(self.fgauge.size) * 100 * self.scale) / self.scale
        const = np.flatnonzero(k == "const")
        self.value[const] = rng.choice([1.0, 0.0, 1048576.0, 8.0], const.size)
        self.rand = np.flatnonzero(k == "rand")
        self.offsets = (np.arange(targets) * SCRAPE_MS // max(targets, 1)).astype(np.int64)

    def labels(self) -> list[tuple[tuple[str, str], ...]]:
        out = []
        names = {
            "counter": "http_requests_total",
            "hist": "http_request_duration_seconds_bucket",
            "igauge": "process_resident_memory_bytes",
            "fgauge": "node_hwmon_temp_celsius",
            "const": "build_info",
            "rand": "ratio",
        }
        for i, kind in enumerate(self.kinds.tolist()):
            target, within = divmod(i, PER_TARGET)
            out.append(
                make_labels(names[kind], {"instance": f"host-{target}:9100", "job": "bench", "series": str(within)})
            )
        return out

    def scrape(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Round ``k``: one timestamp per target and the values of all series."""
        rng = self.rng
        jitter = rng.choice(np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2]), self.targets)
        stamps = T0_MS + k * SCRAPE_MS + self.offsets + jitter
        v = self.value
        v[self.counter] += rng.poisson(self.rate)
        obs = rng.poisson(self.hist_rate)
        self.hist_buckets += np.cumsum(rng.multinomial(obs, self.bucket_p)[:, :10], axis=1)
        self.hist_sum += obs * 0.05 + rng.random(obs.size) * obs * 0.01
        block = np.empty((len(self.hist), 12))
        block[:, :10] = self.hist_buckets
        block[:, 10] = self.hist_sum
        block[:, 11] = self.hist_buckets[:, 9]
        v[self.hist.ravel()] = block.ravel()
        ig = self.igauge
        moving = rng.random(ig.size) < np.where(self.pages, 0.7, 0.3)
        step = np.where(self.pages, rng.integers(-64, 65, ig.size) * 4096.0, rng.integers(-2, 3, ig.size))
        v[ig] = np.maximum(v[ig] + step * moving, 0.0)
        fg = self.fgauge
        moved = np.where(
            self.cpu, v[fg] + rng.poisson(3, fg.size) / self.scale, v[fg] + rng.integers(-3, 4, fg.size) / self.scale
        )
        v[fg] = np.round(moved * self.scale) / self.scale
        v[self.rand] = rng.random(self.rand.size) * rng.choice([1e-3, 1.0, 1e3], self.rand.size)
        return stamps, v.copy()


def rounds(workload: Workload, count: int) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Per target per round: ``(round, target, stamp, values)``, in time order."""
    for k in range(count):
        stamps, values = workload.scrape(k)
        for t in range(workload.targets):
            yield k, t, int(stamps[t]), values[t * PER_TARGET : (t + 1) * PER_TARGET]


# --- the two stores ------------------------------------------------------------------------


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


@dataclass
class IngestResult:
    samples: int
    seconds: float
    disk_bytes: int
    maintain_seconds: float = 0.0
    open_disk_bytes: int = 0


def ingest_scalepilot(data_dir: Path, workload: Workload, count: int, label: str) -> tuple[IngestResult, SQLiteStore]:
    settings = StorageSettings(data_dir=data_dir)
    store = SQLiteStore.open(data_dir, settings)  # real clock: flushes every real second
    ids = np.asarray(store.series_ids(workload.labels()), dtype=np.int64)
    per_target = [ids[t * PER_TARGET : (t + 1) * PER_TARGET] for t in range(workload.targets)]
    samples = 0
    next_maintain = T0_MS + 60_000
    maintaining = 0.0
    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(label, total=count)
        for _k, t, stamp, values in rounds(workload, count):
            store.append(per_target[t], stamp, values)
            samples += values.size
            if stamp >= next_maintain:
                before = time.perf_counter()
                store.maintain(stamp)
                maintaining += time.perf_counter() - before
                next_maintain += 60_000
            if t == workload.targets - 1:
                bar.advance(task)
    end_ms = T0_MS + count * SCRAPE_MS
    # Half an hour later with no new data: the last window compacted, the block merged.
    store.flush()
    before = time.perf_counter()
    store.maintain(end_ms + 3_600_000)
    maintaining += time.perf_counter() - before
    seconds = time.perf_counter() - started
    return IngestResult(samples, seconds, 0, maintaining, store.stats().disk_bytes), store


def open_naive(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")  # the same durability as the store's flushes
    conn.execute(
        "CREATE TABLE IF NOT EXISTS samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, "
        "value REAL NOT NULL, PRIMARY KEY (series_id, ts))"
    )
    return conn


def ingest_naive(path: Path, workload: Workload, count: int, label: str) -> IngestResult:
    conn = open_naive(path)
    ids = np.arange(1, workload.n + 1, dtype=np.int64)
    rows: list[tuple[int, int, float]] = []
    samples = 0
    last_commit = time.monotonic()
    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(label, total=count)
        for _, t, stamp, values in rounds(workload, count):
            sids = ids[t * PER_TARGET : (t + 1) * PER_TARGET].tolist()
            rows.extend(zip(sids, [stamp] * len(sids), values.tolist(), strict=True))
            samples += values.size
            if time.monotonic() - last_commit >= 1.0:
                conn.execute("BEGIN")
                conn.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", rows)
                conn.execute("COMMIT")
                rows.clear()
                last_commit = time.monotonic()
            if t == workload.targets - 1:
                bar.advance(task)
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return IngestResult(samples, seconds, dir_bytes(path.parent))


# --- phases -----------------------------------------------------------------------------------


def phase_ingest(root: Path, targets: int, hours: float) -> list[tuple[str, str, str, str, str]]:
    count = int(hours * 3600_000 // SCRAPE_MS)
    ours_dir = root / "ingest-scalepilot"
    result, store = ingest_scalepilot(ours_dir, Workload(targets), count, "scalepilot: ingest")
    chunks = store.stats().chunks
    store.close()
    ours_bytes = dir_bytes(ours_dir)
    naive_dir = root / "ingest-naive"
    naive_dir.mkdir()
    naive = ingest_naive(naive_dir / "naive.db", Workload(targets), count, "naive table: ingest")
    ours_rate = result.samples / result.seconds
    naive_rate = naive.samples / naive.seconds
    ours_bps = ours_bytes / result.samples
    naive_bps = naive.disk_bytes / naive.samples
    console.print(
        f"  {result.samples:,} samples of {workload_size(targets)} series over {hours:g} h: scalepilot "
        f"{result.seconds:.1f} s ({result.maintain_seconds:.1f} s of it in maintain), naive {naive.seconds:.1f} s; "
        f"{chunks:,} chunks, {ours_bytes / 1e6:.1f} MB after close "
        f"({result.open_disk_bytes / 1e6:.1f} MB with the -wal file while open)"
    )
    return [
        (
            "ingest, samples/s (goal >= 200k)",
            f"{ours_rate:,.0f}",
            f"{naive_rate:,.0f} (naive table)",
            f"{ours_rate / naive_rate:.1f}x faster",
            "ok" if ours_rate >= 200_000 else "MISSED",
        ),
        (
            "disk, bytes/sample (goal <= 2)",
            f"{ours_bps:.2f}",
            f"{naive_bps:.2f} (naive table)",
            f"{naive_bps / ours_bps:.1f}x smaller",
            "ok" if ours_bps <= 2 else "MISSED",
        ),
        ("", "", f"{PROMETHEUS_DOCUMENTED} (Prometheus, documented)", "", ""),
    ]


def workload_size(targets: int) -> str:
    return f"{targets * PER_TARGET:,}"


def phase_read(root: Path, targets: int, days: float, repeats: int) -> list[tuple[str, str, str, str, str]]:
    count = int(days * 86400_000 // SCRAPE_MS)
    ours_dir = root / "read-scalepilot"
    _, store = ingest_scalepilot(ours_dir, Workload(targets, seed=11), count, f"scalepilot: {days:g} days")
    store.close()
    naive_dir = root / "read-naive"
    naive_dir.mkdir()
    ingest_naive(naive_dir / "naive.db", Workload(targets, seed=11), count, f"naive table: {days:g} days")

    start, end = T0_MS, T0_MS + count * SCRAPE_MS
    store = SQLiteStore.open(ours_dir, StorageSettings(data_dir=ours_dir), read_only=True)
    matchers = [name_matcher("http_requests_total")]
    wanted = store.series(matchers)[len(store.series(matchers)) // 2]
    sel = [name_matcher("http_requests_total"), *(Matcher(k, MatchOp.EQ, v) for k, v in wanted if k != "__name__")]
    ours: list[float] = []
    naive: list[float] = []
    conn = sqlite3.connect(naive_dir / "naive.db")
    sid = store.series_ids([wanted])[0]  # the naive table numbers series in the same order
    got = 0
    for _ in range(repeats):
        t = time.perf_counter()
        data = store.select(sel, start, end)
        ours.append(time.perf_counter() - t)
        got = data[0].timestamps.size
        t = time.perf_counter()
        rows = conn.execute(
            "SELECT ts, value FROM samples WHERE series_id = ? AND ts >= ? AND ts <= ? ORDER BY ts", (sid, start, end)
        ).fetchall()
        np.asarray(rows, dtype=np.float64)  # arrays out, as the store hands them
        naive.append(time.perf_counter() - t)
    conn.close()
    store.close()
    if len(rows) != got:
        console.print(f"[red]sample counts differ: {got} vs naive {len(rows)}[/red]")
    ours_ms = statistics.median(ours) * 1000
    naive_ms = statistics.median(naive) * 1000
    console.print(
        f"  read {got:,} samples of one series out of {workload_size(targets)} series x {days:g} days, "
        f"median of {repeats}"
    )
    return [
        (
            f"read 1 series x {days:g} d, ms (goal <= 20)",
            f"{ours_ms:.2f}",
            f"{naive_ms:.2f} (naive table)",
            f"{naive_ms / ours_ms:.1f}x faster",
            "ok" if ours_ms <= 20 else "MISSED",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few seconds")
    parser.add_argument("--data-dir", type=Path, help="work here (kept) instead of a temporary directory")
    args = parser.parse_args(argv)
    if args.quick:
        ingest_targets, hours, read_targets, days, repeats = 5, 1.0, 2, 1.0, 5
    else:
        ingest_targets, hours, read_targets, days, repeats = 100, 6.0, 2, 7.0, 31
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-store-"))
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        console.print(f"[red]{root} is not empty[/red]")
        return 2
    try:
        console.print(
            f"[bold]scalepilot store benchmark[/bold] ({'quick' if args.quick else 'full'}; "
            f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} cpus)"
        )
        rows = phase_ingest(root, ingest_targets, hours)
        rows += phase_read(root, read_targets, days, repeats)
    finally:
        if args.data_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    if args.quick:  # fixed costs (empty tables, labels) dominate tiny stores; goals are for full sizes
        rows = [(*r[:4], "(quick)" if r[4] else "") for r in rows]
    table = Table(title="scalepilot store vs references (same run)")
    for col in ("figure", "scalepilot", "reference", "ratio", "goal"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
