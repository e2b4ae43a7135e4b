"""The store's notification outbox (SQLite).

Covers:
- add is durable at once and idempotent by id; items survive closing and reopening;
- claim takes due items oldest first, counts the attempt, leases them, skips the
  integrations asked to be skipped and items not yet due, and never hands one item out
  twice; an expired lease makes an item claimable again; requeue frees all claims;
- retry / finish (done, dead) update state, error and next attempt; counts and listing;
- a superseding item marks older pending items of the same integration and group;
- prune drops old delivered, superseded and dead items only;
- a version-2 data directory is upgraded to the outbox schema in place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.store import OutboxItem, OutboxState

T0 = 1_700_000_000_000


def item(
    n: int, *, receiver: str = "team", integration: str = "webhook/0", group: str = "g", **kw: object
) -> OutboxItem:
    return OutboxItem(
        id=f"id{n}",
        receiver=receiver,
        integration=integration,
        group_key=group,
        created_ms=T0 + n,
        payload={"n": n, "text": "ü"},
        next_ms=T0 + n,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore.open(tmp_path / "data", StorageSettings(), clock=lambda: T0 / 1000)
    yield s
    s.close()


def test_add_is_idempotent_and_durable(tmp_path: Path) -> None:
    with SQLiteStore.open(tmp_path, StorageSettings()) as s:
        assert s.outbox_add([item(1), item(2)]) == 2
        assert s.outbox_add([item(1)]) == 0
    with SQLiteStore.open(tmp_path, StorageSettings(), read_only=True) as ro:
        got = ro.outbox_items()
        assert [i.id for i in got] == ["id2", "id1"]
        assert got[1].payload == {"n": 1, "text": "ü"} and got[1].state is OutboxState.PENDING
        assert ro.outbox_next_due() == T0 + 1


def test_claim_leases_and_never_hands_out_twice(store: SQLiteStore) -> None:
    store.outbox_add([item(1), item(2), item(3, integration="slack/0"), item(50)])
    first = store.outbox_claim(T0 + 10, 10, 5000, skip=[("team", "slack/0")])
    assert [(i.id, i.attempts, i.state, i.next_ms) for i in first] == [
        ("id1", 1, OutboxState.SENDING, T0 + 5010),
        ("id2", 1, OutboxState.SENDING, T0 + 5010),
    ]
    assert [i.id for i in store.outbox_claim(T0 + 10, 10, 5000)] == ["id3"]
    assert store.outbox_claim(T0 + 10, 10, 5000) == []
    # id1's worker died: after the lease it is claimable again, attempt 2.
    again = store.outbox_claim(T0 + 5010, 1, 5000)
    assert [(i.id, i.attempts) for i in again] == [("id1", 2)]
    assert store.outbox_requeue(T0 + 5011) == 3
    assert [i.id for i in store.outbox_claim(T0 + 5011, 10, 5000)] == ["id1", "id2", "id3", "id50"]


def test_retry_finish_counts_prune(store: SQLiteStore) -> None:
    store.outbox_add([item(1), item(2), item(3)])
    store.outbox_claim(T0 + 5, 3, 1000)
    store.outbox_retry("id1", T0 + 60_000, "team/webhook/0: connection refused", T0 + 6)
    store.outbox_finish("id2", OutboxState.DONE, T0 + 7)
    store.outbox_finish("id3", OutboxState.DEAD, T0 + 8, "HTTP 400")
    assert store.outbox_counts() == {"pending": 1, "sending": 0, "done": 1, "dead": 1, "superseded": 0}
    (pending,) = store.outbox_items([OutboxState.PENDING])
    assert pending.last_error.endswith("connection refused") and pending.next_ms == T0 + 60_000
    assert store.outbox_claim(T0 + 59_999, 10, 1000) == []
    assert store.outbox_next_due() == T0 + 60_000
    assert store.outbox_prune(done_before_ms=T0 + 100, dead_before_ms=T0) == 1
    assert store.outbox_prune(done_before_ms=T0 + 100, dead_before_ms=T0 + 100) == 1
    assert [i.id for i in store.outbox_items()] == ["id1"]
    with pytest.raises(ValueError, match="done or dead"):
        store.outbox_finish("id1", OutboxState.PENDING, T0)


def test_superseding_item_replaces_older_pending_ones(store: SQLiteStore) -> None:
    store.outbox_add([item(1), item(2, group="other")])
    store.outbox_add([item(3, supersedes=True)])
    states = {i.id: i.state for i in store.outbox_items()}
    assert states == {"id1": OutboxState.SUPERSEDED, "id2": OutboxState.PENDING, "id3": OutboxState.PENDING}


def test_version_2_store_gets_the_outbox(tmp_path: Path) -> None:
    with SQLiteStore.open(tmp_path, StorageSettings()):
        pass
    conn = sqlite3.connect(tmp_path / "store.db")
    try:
        conn.execute("DROP TABLE outbox")
        conn.execute("PRAGMA user_version = 2")
        conn.commit()
    finally:
        conn.close()
    with SQLiteStore.open(tmp_path, StorageSettings()) as s:
        assert s.outbox_add([item(1)]) == 1
    conn = sqlite3.connect(tmp_path / "store.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    finally:
        conn.close()
