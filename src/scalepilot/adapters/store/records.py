"""Events and config revisions: small relational records beside the samples.

They need none of the head's machinery: each is one row, written at once in its own
transaction (events are rare and each one matters, so they are durable immediately,
not at the next flush) and read with an indexed query. Kept in the same database so one
data directory backs everything up together.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from scalepilot.domain.events import Event
from scalepilot.domain.store import ConfigRevision


def insert_event(conn: sqlite3.Connection, event: Event) -> int:
    """Insert one event; ``details`` must be JSON-serialisable (json's TypeError names
    the value that is not: a bug in the caller, so it is not wrapped)."""
    details = json.dumps(event.details, separators=(",", ":"), sort_keys=True)
    cur = conn.execute(
        "INSERT INTO events (ts_ms, kind, service, message, details) VALUES (?, ?, ?, ?, ?)",
        (event.timestamp_ms, str(event.kind), event.service, event.message, details),
    )
    rowid = cur.lastrowid
    assert rowid is not None
    return int(rowid)


def last_event_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
    return int(row[0])


def query_events(
    conn: sqlite3.Connection,
    *,
    since_ms: int | None,
    kinds: Sequence[str] | None,
    service: str | None,
    limit: int,
    until_ms: int | None = None,
    after_id: int | None = None,
) -> list[Event]:
    """Newest first (ties in time by insertion, newest first too)."""
    where: list[str] = []
    params: list[Any] = []
    if since_ms is not None:
        where.append("ts_ms >= ?")
        params.append(since_ms)
    if until_ms is not None:
        where.append("ts_ms <= ?")
        params.append(until_ms)
    if after_id is not None:
        where.append("id > ?")
        params.append(after_id)
    if kinds is not None:
        if not kinds:
            return []
        where.append(f"kind IN ({','.join('?' * len(kinds))})")
        params.extend(str(k) for k in kinds)
    if service is not None:
        where.append("service = ?")
        params.append(service)
    sql = "SELECT id, ts_ms, kind, service, message, details FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY ts_ms DESC, id DESC LIMIT ?"
    params.append(max(0, limit))
    return [
        Event(timestamp_ms=ts, kind=kind, message=msg, service=svc, details=json.loads(det), id=eid)
        for eid, ts, kind, svc, msg, det in conn.execute(sql, params).fetchall()
    ]


def insert_config_revision(conn: sqlite3.Connection, text: str, source: str, timestamp_ms: int) -> ConfigRevision:
    """Record a config text inside the caller's write transaction. The newest revision
    is returned as it is when the text has not changed (a restart adds nothing); a
    change back to an older text is a new revision, so the history reads in order."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    row = conn.execute(
        "SELECT id, ts_ms, sha256, source, text FROM config_revisions ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is not None and row[2] == digest:
        return ConfigRevision(*row)
    cur = conn.execute(
        "INSERT INTO config_revisions (ts_ms, sha256, source, text) VALUES (?, ?, ?, ?)",
        (timestamp_ms, digest, source, text),
    )
    rowid = cur.lastrowid
    assert rowid is not None
    return ConfigRevision(int(rowid), timestamp_ms, digest, source, text)


def query_config_revisions(conn: sqlite3.Connection, limit: int) -> list[ConfigRevision]:
    rows = conn.execute(
        "SELECT id, ts_ms, sha256, source, text FROM config_revisions ORDER BY id DESC LIMIT ?",
        (max(0, limit),),
    ).fetchall()
    return [ConfigRevision(*r) for r in rows]


def put_state(conn: sqlite3.Connection, key: str, value: dict[str, Any], timestamp_ms: int) -> None:
    conn.execute(
        "INSERT INTO state (key, updated_ms, value) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET updated_ms = excluded.updated_ms, value = excluded.value",
        (key, timestamp_ms, json.dumps(value, separators=(",", ":"), sort_keys=True)),
    )


def get_state(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    value: dict[str, Any] = json.loads(row[0])
    return value


def delete_state(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("DELETE FROM state WHERE key = ?", (key,))
