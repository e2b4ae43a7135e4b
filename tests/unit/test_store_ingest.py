"""Ingest, flush, reads and openers of the SQLite store.

Covers:
- series_ids get-or-create: stable ids, canonical label sets, ids kept across reopen;
- append with one shared timestamp or one per sample; validation of lengths and ids;
- select: inclusive range, sorted, last write wins on equal timestamps, only series
  with samples in the range, stale markers returned bit-exactly;
- latest: newest sample per series, stale flagged, out-of-order samples in one append;
- flush on demand and automatically inside append once the oldest unflushed sample is
  flush_interval old (fake clock, no sleeping);
- a crash (the files as they are on disk, no close) loses nothing flushed and replays
  the write-ahead batches;
- a read-only opener sees everything flushed (head included), nothing unflushed, keeps
  up with later flushes and compactions, and refuses writes;
- a second writer on the same data directory is refused; closed stores refuse use;
- stats.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scalepilot.adapters.store import (
    SQLiteStore,
    StoreClosed,
    StoreError,
    StoreLocked,
    StoreReadOnly,
    UnknownSeries,
)
from scalepilot.config.models import StorageSettings
from scalepilot.domain.events import Event
from scalepilot.domain.labels import make_labels
from scalepilot.domain.matchers import Matcher, MatchOp, name_matcher
from scalepilot.domain.samples import STALE_NAN, STALE_NAN_BITS
from scalepilot.domain.store import Store

T0 = 1_700_000_000_000 // 21_600_000 * 21_600_000
ALL = [Matcher("__name__", MatchOp.RE, ".+")]


class FakeClock:
    def __init__(self, seconds: float = T0 / 1000) -> None:
        self.now = seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path, clock: FakeClock) -> Iterator[SQLiteStore]:
    s = SQLiteStore.open(data_dir, StorageSettings(), clock=clock)
    yield s
    s.close()


def reader(data_dir: Path) -> SQLiteStore:
    return SQLiteStore.open(data_dir, StorageSettings(), read_only=True)


def values_of(store: SQLiteStore, name: str, start: int = T0 - 10**9, end: int = T0 + 10**10) -> dict:
    return {
        dict(s.labels).get("i", ""): (s.timestamps.tolist(), s.values.tolist())
        for s in store.select([name_matcher(name)], start, end)
    }


def test_the_store_satisfies_the_protocol(store: SQLiteStore) -> None:
    as_protocol: Store = store
    assert as_protocol.label_names() == []


def test_series_ids_get_or_create(store: SQLiteStore, data_dir: Path, clock: FakeClock) -> None:
    a = make_labels("up", {"job": "x"})
    b = make_labels("up", {"job": "y"})
    first = store.series_ids([a, b, a])
    assert first[0] == first[2] != first[1]
    assert store.series_ids([b]) == [first[1]]
    # Unsorted pairs and empty values mean the same series.
    assert store.series_ids([(("job", "x"), ("__name__", "up"), ("env", ""))]) == [first[0]]
    store.close()
    again = SQLiteStore.open(data_dir, StorageSettings(), clock=clock)
    try:
        assert again.series_ids([b, a]) == [first[1], first[0]]
        assert again.series_ids([make_labels("up", {"job": "z"})])[0] > max(first)
    finally:
        again.close()


def test_append_and_select(store: SQLiteStore) -> None:
    ids = store.series_ids([make_labels("m", {"i": str(i)}) for i in range(3)])
    store.append(ids, T0, [1.0, 2.0, 3.0])
    store.append(ids, [T0 + 2000, T0 + 1000, T0 + 1000], [4.0, 5.0, 6.0])
    store.append(ids[:1], T0 + 1000, [7.0])
    assert values_of(store, "m") == {
        "0": ([T0, T0 + 1000, T0 + 2000], [1.0, 7.0, 4.0]),
        "1": ([T0, T0 + 1000], [2.0, 5.0]),
        "2": ([T0, T0 + 1000], [3.0, 6.0]),
    }
    # Inclusive bounds, and only series with samples in the range.
    assert values_of(store, "m", T0 + 2000, T0 + 2000) == {"0": ([T0 + 2000], [4.0])}
    assert values_of(store, "m", T0 + 3000, T0 + 9000) == {}
    out = store.select([name_matcher("m")], T0, T0 + 5000)
    assert all(s.timestamps.dtype == np.int64 and s.values.dtype == np.float64 for s in out)


def test_last_write_wins_within_one_append(store: SQLiteStore) -> None:
    (sid,) = store.series_ids([make_labels("m")])
    store.append([sid, sid, sid], [T0 + 5, T0, T0 + 5], [1.0, 2.0, 3.0])
    assert values_of(store, "m") == {"": ([T0, T0 + 5], [2.0, 3.0])}


def test_stale_markers_are_returned_and_flagged(store: SQLiteStore) -> None:
    ids = store.series_ids([make_labels("m", {"i": "0"}), make_labels("m", {"i": "1"})])
    store.append(ids, T0, [1.0, 2.0])
    store.append(ids[:1], T0 + 15_000, [STALE_NAN])
    (data,) = [s for s in store.select([name_matcher("m")], T0, T0 + 15_000) if dict(s.labels)["i"] == "0"]
    assert data.values.view(np.uint64)[1] == STALE_NAN_BITS
    latest = {dict(x.labels)["i"]: x for x in store.latest([name_matcher("m")])}
    assert latest["0"].stale and latest["0"].timestamp_ms == T0 + 15_000
    assert not latest["1"].stale and latest["1"].value == 2.0


def test_latest_handles_out_of_order_samples(store: SQLiteStore) -> None:
    ids = store.series_ids([make_labels("m", {"i": "0"}), make_labels("m", {"i": "1"})])
    store.append([ids[0], ids[0], ids[1]], [T0 + 10, T0 + 5, T0], [1.0, 2.0, 3.0])
    store.append([ids[1]], [T0 - 100], [9.0])  # older than what is known: not the newest
    got = {dict(x.labels)["i"]: (x.timestamp_ms, x.value) for x in store.latest([name_matcher("m")])}
    assert got == {"0": (T0 + 10, 1.0), "1": (T0, 3.0)}


def test_append_validates_its_input(store: SQLiteStore) -> None:
    (sid,) = store.series_ids([make_labels("m")])
    with pytest.raises(ValueError, match="values"):
        store.append([sid], T0, [1.0, 2.0])
    with pytest.raises(ValueError, match="timestamps"):
        store.append([sid], [T0, T0], [1.0])
    with pytest.raises(UnknownSeries):
        store.append([sid, sid + 100], T0, [1.0, 2.0])
    assert store.stats().head_samples == 0  # nothing half-appended
    store.append([], T0, [])


def test_flush_makes_samples_visible_to_other_processes(store: SQLiteStore, data_dir: Path) -> None:
    (sid,) = store.series_ids([make_labels("m")])
    store.append([sid], T0, [1.0])
    ro = reader(data_dir)
    try:
        assert values_of(ro, "m") == {}
        store.flush()
        assert values_of(ro, "m") == {"": ([T0], [1.0])}
        store.append([sid], T0 + 1000, [2.0])
        store.flush()
        assert values_of(ro, "m") == {"": ([T0, T0 + 1000], [1.0, 2.0])}
        assert [(x.timestamp_ms, x.value) for x in ro.latest([name_matcher("m")])] == [(T0 + 1000, 2.0)]
        assert ro.stats().head_samples == 2
    finally:
        ro.close()


def test_append_flushes_by_itself_after_flush_interval(store: SQLiteStore, data_dir: Path, clock: FakeClock) -> None:
    (sid,) = store.series_ids([make_labels("m")])
    ro = reader(data_dir)
    try:
        store.append([sid], T0, [1.0])
        clock.now += 0.5
        store.append([sid], T0 + 500, [2.0])
        assert values_of(ro, "m") == {}
        clock.now += 0.5  # the first sample is now flush_interval (1 s) old
        store.append([sid], T0 + 1000, [3.0])
        assert values_of(ro, "m") == {"": ([T0, T0 + 500, T0 + 1000], [1.0, 2.0, 3.0])}
        store.append([sid], T0 + 2000, [4.0])
        clock.now -= 3600  # a clock stepping back does not hold flushes off for an hour
        store.append([sid], T0 + 3000, [5.0])
        assert len(values_of(ro, "m")[""][0]) == 5
    finally:
        ro.close()


def copy_as_crashed(src: Path, dst: Path) -> Path:
    """The data directory as a kill -9 would leave it: database and WAL, no close."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock"))
    return dst


