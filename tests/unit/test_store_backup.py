"""Backup and restore of the store, in process (the CLI and a running scalepilot are in
tests/integration/test_backup.py).

Covers: a backup of an open store (its writer still holding the lock) has the flushed
samples and events and reports its contents; progress ends at (total, total); restores
over a store, twice within a second, keep both replaced stores under distinct names,
each still readable; a truncated backup is refused before anything changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.adapters.store.backup import backup, inspect_backup, restore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.events import Event, EventKind
from scalepilot.domain.labels import make_labels
from scalepilot.domain.store import StoreError

NOW_MS = 1_700_000_000_000


def make_store(data_dir: Path, samples: int) -> SQLiteStore:
    store = SQLiteStore.open(data_dir, StorageSettings(), clock=lambda: NOW_MS / 1000)
    (sid,) = store.series_ids([make_labels("up", {"job": "api"})])
    store.append([sid] * samples, [NOW_MS - 1000 * i for i in range(samples, 0, -1)], [1.0] * samples)
    store.add_event(Event(NOW_MS, EventKind.STARTED, "started"))
    store.flush()
    return store


def sample_count(data_dir: Path) -> int:
    with SQLiteStore.open(data_dir, StorageSettings(), read_only=True) as store:
        return sum(len(s.timestamps) for s in store.select([], NOW_MS - 3_600_000, NOW_MS))


def test_backup_of_an_open_store(tmp_path: Path) -> None:
    store = make_store(tmp_path / "data", 50)
    seen: list[tuple[int, int]] = []
    try:
        info = backup(tmp_path / "data", tmp_path / "b.db", progress=lambda done, total: seen.append((done, total)))
    finally:
        store.close()
    assert (info.series, info.events) == (1, 1)
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert not (tmp_path / "b.db.partial").exists()
    restore(tmp_path / "b.db", tmp_path / "copy")
    assert sample_count(tmp_path / "copy") == 50


def test_restores_keep_every_store_they_replace(tmp_path: Path) -> None:
    make_store(tmp_path / "a", 10).close()
    make_store(tmp_path / "b", 20).close()
    backup(tmp_path / "a", tmp_path / "a.db")
    backup(tmp_path / "b", tmp_path / "b.db")
    target = tmp_path / "target"
    restore(tmp_path / "a.db", target)
    _, first = restore(tmp_path / "b.db", target, force=True)
    _, second = restore(tmp_path / "a.db", target, force=True)
    assert first is not None and second is not None and first != second
    assert sample_count(target) == 10
    assert inspect_backup(first).series == inspect_backup(second).series == 1
    with pytest.raises(StoreError, match="--force"):
        restore(tmp_path / "a.db", target)


def test_a_truncated_backup_changes_nothing(tmp_path: Path) -> None:
    make_store(tmp_path / "a", 500).close()
    backup(tmp_path / "a", tmp_path / "a.db")
    cut = tmp_path / "cut.db"
    data = (tmp_path / "a.db").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    restore(tmp_path / "a.db", tmp_path / "target")
    before = sorted(p.name for p in (tmp_path / "target").iterdir())
    with pytest.raises(StoreError):
        restore(cut, tmp_path / "target", force=True)
    assert sorted(p.name for p in (tmp_path / "target").iterdir()) == before
    assert sample_count(tmp_path / "target") == 500
