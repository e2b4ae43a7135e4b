"""Bringing the in-memory head and index up to date from the database.

Two callers: a writer opening the store replays the write-ahead batches into an empty
head (the crash recovery: whatever was flushed is back, nothing else is needed), and a
read-only opener, which has no head of its own, follows the writer before each read.

Following runs inside the reader's read transaction, so the head it builds and the
chunks it reads next come from the same snapshot; a writer's compaction (rows trimmed
or deleted, chunks written) is therefore never seen half-way. ``PRAGMA data_version``
tells whether anything was committed since the last time, so an idle writer costs a
reader two tiny queries per read.
"""

from __future__ import annotations

import json
import logging
import sqlite3

import numpy as np

from scalepilot.adapters.store import codec
from scalepilot.adapters.store.errors import UnknownSeries
from scalepilot.adapters.store.head import Batch, HeadSnapshot
from scalepilot.adapters.store.state import MemoryState
from scalepilot.domain.labels import Labels
from scalepilot.domain.samples import Float64Array, Int64Array

log = logging.getLogger(__name__)


def labels_to_json(labels: Labels) -> str:
    return json.dumps([[k, v] for k, v in labels], separators=(",", ":"), ensure_ascii=False)


def labels_from_json(text: str) -> Labels:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


def load(conn: sqlite3.Connection, mem: MemoryState) -> tuple[dict[str, int], int, int]:
    """Fill an empty ``mem`` from the database (inside a read transaction). Returns the
    meta table, the next write-ahead sequence number and the data version."""
    meta = {str(k): int(v) for k, v in conn.execute("SELECT key, value FROM meta").fetchall()}
    series = conn.execute("SELECT id, labels, raw_tmax FROM series ORDER BY id").fetchall()
    chunk_rows = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    rollup_rows = conn.execute("SELECT count(*) FROM rollups").fetchone()[0]
    batches = conn.execute("SELECT seq, created_ms, data FROM head_batches ORDER BY seq").fetchall()
    version = int(conn.execute("PRAGMA data_version").fetchone()[0])
    with mem.lock:
        mem.max_span_ms = meta.get("max_span_ms", 0)
        mem.chunk_rows = int(chunk_rows)
        mem.rollup_rows = int(rollup_rows)
        for sid, text, raw_tmax in series:
            mem.index.add(int(sid), labels_from_json(text), has_data=raw_tmax is not None)
            if raw_tmax is not None:
                mem.raw_tmax[int(sid)] = int(raw_tmax)
        for seq, created_ms, blob in batches:
            _load_batch(mem, int(seq), int(created_ms), codec.decode_batch(blob))
    next_seq = int(batches[-1][0]) + 1 if batches else 1
    return meta, next_seq, version


def _load_batch(
    mem: MemoryState, seq: int, created_ms: int, arrays: tuple[Int64Array, Int64Array, Float64Array]
) -> None:
    """Append a stored batch to the head (state lock held)."""
    ids, ts, vals = arrays
    index = mem.index
    try:
        slots = index.slots(ids)
    except UnknownSeries:
        # Cannot happen through this store (series with head samples are never
        # dropped); keep the rest of the data rather than refuse to open.
        known = np.isin(ids, index.live_ids())
        log.warning(
            "write-ahead batch %d holds %d samples of unknown series; skipped", seq, int(np.count_nonzero(~known))
        )
        ids, ts, vals = ids[known], ts[known], vals[known]
        slots = index.slots(ids)
    mem.head.load_batch(seq, created_ms, ids, ts, vals)
    if ids.size:
        index.update_latest(slots, ts, vals)
        index.mark_has_data(ids)


def catch_up(conn: sqlite3.Connection, mem: MemoryState, last_version: int | None) -> int:
    """Apply what the writer committed since ``last_version``; returns the new one."""
    # This first read pins the transaction's snapshot; data_version, read after it,
    # then says whether that snapshot differs from the one caught up with last. The
    # span bound is refreshed every time: it must match the chunks this snapshot holds.
    span = conn.execute("SELECT value FROM meta WHERE key = 'max_span_ms'").fetchone()
    with mem.lock:
        mem.max_span_ms = int(span[0]) if span else 0
    version = int(conn.execute("PRAGMA data_version").fetchone()[0])
    if version == last_version:
        return version
    _follow_series(conn, mem)
    _follow_batches(conn, mem)
    return version


def _follow_series(conn: sqlite3.Connection, mem: MemoryState) -> None:
    with mem.lock:
        live = mem.index.live_ids()
    newest = int(live[-1]) if live.size else 0
    fresh = conn.execute("SELECT id, labels, raw_tmax FROM series WHERE id > ? ORDER BY id", (newest,)).fetchall()
    total = conn.execute("SELECT count(*) FROM series").fetchone()[0]
    gone: list[int] = []
    if total < live.size + len(fresh):  # retention dropped some
        present = {r[0] for r in conn.execute("SELECT id FROM series WHERE id <= ?", (newest,))}
        gone = [int(i) for i in live.tolist() if i not in present]
    chunk_rows = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    rollup_rows = conn.execute("SELECT count(*) FROM rollups").fetchone()[0]
    with mem.lock:
        mem.index.remove(gone)
        for sid, text, raw_tmax in fresh:
            mem.index.add(int(sid), labels_from_json(text), has_data=raw_tmax is not None)
        mem.chunk_rows, mem.rollup_rows = int(chunk_rows), int(rollup_rows)


def _follow_batches(conn: sqlite3.Connection, mem: MemoryState) -> None:
    stored = [
        (int(s), int(t), int(c))
        for s, t, c in conn.execute("SELECT seq, created_ms, count FROM head_batches ORDER BY seq").fetchall()
    ]
    with mem.lock:
        have = {b.seq: b for b in mem.head.batches}
        known = [(b.seq, b.count) for b in mem.head.batches]
    if [(s, c) for s, _, c in stored[: len(known)]] == known:
        for seq, created_ms, _ in stored[len(known) :]:  # only new batches: append them
            arrays = codec.decode_batch(_batch_blob(conn, seq))
            with mem.lock:
                _load_batch(mem, seq, created_ms, arrays)
        return
    # The writer compacted: rebuild in seq order, reusing the batches that did not change.
    segments: list[tuple[Batch, HeadSnapshot]] = []
    fresh: list[HeadSnapshot] = []
    with mem.lock:
        reuse = {seq: mem.head.segment(b) for seq, b in have.items()}
        live = mem.index.live_ids()
    for seq, created_ms, count in stored:
        old = have.get(seq)
        if old is not None and old.count == count:
            snap = reuse[seq]
        else:
            ids, ts, vals = codec.decode_batch(_batch_blob(conn, seq))
            ok = np.isin(ids, live)
            snap = HeadSnapshot(ids[ok], ts[ok], vals[ok])
            fresh.append(snap)
        segments.append((Batch(seq, 0, snap.ids.size, created_ms), snap))
    with mem.lock:
        mem.head.replace_batches(segments)
        index = mem.index
        for snap in fresh:  # reused segments are in the newest-sample arrays already
            if snap.ids.size:
                index.update_latest(index.slots(snap.ids), snap.timestamps, snap.values)
                index.mark_has_data(snap.ids)


def _batch_blob(conn: sqlite3.Connection, seq: int) -> bytes:
    blob: bytes = conn.execute("SELECT data FROM head_batches WHERE seq = ?", (seq,)).fetchone()[0]
    return blob