def test_a_crash_keeps_every_flushed_sample(store: SQLiteStore, data_dir: Path, tmp_path: Path) -> None:
    ids = store.series_ids([make_labels("m", {"i": str(i)}) for i in range(50)])
    for k in range(20):
        store.append(ids, T0 + k * 15_000, np.arange(50.0) + k)
        store.flush()
    store.append(ids, T0 + 20 * 15_000, np.zeros(50))  # appended, never flushed
    crashed = copy_as_crashed(data_dir, tmp_path / "crashed")
    again = SQLiteStore.open(crashed, StorageSettings())
    try:
        got = values_of(again, "m")
        assert len(got) == 50
        assert got["7"] == ([T0 + k * 15_000 for k in range(20)], [7.0 + k for k in range(20)])
        assert again.stats().head_samples == 1000
    finally:
        again.close()


def test_read_only_opener_learns_new_series(store: SQLiteStore, data_dir: Path) -> None:
    store.flush()
    ro = reader(data_dir)
    try:
        (sid,) = store.series_ids([make_labels("late", {"i": "1"})])
        store.append([sid], T0, [1.0])
        store.flush()
        assert ro.series_ids([make_labels("late", {"i": "1"})]) == [sid]
        assert ro.label_values("i") == ["1"]
    finally:
        ro.close()


