"""Thread safety of the SQLite store: the event loop appends and reads while a worker
thread runs maintenance, as the runtime does.

Covers:
- appenders, readers, flushes and maintain() running concurrently lose, duplicate and
  corrupt nothing: at the end every series holds exactly what was appended;
- readers never see a series go backwards (a sample once visible stays visible) while
  compaction moves samples from the head into chunks;
- series created concurrently from several threads get one id per label set.

Threads run a fixed amount of work and are joined; nothing sleeps to synchronise.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.labels import make_labels
from scalepilot.domain.matchers import name_matcher

T0 = 1_700_000_000_000 // 21_600_000 * 21_600_000
STEP = 15_000


def test_maintain_in_a_thread_while_appending_and_reading(tmp_path: Path) -> None:
    store = SQLiteStore.open(tmp_path / "data", StorageSettings(), clock=lambda: T0 / 1000)
    errors: list[BaseException] = []
    n_series, rounds = 50, 2000  # 2000 scrapes at 15 s: 8 h 20 m, several compactions and a merge
    ids = store.series_ids([make_labels("m", {"i": str(i)}) for i in range(n_series)])
    progress = {"round": -1}
    done = threading.Event()

    def guarded(fn):  # type: ignore[no-untyped-def]
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # collected and re-raised in the test thread
                errors.append(exc)
                done.set()

        return run

    @guarded
    def appender() -> None:
        for k in range(rounds):
            store.append(ids, T0 + k * STEP, np.full(n_series, float(k)))
            if k % 3 == 0:
                store.flush()
            progress["round"] = k
        done.set()

    @guarded
    def maintainer() -> None:
        while not done.is_set():
            k = progress["round"]
            if k >= 0:
                store.maintain(T0 + k * STEP)

    @guarded
    def reader() -> None:
        seen = 0
        while not done.is_set():
            data = store.select([name_matcher("m")], T0, T0 + rounds * STEP)
            counts = {s.labels: s.timestamps.size for s in data}
            if counts:
                low = min(counts.values())
                assert low >= seen, (low, seen)  # never goes backwards
                seen = low
            for s in data:
                assert np.all(np.diff(s.timestamps) > 0)
                assert np.array_equal(s.values, (s.timestamps - T0) // STEP)

    threads = [threading.Thread(target=f) for f in (appender, maintainer, reader, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
    store.maintain(T0 + rounds * STEP + 3_600_000)
    data = store.select([name_matcher("m")], T0, T0 + rounds * STEP)
    assert len(data) == n_series
    for s in data:
        assert s.timestamps.tolist() == [T0 + k * STEP for k in range(rounds)]
        assert s.values.tolist() == [float(k) for k in range(rounds)]
    assert store.integrity_check() == []
    store.close()


def test_concurrent_series_creation(tmp_path: Path) -> None:
    store = SQLiteStore.open(tmp_path / "data", StorageSettings())
    labels = [make_labels("m", {"i": str(i)}) for i in range(300)]
    results: list[list[int]] = []
    lock = threading.Lock()

    def create(offset: int) -> None:
        order = labels[offset:] + labels[:offset]
        got = store.series_ids(order)
        with lock:
            results.append(got[len(labels) - offset :] + got[: len(labels) - offset])

    threads = [threading.Thread(target=create, args=(k * 37,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == results[0] for r in results)
    assert len(set(results[0])) == len(labels)
    assert store.stats().series == len(labels)
    store.close()
