"""Compaction, block merges, rollups and retention of the SQLite store.

Covers:
- compaction moves closed windows into chunks without changing a single bit of what
  select returns (NaN payloads, -0.0, stale markers, duplicates resolved the same);
- a write-ahead batch straddling the cut is trimmed, not lost or duplicated, also
  across a crash;
- samples older than compacted data (back-fill, late scrapes) merge into the chunks,
  newest write winning, and chunks of a series stay disjoint;
- closed blocks end up as one chunk per series;
- rollups (1m and 5m: min, max, sum, count, last; stale markers excluded) equal numpy
  computed from the raw samples, both computed on demand and once stored when raw
  retention passes;
- retention deletes raw blocks, then rollups, events, and finally series with no data;
- resolution_for; the head stays bounded, even with samples stamped in the future; latest after compaction and reopen;
- a model check: any interleaving of appends (out of order, duplicates, any bits),
  flushes and maintenance reads back the last write per (series, timestamp).
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import RetentionSettings, StorageSettings
from scalepilot.domain.events import Event
from scalepilot.domain.labels import make_labels
from scalepilot.domain.matchers import name_matcher
from scalepilot.domain.samples import STALE_NAN, SeriesData, stale_mask

T0 = 1_700_000_000_000 // 21_600_000 * 21_600_000  # a block boundary
MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000


class FakeClock:
    def __init__(self) -> None:
        self.now = T0 / 1000

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore.open(data_dir, StorageSettings(), clock=FakeClock())
    yield s
    s.close()


def snapshot(store: SQLiteStore, name: str = "m", start: int = T0 - 100 * DAY, end: int = T0 + 100 * DAY) -> dict:
    """Everything select returns, bit patterns included."""
    return {
        s.labels: (s.timestamps.tolist(), s.values.view(np.uint64).tolist())
        for s in store.select([name_matcher(name)], start, end)
    }


def fill(store: SQLiteStore, n_series: int, hours: float, step_ms: int = 15_000, seed: int = 3) -> list[int]:
    rng = np.random.default_rng(seed)
    ids = store.series_ids([make_labels("m", {"i": str(i)}) for i in range(n_series)])
    special = np.array([0.0, -0.0, np.inf, np.nan, STALE_NAN, 1e300, -1.5])
    for k in range(int(hours * HOUR // step_ms)):
        vals = np.round(rng.normal(100, 10, n_series), 2)
        if k % 37 == 0:
            vals[k % n_series] = special[k % special.size]
        store.append(ids, T0 + k * step_ms + int(rng.integers(0, 3)), vals)
        if k % 4 == 0:
            store.flush()
    store.flush()
    return ids


def chunk_rows(data_dir: Path) -> list[tuple[int, int, int, int]]:
    conn = sqlite3.connect(f"file:{data_dir / 'store.db'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT series_id, t_min, t_max, count FROM chunks ORDER BY series_id, t_min").fetchall()
    finally:
        conn.close()


def assert_disjoint(rows: list[tuple[int, int, int, int]]) -> None:
    for a, b in itertools.pairwise(rows):
        if a[0] == b[0]:
            assert a[2] < b[1], (a, b)


def test_compaction_preserves_every_bit(store: SQLiteStore) -> None:
    fill(store, 20, 3)
    before = snapshot(store)
    for minutes in (31, 61, 95, 200, 24 * 60):
        report = store.maintain(T0 + minutes * MIN)
        assert snapshot(store) == before, minutes
    assert report["compacted_samples"] > 0 or store.stats().head_samples == 0
    assert store.stats().head_samples == 0
    assert store.stats().chunks > 0


def test_compaction_cuts_at_closed_windows(store: SQLiteStore, data_dir: Path) -> None:
    fill(store, 5, 1.5)
    store.maintain(T0 + 70 * MIN)  # windows [0, 30) and [30, 60) closed a grace ago
    rows = chunk_rows(data_dir)
    assert rows and max(r[2] for r in rows) < T0 + 60 * MIN
    assert store.stats().head_samples == 5 * 120  # the last 30 minutes
    assert_disjoint(rows)


def test_a_straddling_batch_is_trimmed_across_a_crash(store: SQLiteStore, data_dir: Path, tmp_path: Path) -> None:
    ids = store.series_ids([make_labels("m", {"i": str(i)}) for i in range(3)])
    for k in range(130):  # one flush holding samples on both sides of T0 + 30 min
        store.append(ids, T0 + k * 15_000, [float(k)] * 3)
    store.flush()
    before = snapshot(store)
    store.maintain(T0 + 40 * MIN)
    assert store.stats().head_samples == 3 * 10
    crashed = tmp_path / "crashed"
    shutil.copytree(data_dir, crashed, ignore=shutil.ignore_patterns("*.lock"))
    again = SQLiteStore.open(crashed, StorageSettings())
    try:
        assert again.stats().head_samples == 3 * 10
        assert snapshot(again) == before
    finally:
        again.close()


def test_backfill_and_late_samples_merge_into_chunks(store: SQLiteStore, data_dir: Path) -> None:
    (sid,) = store.series_ids([make_labels("m")])
    store.append([sid] * 240, T0 + np.arange(240) * 15_000, np.arange(240.0))
    store.maintain(T0 + 2 * HOUR)
    assert store.stats().head_samples == 0
    # A late scrape inside a compacted window, a correction, and history before all.
    store.append([sid, sid, sid], [T0 + 7_500, T0 + 15_000, T0 - DAY], [-1.0, -2.0, -3.0])
    expected_ts = [T0 - DAY, T0, T0 + 7_500, *(T0 + np.arange(1, 240) * 15_000).tolist()]
    expected_vals = [-3.0, 0.0, -1.0, -2.0, *np.arange(2.0, 240.0).tolist()]

    def check() -> None:
        (data,) = store.select([name_matcher("m")], T0 - 2 * DAY, T0 + DAY)
        assert data.timestamps.tolist() == expected_ts
        assert data.values.tolist() == expected_vals

    check()  # merged on read, head over chunks
    store.maintain(T0 + 3 * HOUR)
    check()  # merged into chunks
    assert_disjoint(chunk_rows(data_dir))
    latest = store.latest([name_matcher("m")])
    assert [(x.timestamp_ms, x.value) for x in latest] == [(T0 + 239 * 15_000, 239.0)]


def test_closed_blocks_become_one_chunk_per_series(store: SQLiteStore, data_dir: Path) -> None:
    fill(store, 4, 7)
    before = snapshot(store)
    store.maintain(T0 + 8 * HOUR)
    rows = chunk_rows(data_dir)
    first_block = [r for r in rows if r[1] < T0 + 6 * HOUR]
    assert len(first_block) == 4  # one chunk per series for the closed 6 h block
    assert all(r[3] == 6 * 240 for r in first_block)
    assert_disjoint(rows)
    assert snapshot(store) == before


def numpy_rollup(data: SeriesData, res: int) -> dict[int, tuple[float, float, float, float, float]]:
    keep = ~stale_mask(data.values)
    ts, vals = data.timestamps[keep], data.values[keep]
    out = {}
    for start in np.unique(ts // res * res).tolist():
        v = vals[(ts >= start) & (ts < start + res)]
        out[start] = (
            float(np.nanmin(v)) if not np.isnan(v).all() else np.nan,
            float(np.nanmax(v)) if not np.isnan(v).all() else np.nan,
            float(v.sum()),
            float(v.size),
            float(v[-1]),
        )
    return out


def rollups(store: SQLiteStore, res: int, start: int, end: int) -> dict:
    out = {}
    for r in store.select_rollup([name_matcher("m")], start, end, res):
        assert r.resolution_ms == res
        out[r.labels] = {
            int(t): (float(a), float(b), float(c), float(d), float(e))
            for t, a, b, c, d, e in zip(r.timestamps, r.min, r.max, r.sum, r.count, r.last, strict=True)
        }
    return out


def same(a: dict, b: dict) -> bool:
    """Equal bucket by bucket, NaN equal to NaN; sums to rounding (the order of float
    additions differs between numpy's sum and a running reduction)."""
    if a.keys() != b.keys():
        return False
    for k, value in a.items():
        x, y = np.array(value, dtype=np.float64), np.array(b[k], dtype=np.float64)
        exact = [0, 1, 3, 4]
        if not np.array_equal(x[exact], y[exact], equal_nan=True):
            return False
        if not np.isclose(x[2], y[2], rtol=1e-12, equal_nan=True):
            return False
    return True


@pytest.mark.parametrize("res", [60_000, 300_000])
def test_rollups_match_numpy_computed_and_stored(data_dir: Path, res: int) -> None:
    retention = RetentionSettings(raw=1 * 86400, rollup_1m=3 * 86400, rollup_5m=5 * 86400)
    store = SQLiteStore.open(data_dir, StorageSettings(retention=retention), clock=FakeClock())
    try:
        fill(store, 6, 13)
        start, end = T0 + 7 * MIN + 3, T0 + 12 * HOUR
        raw = store.select([name_matcher("m")], start // res * res, end // res * res + res - 1)
        want = {s.labels: {t: v for t, v in numpy_rollup(s, res).items() if t <= end} for s in raw}
        assert all(same(rollups(store, res, start, end)[k], want[k]) for k in want)  # from the head
        store.maintain(T0 + 13 * HOUR + 10 * MIN)
        assert all(same(rollups(store, res, start, end)[k], want[k]) for k in want)  # from chunks
        report = store.maintain(T0 + 13 * HOUR + 2 * DAY)  # raw retention has passed
        assert report["raw_blocks_expired"] >= 2 and report["rollups_written"] > 0
        assert store.select([name_matcher("m")], start, end) == []
        got = rollups(store, res, start, end)
        assert got.keys() == want.keys()
        assert all(same(got[k], want[k]) for k in want)  # stored
    finally:
        store.close()


def test_retention_removes_data_then_series(data_dir: Path) -> None:
    retention = RetentionSettings(raw=1 * 86400, rollup_1m=2 * 86400, rollup_5m=3 * 86400)
    clock = FakeClock()
    store = SQLiteStore.open(data_dir, StorageSettings(retention=retention), clock=clock)
    try:
        fill(store, 2, 7)
        store.add_event(Event(T0, "started", "old event"))
        store.add_event(Event(T0 + 5 * DAY, "started", "new event"))
        store.maintain(T0 + 8 * HOUR)
        assert store.select([name_matcher("m")], T0, T0 + HOUR)

        store.maintain(T0 + 6 * HOUR + DAY + HOUR)  # the first block's raw samples go
        assert store.select([name_matcher("m")], T0, T0 + 6 * HOUR - 1) == []
        assert store.select([name_matcher("m")], T0 + 6 * HOUR, T0 + 7 * HOUR)
        assert store.select_rollup([name_matcher("m")], T0, T0 + HOUR, 60_000)

        store.maintain(T0 + 7 * HOUR + 2 * DAY + HOUR)  # 1m rollups of it go, 5m stay
        assert store.select_rollup([name_matcher("m")], T0, T0 + HOUR, 60_000) == []
        assert store.select_rollup([name_matcher("m")], T0, T0 + HOUR, 300_000)
        assert store.series([name_matcher("m")])

        report = store.maintain(T0 + 7 * HOUR + 3 * DAY + HOUR)  # nothing left at all
        assert report["series_dropped"] == 2
        assert store.series([name_matcher("m")]) == []
        assert store.label_names() == []
        assert [e.message for e in store.events()] == ["new event"]
        assert store.stats().chunks == 0
        # The name can come back as a new series.
        (sid,) = store.series_ids([make_labels("m", {"i": "0"})])
        store.append([sid], T0 + 10 * DAY, [1.0])
        assert len(store.select([name_matcher("m")], T0 + 10 * DAY, T0 + 10 * DAY)) == 1
    finally:
        store.close()


def test_series_with_head_samples_are_never_dropped(data_dir: Path) -> None:
    retention = RetentionSettings(raw=3600, rollup_1m=3600, rollup_5m=3600)
    store = SQLiteStore.open(data_dir, StorageSettings(retention=retention), clock=FakeClock())
    try:
        (sid,) = store.series_ids([make_labels("m")])
        store.append([sid], T0 - 30 * DAY, [1.0])  # ancient, but only in the head so far
        store.flush()
        store.maintain(T0 + 10 * MIN)  # compacts it, then expires it
        assert store.series([name_matcher("m")]) == []
        (sid,) = store.series_ids([make_labels("m")])
        store.append([sid], T0 + 20 * MIN, [2.0])
        store.maintain(T0 + 25 * MIN)
        assert len(store.series([name_matcher("m")])) == 1
    finally:
        store.close()


def test_resolution_for(data_dir: Path) -> None:
    clock = FakeClock()
    retention = RetentionSettings(raw=15 * 86400, rollup_1m=90 * 86400, rollup_5m=400 * 86400)
    store = SQLiteStore.open(data_dir, StorageSettings(retention=retention), clock=clock)
    try:
        now = T0
        assert store.resolution_for(now - HOUR, now, 15_000) == 0
        assert store.resolution_for(now - DAY, now, 60_000) == 60_000
        assert store.resolution_for(now - 30 * DAY, now, 299_999) == 60_000
        assert store.resolution_for(now - 30 * DAY, now, 3_600_000) == 300_000
        assert store.resolution_for(now - 200 * DAY, now, 60_000) == 0  # 1m is not kept that long
        assert store.resolution_for(now - 200 * DAY, now, 300_000) == 300_000
        assert store.resolution_for(now - 500 * DAY, now, 300_000) == 0
    finally:
        store.close()


def test_select_rollup_refuses_other_resolutions(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="resolution"):
        store.select_rollup([name_matcher("m")], T0, T0 + HOUR, 120_000)


def test_head_stays_bounded(store: SQLiteStore) -> None:
    ids = store.series_ids([make_labels("m", {"i": str(i)}) for i in range(10)])
    biggest = 0
    for k in range(6 * 240):
        t = T0 + k * 15_000
        store.append(ids, t, [float(k)] * 10)
        if k % 4 == 0:
            store.flush()
            store.maintain(t)
            biggest = max(biggest, store.stats().head_samples)
    # At most one window (30 min) plus the grace minute, of 10 series at 15 s.
    assert biggest <= 10 * (120 + 4 + 4)


def test_samples_stamped_in_the_future_do_not_pin_the_head(data_dir: Path) -> None:
    clock = FakeClock()
    store = SQLiteStore.open(data_dir, StorageSettings(), clock=clock)
    try:
        (sid,) = store.series_ids([make_labels("m")])
        store.append([sid], T0 + 30 * DAY, [1.0])  # an exporter with a broken clock
        store.flush()
        store.maintain(T0)
        assert store.stats().head_samples == 1
        clock.now += 2 * 1800 + 1  # the batch is now two windows old on the store's clock
        store.maintain(T0)
        assert store.stats().head_samples == 0
        (data,) = store.select([name_matcher("m")], T0, T0 + 31 * DAY)
        assert data.timestamps.tolist() == [T0 + 30 * DAY]
    finally:
        store.close()


def test_latest_after_compaction_and_reopen(data_dir: Path) -> None:
    store = SQLiteStore.open(data_dir, StorageSettings(), clock=FakeClock())
    ids = store.series_ids([make_labels("m", {"i": "0"}), make_labels("m", {"i": "1"})])
    store.append(ids, T0, [1.0, 2.0])
    store.append(ids[:1], T0 + 15_000, [STALE_NAN])
    store.maintain(T0 + DAY)
    store.close()
    store = SQLiteStore.open(data_dir, StorageSettings(), read_only=True)
    try:
        got = {dict(x.labels)["i"]: (x.timestamp_ms, x.stale) for x in store.latest([name_matcher("m")])}
        assert got == {"0": (T0 + 15_000, True), "1": (T0, False)}
    finally:
        store.close()


def test_reader_follows_compaction_without_loss_or_duplicates(store: SQLiteStore, data_dir: Path) -> None:
    fill(store, 3, 2)
    ro = SQLiteStore.open(data_dir, StorageSettings(), read_only=True)
    try:
        before = snapshot(ro)
        assert before == snapshot(store)
        store.maintain(T0 + 65 * MIN)
        assert snapshot(ro) == before
        assert ro.stats().head_samples == store.stats().head_samples
        store.maintain(T0 + DAY)
        assert snapshot(ro) == before
        assert ro.stats().head_samples == 0
    finally:
        ro.close()


def test_integrity_check_is_clean(store: SQLiteStore) -> None:
    fill(store, 3, 1)
    store.maintain(T0 + DAY)
    assert store.integrity_check() == []


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("append"),
            st.lists(
                st.tuples(st.integers(0, 2), st.integers(0, 45), st.integers(0, 2**64 - 1)), min_size=1, max_size=8
            ),
        ),
        st.tuples(st.just("flush"), st.just([])),
        st.tuples(st.just("maintain"), st.integers(0, 60)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_any_interleaving_reads_back_the_last_writes(ops: list[tuple[str, object]]) -> None:
    """A model check: whatever mix of appends (out of order, duplicates, any bits),
    flushes and maintenance rounds, select returns exactly the last write per
    (series, timestamp), before and after reopening."""
    model: dict[tuple[int, int], int] = {}
    step = 10 * MIN  # 46 slots of 10 minutes span windows and a block boundary
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        store = SQLiteStore.open(data_dir, StorageSettings(), clock=FakeClock())
        try:
            ids = store.series_ids([make_labels("m", {"i": str(i)}) for i in range(3)])
            for op, arg in ops:
                if op == "append":
                    samples = arg  # type: ignore[assignment]
                    store.append(
                        [ids[s] for s, _, _ in samples],
                        [T0 + slot * step for _, slot, _ in samples],
                        np.array([b for _, _, b in samples], dtype=np.uint64).view(np.float64),
                    )
                    for s, slot, b in samples:
                        model[(ids[s], T0 + slot * step)] = b
                elif op == "flush":
                    store.flush()
                else:
                    store.maintain(T0 + int(arg) * step)  # type: ignore[call-overload]
            want = model_view(model, ids)
            assert read_back(store, ids) == want
            store.maintain(T0 + 2 * DAY)
            assert read_back(store, ids) == want
        finally:
            store.close()
        store = SQLiteStore.open(data_dir, StorageSettings(), read_only=True)
        try:
            assert read_back(store, ids) == want
        finally:
            store.close()


def model_view(model: dict[tuple[int, int], int], ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = {}
    for (sid, ts), b in sorted(model.items()):
        out.setdefault(sid, []).append((ts, b))
    return out


def read_back(store: SQLiteStore, ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    by_labels = {make_labels("m", {"i": str(i)}): sid for i, sid in enumerate(ids)}
    return {
        by_labels[s.labels]: list(zip(s.timestamps.tolist(), s.values.view(np.uint64).tolist(), strict=True))
        for s in store.select([name_matcher("m")], T0 - DAY, T0 + 3 * DAY)
    }
