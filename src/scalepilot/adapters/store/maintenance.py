"""Background work: compaction, block merges, retention.

Each step has the same shape, so that ingest and queries never wait long:

1. under the state lock, *copy* what is to be rewritten (or read it in a read
   transaction);
2. with no lock held, decode, merge and encode (the expensive part);
3. in one write transaction, swap old rows for new ones, then update memory.

Steps:

* **compaction**: flushed head samples older than the cut (windows that ended a grace
  period ago) become per-series chunks; the write-ahead rows they came from are deleted,
  or trimmed if they also hold newer samples, *in the same transaction*, so after a crash
  every sample is in exactly one of the two places. Samples overlapping existing chunks
  (late or back-filled) are merged into them, newest write winning, which keeps the
  chunks of a series disjoint in time.
* **block merge**: once a block has closed, the window chunks of each series in it
  become one chunk.
* **retention**: a block past raw retention is turned into stored 1m/5m rollups (if
  those are still retained) and its raw chunks deleted, in one transaction; expired
  rollups and events are deleted; series with no data left are dropped.
* **vacuum**: pages freed by the above go back to the file system, a bounded number per
  round.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalepilot.adapters.store import codec
from scalepilot.adapters.store.database import Database, clamp_int64, in_chunks
from scalepilot.adapters.store.head import Head
from scalepilot.adapters.store.merge import group_by_series, merge_newest_wins, split_points
from scalepilot.adapters.store.rollup import RESOLUTIONS_MS, Buckets, combine, compute
from scalepilot.adapters.store.state import Layout, MemoryState
from scalepilot.config.models import RetentionSettings
from scalepilot.domain.samples import Float64Array, Int64Array

# Series rewritten per transaction by block merges and retention: bounds the memory of
# one step and the time any lock is held.
_SLICE = 1000
_DROP_CHECK_MS = 3_600_000
# Pages handed back to the file system per round at most (64 MiB of 4 KiB pages).
_VACUUM_PAGES = 16384


@dataclass(frozen=True, slots=True)
class _NewChunk:
    series_id: int
    t_min: int
    t_max: int
    count: int
    blob: bytes

    def row(self) -> tuple[int, int, int, int, bytes]:
        return (self.series_id, self.t_min, self.t_max, self.count, self.blob)


def _encode_pieces(sid: int, ts: Int64Array, vals: Float64Array, step_ms: int) -> list[_NewChunk]:
    cuts = split_points(ts, step_ms)
    out = []
    for a, b in itertools.pairwise(cuts):
        if b > a:
            t, v = ts[a:b], vals[a:b]
            out.append(_NewChunk(sid, int(t[0]), int(t[-1]), b - a, codec.encode_chunk(t, v)))
    return out


class Maintainer:
    def __init__(
        self,
        *,
        db: Database,
        mem: MemoryState,
        layout: Layout,
        retention: RetentionSettings,
        flush: Callable[[], None],
        flush_lock: threading.Lock,
        clock: Callable[[], float],
    ) -> None:
        self._db = db
        self._mem = mem
        self._layout = layout
        self._retention = retention
        self._flush = flush
        self._flush_lock = flush_lock
        self._clock = clock
        self._merged_until: int | None = None
        # Closed blocks that received late chunks since they were merged (in memory
        # only: after a restart they just stay as a few chunks, which reads handle).
        self._dirty_blocks: set[int] = set()
        # Finding series without data scans the series table; once an hour is plenty
        # for a rule measured in days.
        self._next_drop_check_ms: int | None = None

    def restore(self, meta: dict[str, int]) -> None:
        value = meta.get("merged_until")
        self._merged_until = int(value) if value is not None else None

    def run(self, now_ms: int) -> dict[str, Any]:
        started = time.perf_counter()
        self._flush()
        report: dict[str, Any] = {}
        cutoff = self._layout.compaction_cutoff(now_ms)
        report.update(self._compact(cutoff))
        report.update(self._merge_blocks(cutoff))
        report.update(self._retain(now_ms))
        report.update(self._vacuum())
        report["duration_seconds"] = round(time.perf_counter() - started, 6)
        return report

    # --- compaction --------------------------------------------------------------------------
    def _compact(self, cutoff: int) -> dict[str, Any]:
        mem, layout = self._mem, self._layout
        # A batch flushed this long ago is compacted whole, whatever its timestamps, so
        # samples stamped in the future cannot pin memory. Measured on the store's clock,
        # the one that stamped the batches, not against ``now_ms``.
        force_before = int(self._clock() * 1000) - 2 * layout.window_ms
        # Under the lock only take views: the flushed region does not change until this
        # (the only) maintenance thread removes from it, so the work is done unlocked.
        with mem.lock:
            snap = mem.head.flushed_snapshot()
            batches = mem.head.batches_copy()
            raw_tmax = dict(mem.raw_tmax)
        if not batches:
            return {"compacted_samples": 0, "chunks_written": 0}
        take = snap.timestamps < cutoff
        for b in batches:
            if b.created_ms < force_before:
                take[b.start : b.end] = True
        if not take.any():
            return {"compacted_samples": 0, "chunks_written": 0}
        ids, ts, vals = snap.ids[take], snap.timestamps[take], snap.values[take]
        starts = np.fromiter((b.start for b in batches), dtype=np.int64, count=len(batches))
        taken = np.add.reduceat(take, starts, dtype=np.int64).tolist()
        # What stays of a partly compacted batch, for its trimmed write-ahead row.
        remainders = {}
        for b, n in zip(batches, taken, strict=True):
            if 0 < n < b.count:
                rest = ~take[b.start : b.end]
                remainders[b.seq] = (
                    snap.ids[b.start : b.end][rest],
                    snap.timestamps[b.start : b.end][rest],
                    snap.values[b.start : b.end][rest],
                )
        emptied = [b.seq for b, n in zip(batches, taken, strict=True) if n == b.count]
        removal = Head.prepare_removal(snap, batches, take)

        grouped = group_by_series(ids, ts, vals)
        # Series whose new samples may overlap chunks already written.
        overlapping = [
            (i, sid)
            for i, sid in enumerate(grouped.ids.tolist())
            if sid in raw_tmax and int(grouped.timestamps[grouped.bounds[i]]) <= raw_tmax[sid]
        ]
        existing: dict[int, list[tuple[int, bytes]]] = {}
        if overlapping:
            with self._db.reading("reading chunks to merge") as conn:
                span = mem.max_span_ms
                for i, sid in overlapping:
                    t, _ = grouped.part(i)
                    existing[sid] = conn.execute(
                        "SELECT id, data FROM chunks WHERE series_id = ? AND t_min >= ? AND t_min <= ? "
                        "AND t_max >= ? ORDER BY t_min",
                        (sid, clamp_int64(int(t[0]) - span), int(t[-1]), int(t[0])),
                    ).fetchall()
        writes: list[_NewChunk] = []
        replaced: list[int] = []
        for i, sid in enumerate(grouped.ids.tolist()):
            t, v = grouped.part(i)
            rows = existing.get(sid)
            if rows:
                replaced.extend(r[0] for r in rows)
                parts = [codec.decode_chunk(r[1]) for r in rows]
                parts.append((t, v))
                t, v = merge_newest_wins(parts)
                # The old chunks may be whole blocks: the merge stays one chunk a block.
                pieces = _encode_pieces(sid, t, v, layout.block_ms)
            else:
                pieces = _encode_pieces(sid, t, v, layout.window_ms)
            if self._merged_until is not None:
                # Late chunks in blocks merged already: merge those blocks again.
                self._dirty_blocks.update(layout.block_of(p.t_min) for p in pieces if p.t_min < self._merged_until)
            writes.extend(pieces)
        batch_rows = {seq: codec.encode_batch(*rest) for seq, rest in remainders.items()}
        new_tmax: dict[int, int] = {}
        for w in writes:
            new_tmax[w.series_id] = max(new_tmax.get(w.series_id, w.t_max), w.t_max)
        span = max((w.t_max - w.t_min for w in writes), default=0)

        self._widen_span(span)
        with self._flush_lock, self._db.write_lock:
            with self._db.writing("compacting the head into chunks") as conn:
                for marks, part in in_chunks(replaced):
                    conn.execute(f"DELETE FROM chunks WHERE id IN ({marks})", part)
                conn.executemany(
                    "INSERT INTO chunks (series_id, t_min, t_max, count, data) VALUES (?, ?, ?, ?, ?)",
                    [w.row() for w in writes],
                )
                conn.executemany(
                    "UPDATE series SET raw_tmax = max(coalesce(raw_tmax, ?1), ?1) WHERE id = ?2",
                    [(t, s) for s, t in new_tmax.items()],
                )
                for marks, part in in_chunks(emptied):
                    conn.execute(f"DELETE FROM head_batches WHERE seq IN ({marks})", part)
                conn.executemany(
                    "UPDATE head_batches SET count = ?, data = ? WHERE seq = ?",
                    [(remainders[seq][0].size, blob, seq) for seq, blob in batch_rows.items()],
                )
                _raise_meta(conn, "max_span_ms", span)
            with mem.lock:
                mem.head.apply_removal(removal)
                for sid, t_max in new_tmax.items():
                    mem.raw_tmax[sid] = max(mem.raw_tmax.get(sid, t_max), t_max)
                mem.chunk_rows += len(writes) - len(replaced)
        return {"compacted_samples": int(ids.size), "chunks_written": len(writes)}

    # --- block merge -----------------------------------------------------------------------
    def _merge_blocks(self, cutoff: int) -> dict[str, Any]:
        layout = self._layout
        closed_until = layout.block_of(cutoff)
        if self._merged_until is None:
            with self._db.reading("finding the oldest chunk") as conn:
                oldest = conn.execute("SELECT min(t_min) FROM chunks").fetchone()[0]
            if oldest is None:
                return {"blocks_merged": 0, "chunks_merged": 0}
            self._merged_until = layout.block_of(int(oldest))
        blocks: set[int] = {b for b in self._dirty_blocks if b < closed_until}
        self._dirty_blocks -= blocks
        block = self._merged_until
        while block < closed_until:
            with self._db.reading("finding chunks to merge") as conn:
                nxt = conn.execute(
                    "SELECT min(t_min) FROM chunks WHERE t_min >= ? AND t_min < ?", (block, closed_until)
                ).fetchone()[0]
            if nxt is None:
                break
            block = layout.block_of(int(nxt))
            blocks.add(block)
            block += layout.block_ms
        merged_blocks = merged_chunks = 0
        for b in sorted(blocks):
            n = self._merge_block(b)
            merged_blocks += n > 0
            merged_chunks += n
        if closed_until > self._merged_until:
            self._merged_until = closed_until
            with self._db.write_lock, self._db.writing("recording merge progress") as conn:
                _set_meta(conn, "merged_until", closed_until)
        return {"blocks_merged": merged_blocks, "chunks_merged": merged_chunks}

    def _merge_block(self, block: int) -> int:
        """Merge each series' chunks in ``block`` into one; returns chunks replaced."""
        with self._db.reading("listing a block's chunks") as conn:
            rows = conn.execute(
                "SELECT series_id, id FROM chunks WHERE t_min >= ? AND t_min < ? ORDER BY series_id, t_min",
                (block, block + self._layout.block_ms),
            ).fetchall()
        per_series: dict[int, list[int]] = {}
        for sid, cid in rows:
            per_series.setdefault(int(sid), []).append(int(cid))
        todo = [(sid, cids) for sid, cids in per_series.items() if len(cids) > 1]
        replaced = 0
        for i in range(0, len(todo), _SLICE):
            part = todo[i : i + _SLICE]
            blobs = self._fetch_blobs([c for _, cids in part for c in cids])
            writes = []
            for sid, cids in part:
                t, v = merge_newest_wins([codec.decode_chunk(blobs[c]) for c in cids])
                writes.extend(_encode_pieces(sid, t, v, self._layout.block_ms))
            old = [c for _, cids in part for c in cids]
            self._swap_chunks(old, writes)
            replaced += len(old)
        return replaced

    def _widen_span(self, span: int) -> None:
        """Raise the in-memory bound on chunk spans *before* committing a longer chunk:
        a reader using a stale, smaller bound would scan from too late and miss it."""
        with self._mem.lock:
            self._mem.max_span_ms = max(self._mem.max_span_ms, span)

    def _fetch_blobs(self, chunk_ids: list[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        with self._db.reading("reading chunks") as conn:
            for marks, part in in_chunks(chunk_ids):
                for cid, blob in conn.execute(f"SELECT id, data FROM chunks WHERE id IN ({marks})", part):
                    out[int(cid)] = blob
        return out

    def _swap_chunks(self, old: list[int], new: list[_NewChunk]) -> None:
        mem = self._mem
        span = max((w.t_max - w.t_min for w in new), default=0)
        self._widen_span(span)
        with self._db.write_lock:
            with self._db.writing("merging chunks") as conn:
                for marks, part in in_chunks(old):
                    conn.execute(f"DELETE FROM chunks WHERE id IN ({marks})", part)
                conn.executemany(
                    "INSERT INTO chunks (series_id, t_min, t_max, count, data) VALUES (?, ?, ?, ?, ?)",
                    [w.row() for w in new],
                )
                _raise_meta(conn, "max_span_ms", span)
            with mem.lock:
                mem.chunk_rows += len(new) - len(old)

    # --- retention ---------------------------------------------------------------------------
    def _retain(self, now_ms: int) -> dict[str, Any]:
        r = self._retention
        raw_cut = now_ms - int(r.raw * 1000)
        cuts = {60_000: now_ms - int(r.rollup_1m * 1000), 300_000: now_ms - int(r.rollup_5m * 1000)}
        expired_blocks = rollups_written = 0
        while True:
            with self._db.reading("finding the oldest chunk") as conn:
                oldest = conn.execute("SELECT min(t_min) FROM chunks").fetchone()[0]
            if oldest is None:
                break
            block = self._layout.block_of(int(oldest))
            if block + self._layout.block_ms > raw_cut:
                break
            rollups_written += self._expire_block(block, cuts)
            expired_blocks += 1
        rollups_expired = 0
        mem = self._mem
        with self._db.write_lock:
            with self._db.writing("expiring rollups and events") as conn:
                for res, cut in cuts.items():
                    cur = conn.execute(
                        "DELETE FROM rollups WHERE resolution_ms = ? AND t_min < ? AND t_max <= ?",
                        (res, cut, cut - res),
                    )
                    rollups_expired += max(cur.rowcount, 0)
                # Events are kept as long as any metric data, so an event always has its
                # context; beyond that they would grow without bound.
                longest = max(r.raw, r.rollup_1m, r.rollup_5m)
                cur = conn.execute("DELETE FROM events WHERE ts_ms < ?", (now_ms - int(longest * 1000),))
                events_expired = max(cur.rowcount, 0)
            with mem.lock:
                mem.rollup_rows -= rollups_expired
        dropped = 0
        if self._next_drop_check_ms is None or now_ms >= self._next_drop_check_ms:
            self._next_drop_check_ms = now_ms + _DROP_CHECK_MS
            dropped = self._drop_series(now_ms - int(max(r.raw, r.rollup_1m, r.rollup_5m) * 1000))
        return {
            "raw_blocks_expired": expired_blocks,
            "rollups_written": rollups_written,
            "rollups_expired": rollups_expired,
            "events_expired": events_expired,
            "series_dropped": dropped,
        }

    def _expire_block(self, block: int, cuts: dict[int, int]) -> int:
        """Store the rollups of a block past raw retention and delete its chunks."""
        end = block + self._layout.block_ms
        with self._db.reading("listing an expiring block") as conn:
            rows = conn.execute(
                "SELECT series_id, id FROM chunks WHERE t_min >= ? AND t_min < ? ORDER BY series_id, t_min",
                (block, end),
            ).fetchall()
        per_series: dict[int, list[int]] = {}
        for sid, cid in rows:
            per_series.setdefault(int(sid), []).append(int(cid))
        wanted = [res for res in RESOLUTIONS_MS if end > cuts[res]]
        items = list(per_series.items())
        written = 0
        for i in range(0, len(items), _SLICE):
            part = items[i : i + _SLICE]
            chunk_ids = [c for _, cids in part for c in cids]
            blobs = self._fetch_blobs(chunk_ids) if wanted else {}
            new_rows: list[tuple[int, int, int, int, bytes]] = []
            old_rollups: list[int] = []
            if wanted:
                with self._db.reading("reading rollups to merge") as conn:
                    for sid, cids in part:
                        t, v = merge_newest_wins([codec.decode_chunk(blobs[c]) for c in cids])
                        for res in wanted:
                            buckets = compute(t, v, res)
                            if len(buckets) == 0:
                                continue
                            prior = conn.execute(
                                "SELECT id, data FROM rollups WHERE series_id = ? AND resolution_ms = ? "
                                "AND t_min >= ? AND t_min < ?",
                                (sid, res, block, end),
                            ).fetchall()
                            for rid, blob in prior:
                                starts, cols = codec.decode_columns(blob)
                                buckets = combine(Buckets.from_columns(starts, cols), buckets)
                                old_rollups.append(int(rid))
                            new_rows.append(
                                (
                                    sid,
                                    res,
                                    int(buckets.starts[0]),
                                    int(buckets.starts[-1]),
                                    codec.encode_columns(buckets.starts, buckets.columns()),
                                )
                            )
            mem = self._mem
            span = max((r[3] - r[2] for r in new_rows), default=0)
            self._widen_span(span)
            with self._db.write_lock:
                with self._db.writing("expiring raw samples") as conn:
                    for marks, ids in in_chunks(old_rollups):
                        conn.execute(f"DELETE FROM rollups WHERE id IN ({marks})", ids)
                    conn.executemany(
                        "INSERT INTO rollups (series_id, resolution_ms, t_min, t_max, data) VALUES (?, ?, ?, ?, ?)",
                        new_rows,
                    )
                    for marks, ids in in_chunks(chunk_ids):
                        conn.execute(f"DELETE FROM chunks WHERE id IN ({marks})", ids)
                    _raise_meta(conn, "max_span_ms", span)
                with mem.lock:
                    mem.chunk_rows -= len(chunk_ids)
                    mem.rollup_rows += len(new_rows) - len(old_rollups)
            written += len(new_rows)
        return written

    def _drop_series(self, no_data_before: int) -> int:
        """Forget series whose every sample has expired (or that never had one for as
        long). A series with samples in the head is kept whatever their age."""
        mem = self._mem
        with self._db.write_lock:
            candidates = [
                int(r[0])
                for r in self._db.execute_write(
                    "finding series without data",
                    "SELECT id FROM series WHERE coalesce(raw_tmax, created_ms) < ?",
                    (no_data_before,),
                ).fetchall()
            ]
            if not candidates:
                return 0
            # Holding the state lock across the commit makes "not in the head" and
            # "dropped" one step for appenders: they see the series or get UnknownSeries.
            with mem.lock:
                in_head = np.isin(np.asarray(candidates, dtype=np.int64), mem.head.snapshot().ids)
                gone = [sid for sid, busy in zip(candidates, in_head.tolist(), strict=True) if not busy]
                if not gone:
                    return 0
                chunks = rollups = 0
                with self._db.writing("dropping series without data") as conn:
                    for marks, part in in_chunks(gone):
                        chunks += conn.execute(f"DELETE FROM chunks WHERE series_id IN ({marks})", part).rowcount
                        rollups += conn.execute(f"DELETE FROM rollups WHERE series_id IN ({marks})", part).rowcount
                        conn.execute(f"DELETE FROM series WHERE id IN ({marks})", part)
                mem.index.remove(gone)
                for sid in gone:
                    mem.raw_tmax.pop(sid, None)
                mem.chunk_rows -= max(chunks, 0)
                mem.rollup_rows -= max(rollups, 0)
        return len(gone)

    # --- vacuum ------------------------------------------------------------------------------
    def _vacuum(self) -> dict[str, Any]:
        with self._db.write_lock:
            free = int(self._db.execute_write("vacuum", "PRAGMA freelist_count").fetchone()[0])
            total = int(self._db.execute_write("vacuum", "PRAGMA page_count").fetchone()[0])
            # Freed pages are reused by new chunks anyway; give them back only when
            # they are a noticeable share of the file.
            if free < 256 or free < total // 10:
                return {"pages_vacuumed": 0}
            pages = min(free, _VACUUM_PAGES)
            self._db.vacuum(pages)
        return {"pages_vacuumed": pages}


def _raise_meta(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        (key, value),
    )


def _set_meta(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