def test_read_only_opener_refuses_writes(store: SQLiteStore, data_dir: Path) -> None:
    (sid,) = store.series_ids([make_labels("m")])
    store.flush()
    ro = reader(data_dir)
    try:
        assert ro.series_ids([make_labels("m")]) == [sid]
        with pytest.raises(StoreReadOnly):
            ro.series_ids([make_labels("other")])
        with pytest.raises(StoreReadOnly):
            ro.append([sid], T0, [1.0])
        with pytest.raises(StoreReadOnly):
            ro.flush()
        with pytest.raises(StoreReadOnly):
            ro.maintain(T0)
        with pytest.raises(StoreReadOnly):
            ro.add_event(Event(T0, "started", "x"))
    finally:
        ro.close()


def test_read_only_needs_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no scalepilot store"):
        reader(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_a_second_writer_is_refused(store: SQLiteStore, data_dir: Path) -> None:
    with pytest.raises(StoreLocked, match="already open for writing"):
        SQLiteStore.open(data_dir, StorageSettings())
    ro = reader(data_dir)  # readers are welcome
    ro.close()
    store.close()
    again = SQLiteStore.open(data_dir, StorageSettings())
    again.close()


def test_a_closed_store_refuses_use(store: SQLiteStore) -> None:
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosed):
        store.series_ids([make_labels("m")])
    with pytest.raises(StoreClosed):
        store.select(ALL, 0, 1)


def test_errors_say_transient_or_permanent() -> None:
    from scalepilot.adapters.store import StoreCorrupt, StoreUnavailable
    from scalepilot.domain.errors import ScalepilotError

    assert issubclass(StoreError, ScalepilotError)
    assert StoreUnavailable.transient
    assert not StoreLocked.transient and not StoreCorrupt.transient and not UnknownSeries.transient


def test_stats(store: SQLiteStore) -> None:
    ids = store.series_ids([make_labels("m", {"i": str(i)}) for i in range(4)])
    store.append(ids, T0, [1.0] * 4)
    store.flush()
    stats = store.stats()
    assert (stats.series, stats.head_samples, stats.samples_appended_total, stats.chunks) == (4, 4, 4, 0)
    assert stats.disk_bytes > 0
    store.maintain(T0 + 86_400_000)
    stats = store.stats()
    assert (stats.head_samples, stats.samples_appended_total, stats.chunks) == (0, 4, 4)
