"""Events, config revisions and state documents in the SQLite store.

Covers:
- add_event returns increasing ids; details round-trip as JSON;
- events() is newest first, and filters by since_ms, kinds, service and limit;
- events are visible to a read-only opener at once (no flush needed);
- config revisions: the same text again returns the existing revision, a changed text
  adds one (also when changing back), newest first, limited;
- state documents: put, overwrite, delete, read back after reopening; a version-1
  store is upgraded in place.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.events import Event, EventKind

T0 = 1_700_000_000_000


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore.open(data_dir, StorageSettings(), clock=lambda: T0 / 1000)
    yield s
    s.close()


def test_events_newest_first_with_filters(store: SQLiteStore) -> None:
    ids = [
        store.add_event(Event(T0, EventKind.STARTED, "started")),
        store.add_event(Event(T0 + 10, EventKind.TARGET_DOWN, "shop down", "shop", {"url": "http://a", "n": 1})),
        store.add_event(Event(T0 + 20, EventKind.TARGET_UP, "shop up", "shop")),
        store.add_event(Event(T0 + 20, EventKind.TARGET_DOWN, "cart down", "cart")),
    ]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [e.message for e in store.events()] == ["cart down", "shop up", "shop down", "started"]
    assert [e.message for e in store.events(since_ms=T0 + 10)] == ["cart down", "shop up", "shop down"]
    assert [e.message for e in store.events(kinds=[EventKind.TARGET_DOWN])] == ["cart down", "shop down"]
    assert [e.message for e in store.events(service="shop")] == ["shop up", "shop down"]
    assert [e.message for e in store.events(service="shop", kinds=["target_down"])] == ["shop down"]
    assert [e.message for e in store.events(limit=1)] == ["cart down"]
    assert store.events(kinds=[]) == []
    (down,) = store.events(kinds=["target_down"], service="shop")
    assert down == Event(T0 + 10, "target_down", "shop down", "shop", {"n": 1, "url": "http://a"}, id=ids[1])


def test_events_are_visible_to_readers_at_once(store: SQLiteStore, data_dir: Path) -> None:
    store.add_event(Event(T0, EventKind.STARTED, "started"))
    ro = SQLiteStore.open(data_dir, StorageSettings(), read_only=True)
    try:
        assert [e.message for e in ro.events()] == ["started"]
    finally:
        ro.close()


def test_event_details_must_be_json(store: SQLiteStore) -> None:
    with pytest.raises(TypeError):
        store.add_event(Event(T0, EventKind.STARTED, "bad", details={"x": object()}))
    assert store.events() == []


def test_config_revisions(store: SQLiteStore) -> None:
    a = store.add_config_revision("services: []\n", "/etc/a.yaml", T0)
    assert a.sha256 == hashlib.sha256(b"services: []\n").hexdigest()
    assert store.add_config_revision("services: []\n", "/etc/a.yaml", T0 + 5) == a
    b = store.add_config_revision("services: [x]\n", "/etc/a.yaml", T0 + 10)
    c = store.add_config_revision("services: []\n", "/etc/a.yaml", T0 + 20)
    assert a.id < b.id < c.id and c.sha256 == a.sha256
    assert store.config_revisions() == [c, b, a]
    assert store.config_revisions(limit=1) == [c]
    assert (c.timestamp_ms, c.source, c.text) == (T0 + 20, "/etc/a.yaml", "services: []\n")


def test_state_documents_survive_reopen_and_upgrade(tmp_path: Path) -> None:
    settings = StorageSettings()
    with SQLiteStore.open(tmp_path, settings) as store:
        assert store.get_state("local/shop") is None
        store.put_state("local/shop", {"replicas": [{"pid": 12, "port": 8001}]})
        store.put_state("local/shop", {"replicas": []})
        store.put_state("other", {"x": 1})
        store.delete_state("other")
    with SQLiteStore.open(tmp_path, settings, read_only=True) as reader:
        assert reader.get_state("local/shop") == {"replicas": []}
        assert reader.get_state("other") is None


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    with SQLiteStore.open(tmp_path, StorageSettings()):
        pass
    conn = sqlite3.connect(tmp_path / "store.db")
    try:
        conn.execute("DROP TABLE state")
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    finally:
        conn.close()
    with SQLiteStore.open(tmp_path, StorageSettings()) as store:
        store.put_state("k", {"v": 1})
        assert store.get_state("k") == {"v": 1}
