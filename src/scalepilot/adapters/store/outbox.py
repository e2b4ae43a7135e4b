"""The notification outbox: SQL for the ``outbox`` table.

Every notification is written here before anyone tries to send it, in its own
fsync'ed transaction like events, so a crash or a restart while a receiver is down
loses nothing. Delivery claims items with a compare-and-set inside one ``BEGIN
IMMEDIATE`` transaction (due and not claimed → ``sending`` with a lease), so two
workers never send one item at once and an item claimed by a worker that died is
claimed again when its lease ends. Counting the attempt at claim time, not at the
verdict, means an item that crashes the process is still pushed into the future and
eventually dead-lettered instead of crash-looping the delivery.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from scalepilot.domain.store import OutboxItem, OutboxState

_COLUMNS = "id, receiver, integration, group_key, created_ms, payload, state, attempts, next_ms, updated_ms, last_error"
_OPEN = (OutboxState.PENDING.value, OutboxState.SENDING.value)


def _item(row: Sequence[Any]) -> OutboxItem:
    return OutboxItem(
        id=row[0],
        receiver=row[1],
        integration=row[2],
        group_key=row[3],
        created_ms=int(row[4]),
        payload=json.loads(row[5]),
        state=OutboxState(row[6]),
        attempts=int(row[7]),
        next_ms=int(row[8]),
        updated_ms=int(row[9]),
        last_error=row[10],
    )


def add(conn: sqlite3.Connection, items: Sequence[OutboxItem]) -> int:
    added = 0
    for it in items:
        if it.supersedes:
            conn.execute(
                "UPDATE outbox SET state = ?, updated_ms = ? WHERE receiver = ? AND integration = ? "
                "AND group_key = ? AND state = ?",
                (OutboxState.SUPERSEDED.value, it.created_ms, it.receiver, it.integration, it.group_key, "pending"),
            )
        cur = conn.execute(
            f"INSERT OR IGNORE INTO outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                it.id,
                it.receiver,
                it.integration,
                it.group_key,
                it.created_ms,
                json.dumps(it.payload, separators=(",", ":"), sort_keys=True),
                it.state.value,
                it.attempts,
                it.next_ms,
                it.updated_ms or it.created_ms,
                it.last_error,
            ),
        )
        added += cur.rowcount
    return added


def claim(
    conn: sqlite3.Connection, now_ms: int, limit: int, lease_ms: int, skip: Sequence[tuple[str, str]]
) -> list[OutboxItem]:
    params: list[Any] = [*_OPEN, now_ms]
    where = "state IN (?, ?) AND next_ms <= ?"
    if skip:
        where += f" AND receiver || char(0) || integration NOT IN ({','.join('?' * len(skip))})"
        params += [f"{r}\x00{i}" for r, i in skip]
    sql = f"SELECT {_COLUMNS} FROM outbox WHERE {where} ORDER BY seq LIMIT ?"
    rows = conn.execute(sql, (*params, limit)).fetchall()
    out = []
    for row in rows:
        item = _item(row)
        cur = conn.execute(
            "UPDATE outbox SET state = ?, attempts = attempts + 1, next_ms = ?, updated_ms = ? "
            "WHERE id = ? AND state = ? AND next_ms = ?",
            (OutboxState.SENDING.value, now_ms + lease_ms, now_ms, item.id, item.state.value, item.next_ms),
        )
        if cur.rowcount == 1:
            out.append(
                OutboxItem(
                    item.id,
                    item.receiver,
                    item.integration,
                    item.group_key,
                    item.created_ms,
                    item.payload,
                    OutboxState.SENDING,
                    item.attempts + 1,
                    now_ms + lease_ms,
                    now_ms,
                    item.last_error,
                )
            )
    return out


def retry(conn: sqlite3.Connection, item_id: str, next_ms: int, error: str, now_ms: int) -> None:
    conn.execute(
        "UPDATE outbox SET state = ?, next_ms = ?, last_error = ?, updated_ms = ? WHERE id = ? AND state = ?",
        (OutboxState.PENDING.value, next_ms, error, now_ms, item_id, OutboxState.SENDING.value),
    )


def finish(conn: sqlite3.Connection, item_id: str, state: OutboxState, now_ms: int, error: str) -> None:
    if state not in (OutboxState.DONE, OutboxState.DEAD):
        raise ValueError(f"an outbox item finishes done or dead, not {state}")
    # A delivered item keeps the error of its last failed attempt, for the record.
    conn.execute(
        "UPDATE outbox SET state = ?, last_error = CASE WHEN ? = '' THEN last_error ELSE ? END, updated_ms = ? "
        "WHERE id = ?",
        (state.value, error, error, now_ms, item_id),
    )


def requeue(conn: sqlite3.Connection, now_ms: int) -> int:
    cur = conn.execute(
        "UPDATE outbox SET state = ?, next_ms = ?, updated_ms = ? WHERE state = ?",
        (OutboxState.PENDING.value, now_ms, now_ms, OutboxState.SENDING.value),
    )
    return cur.rowcount


def items(conn: sqlite3.Connection, states: Sequence[OutboxState] | None, limit: int) -> list[OutboxItem]:
    sql = f"SELECT {_COLUMNS} FROM outbox"
    params: list[Any] = []
    if states is not None:
        if not states:
            return []
        sql += f" WHERE state IN ({','.join('?' * len(states))})"
        params += [s.value for s in states]
    sql += " ORDER BY seq DESC LIMIT ?"
    params.append(max(0, limit))
    return [_item(r) for r in conn.execute(sql, params).fetchall()]


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    found = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    return {s.value: int(found.get(s.value, 0)) for s in OutboxState}


def next_due(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT min(next_ms) FROM outbox WHERE state IN (?, ?)", _OPEN).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def prune(conn: sqlite3.Connection, done_before_ms: int, dead_before_ms: int) -> int:
    cur = conn.execute(
        "DELETE FROM outbox WHERE (state IN (?, ?) AND updated_ms < ?) OR (state = ? AND updated_ms < ?)",
        (OutboxState.DONE.value, OutboxState.SUPERSEDED.value, done_before_ms, OutboxState.DEAD.value, dead_before_ms),
    )
    return cur.rowcount
