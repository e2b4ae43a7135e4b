"""The embedded store: SQLite in WAL mode in a data directory, behind the ``Store``
Protocol.

How a sample travels:

1. ``append`` copies it into the in-memory head (:mod:`.head`) and updates the series'
   newest sample, both vectorised; nothing touches the disk.
2. ``flush`` (by the caller every ``flush_interval``, or by ``append`` itself once the
   oldest unflushed sample is that old) writes everything appended since the previous
   flush as **one** write-ahead row, compressed, in one fsync'ed transaction. A
   ``kill -9`` loses at most what was appended since the last flush; on open the rows
   are replayed into the head.
3. ``maintain`` (:mod:`.maintenance`, from a worker thread) compacts closed windows of
   the head into per-series chunks and deletes the rows in the same transaction, merges
   the chunks of closed blocks, and applies retention.

Reads merge chunks and head, newest write winning on equal timestamps. A read-only
opener (the CLI next to a running server) has no head of its own: before each read it
catches up (:mod:`.replay`) with the write-ahead rows the writer has committed, inside
the same read transaction as its chunk reads, so it sees every flushed sample exactly
once.

Only one process may write a data directory; a second writer gets :class:`StoreLocked`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scalepilot.adapters.store import codec, outbox, records, replay
from scalepilot.adapters.store.chunkcache import ChunkCache
from scalepilot.adapters.store.database import Database, clamp_int64
from scalepilot.adapters.store.errors import (
    StoreClosed,
    StoreCorrupt,
    StoreReadOnly,
    StoreUnavailable,
)
from scalepilot.adapters.store.head import HeadSnapshot
from scalepilot.adapters.store.headindex import HeadIndex
from scalepilot.adapters.store.index import NO_TIME
from scalepilot.adapters.store.maintenance import Maintainer
from scalepilot.adapters.store.merge import clip, group_by_series, merge_newest_wins
from scalepilot.adapters.store.rollup import RESOLUTIONS_MS, Buckets, combine, compute
from scalepilot.adapters.store.rollup import empty as empty_buckets
from scalepilot.adapters.store.schema import (
    DB_NAME,
    DataDirLock,
    check_version,
    connect,
    ensure_schema,
    read_version,
)
from scalepilot.adapters.store.state import Layout, MemoryState
from scalepilot.config.models import StorageSettings
from scalepilot.domain.events import Event
from scalepilot.domain.labels import Labels, make_labels
from scalepilot.domain.matchers import Matcher
from scalepilot.domain.samples import (
    STALE_NAN_BITS,
    Float64Array,
    Int64Array,
    LatestSample,
    RollupData,
    SeriesData,
)
from scalepilot.domain.store import ConfigRevision, OutboxItem, OutboxState, StoreError, StoreStats

log = logging.getLogger(__name__)


class SQLiteStore:
    """Use :meth:`open`; the constructor takes already opened parts."""

    def __init__(
        self,
        *,
        data_dir: Path,
        settings: StorageSettings,
        clock: Callable[[], float],
        db: Database,
        lock: DataDirLock | None,
    ) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self._clock = clock
        self._db = db
        self._dir_lock = lock
        self._mem = MemoryState()
        self._layout = Layout.from_settings(settings)
        self._flush_lock = threading.Lock()
        self._maintain_lock = threading.Lock()
        self._next_seq = 1
        self._data_version: int | None = None
        self._closed = False
        self._chunks = ChunkCache()
        self._head_index = HeadIndex()
        self._maintainer = Maintainer(
            db=db,
            mem=self._mem,
            layout=self._layout,
            retention=settings.retention,
            flush=self.flush,
            flush_lock=self._flush_lock,
            clock=clock,
        )

    # --- lifecycle -----------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        data_dir: Path,
        settings: StorageSettings,
        *,
        read_only: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> SQLiteStore:
        """Open (creating if needed) the store in ``data_dir``.

        A writer takes an exclusive lock on the directory (:class:`StoreLocked` if
        another process holds it) and replays the write-ahead batches. A read-only opener
        takes no lock and never writes; it sees everything the writer has flushed.
        """
        data_dir = Path(data_dir)
        db_path = data_dir / DB_NAME
        if read_only and not db_path.exists():
            raise StoreError(f"no scalepilot store in {data_dir} (no {DB_NAME})")
        lock: DataDirLock | None = None
        writer: sqlite3.Connection | None = None
        reader: sqlite3.Connection | None = None
        try:
            if read_only:
                reader = connect(db_path, read_only=True)
                check_version(read_version(reader, db_path), db_path)
            else:
                try:
                    data_dir.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the data directory {data_dir}: {exc}") from exc
                lock = DataDirLock(data_dir)
                writer = connect(db_path, read_only=False)
                ensure_schema(writer, db_path)
                reader = connect(db_path, read_only=True)
            store = cls(
                data_dir=data_dir,
                settings=settings,
                clock=clock,
                db=Database(db_path, writer, reader),
                lock=lock,
            )
            store._load()
        except BaseException:
            for conn in (reader, writer):
                if conn is not None:
                    conn.close()
            if lock is not None:
                lock.release()
            raise
        return store

    def close(self) -> None:
        """Flush and close. Idempotent."""
        if self._closed:
            return
        # A maintenance round still running in a worker thread finishes first (the
        # runtime cancels its task, but the thread goes on): closing under it would
        # fail it half-way, harmlessly but noisily.
        with self._maintain_lock:
            try:
                if not self._db.read_only:
                    self.flush()
            finally:
                self._closed = True
                with self._flush_lock, self._db.write_lock, self._db.read_lock:
                    self._db.close()
                if self._dir_lock is not None:
                    self._dir_lock.release()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"the store in {self.data_dir} is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self._db.read_only:
            raise StoreReadOnly(f"the store in {self.data_dir} is open read-only")

    # --- loading and catching up -------------------------------------------------------------
    def _load(self) -> None:
        with self._db.reading("loading the store") as conn:
            meta, self._next_seq, self._data_version = replay.load(conn, self._mem)
        self._maintainer.restore(meta)

    @contextlib.contextmanager
    def _reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One read transaction. The writer's callers take their head snapshot inside it,
        before their first query, so the snapshot is never newer than the chunks read."""
        self._check_open()
        with self._db.reading(doing) as conn:
            if self._db.read_only:
                self._data_version = replay.catch_up(conn, self._mem, self._data_version)
            yield conn

    # --- ingest --------------------------------------------------------------------------------
    def series_ids(self, labels: Sequence[Labels]) -> list[int]:
        """Get or create the id of each label set (stable for the life of the store).
        Label sets are canonicalised (sorted, empty values dropped) first."""
        self._check_open()
        if self._db.read_only:
            with self._reading("catching up with the writer"):
                pass
        mem = self._mem
        out: list[int | None] = []
        missing: dict[Labels, list[int]] = {}
        with mem.lock:
            index = mem.index
            for i, ls in enumerate(labels):
                sid = index.id_of(ls)
                if sid is None:
                    canonical = make_labels(None, ls)
                    sid = index.id_of(canonical)
                    if sid is None:
                        missing.setdefault(canonical, []).append(i)
                out.append(sid)
        if missing:
            self._check_writable()
            created = self._create_series(list(missing))
            for canonical, positions in missing.items():
                for i in positions:
                    out[i] = created[canonical]
        return [int(x) for x in out if x is not None]

    def _create_series(self, labels: list[Labels]) -> dict[Labels, int]:
        now_ms = int(self._clock() * 1000)
        texts = [replay.labels_to_json(ls) for ls in labels]
        with self._db.write_lock:
            with self._db.writing("creating series") as conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO series (labels, created_ms) VALUES (?, ?)",
                    [(t, now_ms) for t in texts],
                )
                ids = {}
                for ls, text in zip(labels, texts, strict=True):
                    row = conn.execute("SELECT id, raw_tmax FROM series WHERE labels = ?", (text,)).fetchone()
                    ids[ls] = (int(row[0]), row[1] is not None)
            with self._mem.lock:
                for ls, (sid, has_data) in sorted(ids.items(), key=lambda kv: kv[1][0]):
                    self._mem.index.add(sid, ls, has_data=has_data)
        return {ls: sid for ls, (sid, _) in ids.items()}

    def append(
        self,
        ids: Sequence[int],
        timestamps_ms: Sequence[int] | int,
        values: Sequence[float],
    ) -> None:
        """Append samples; durable after the next flush. ``timestamps_ms`` may be one
        int shared by all samples (a scrape)."""
        self._check_writable()
        id_arr = np.asarray(ids, dtype=np.int64)
        val_arr = np.asarray(values, dtype=np.float64)
        n = id_arr.size
        if id_arr.ndim != 1 or val_arr.shape != (n,):
            raise ValueError(f"append: {n} ids but {val_arr.size} values")
        if isinstance(timestamps_ms, int | np.integer):
            ts_arr = np.full(n, int(timestamps_ms), dtype=np.int64)
        else:
            ts_arr = np.asarray(timestamps_ms, dtype=np.int64)
            if ts_arr.shape != (n,):
                raise ValueError(f"append: {n} ids but {ts_arr.size} timestamps")
        if n == 0:
            return
        mem = self._mem
        interval = self.settings.flush_interval
        with mem.lock:
            index = mem.index
            slots = index.slots(id_arr)
            mem.head.append(id_arr, ts_arr, val_arr)
            index.update_latest(slots, ts_arr, val_arr)
            index.mark_has_data(id_arr)
            mem.appended_total += n
            now = self._clock()
            since = mem.head.pending_since
            if since is None:
                mem.head.pending_since = since = now
            # A clock that went backwards counts as due: better an early flush than
            # none until the clock catches up.
            due = now - since >= interval or now < since
        if due:
            try:
                self._flush(blocking=False)
            except StoreUnavailable as exc:
                # The samples stay pending and the next flush retries; the caller's
                # periodic flush() reports the error. Failing the append would lose them.
                log.warning("automatic flush failed, will retry: %s", exc)

    def flush(self) -> None:
        """Make everything appended so far durable now."""
        self._check_writable()
        self._flush(blocking=True)

    def _flush(self, *, blocking: bool) -> None:
        if not self._flush_lock.acquire(blocking=blocking):
            return  # another thread is flushing right now; it or the next one will do
        try:
            mem = self._mem
            with mem.lock:
                end, pending = mem.head.pending()
                if pending.ids.size == 0:
                    return
                seq = self._next_seq
                self._next_seq += 1
            blob = codec.encode_batch(pending.ids, pending.timestamps, pending.values)
            created_ms = int(self._clock() * 1000)
            # From append, do not queue behind a maintenance commit: the next append or
            # the caller's periodic flush() will do it (a skipped seq number is harmless).
            if not self._db.write_lock.acquire(blocking=blocking):
                return
            try:
                self._db.execute_write(
                    "flushing appended samples",
                    "INSERT INTO head_batches (seq, created_ms, count, data) VALUES (?, ?, ?, ?)",
                    (seq, created_ms, pending.ids.size, blob),
                )
            finally:
                self._db.write_lock.release()
            with mem.lock:
                mem.head.seal(seq, end, created_ms)
        finally:
            self._flush_lock.release()

    # --- reads ------------------------------------------------------------------------------------
    def _select_ids(self, matchers: Sequence[Matcher]) -> tuple[list[int], dict[int, Labels], HeadSnapshot]:
        mem = self._mem
        with mem.lock:
            ids = mem.index.select(matchers)
            labels = {i: mem.index.labels_of(i) for i in ids}
            snap = mem.head.snapshot()
        return ids, labels, snap

    def _head_parts(
        self, snap: HeadSnapshot, ids: list[int], start_ms: int, end_ms: int
    ) -> dict[int, tuple[Int64Array, Float64Array]]:
        """Head samples of ``ids`` within the range, per series, sorted, newest write
        winning."""
        if not ids or snap.ids.size == 0:
            return {}
        pos = self._head_index.positions(snap, np.asarray(ids, dtype=np.int64))
        ts = snap.timestamps[pos]
        pos = pos[(ts >= start_ms) & (ts <= end_ms)]
        if pos.size == 0:
            return {}
        grouped = group_by_series(snap.ids[pos], snap.timestamps[pos], snap.values[pos])
        return {int(sid): grouped.part(i) for i, sid in enumerate(grouped.ids.tolist())}

    def _chunk_parts(
        self, conn: sqlite3.Connection, sid: int, start_ms: int, end_ms: int
    ) -> list[tuple[Int64Array, Float64Array]]:
        rows = conn.execute(
            "SELECT data FROM chunks WHERE series_id = ? AND t_min >= ? AND t_min <= ? AND t_max >= ? ORDER BY t_min",
            (sid, clamp_int64(start_ms - self._mem.max_span_ms), end_ms, start_ms),
        ).fetchall()
        return [self._chunks.decode(r[0]) for r in rows]

    def _raw(
        self,
        conn: sqlite3.Connection,
        sid: int,
        head: tuple[Int64Array, Float64Array] | None,
        start_ms: int,
        end_ms: int,
    ) -> tuple[Int64Array, Float64Array]:
        parts = self._chunk_parts(conn, sid, start_ms, end_ms)
        if head is not None:
            parts.append(head)
        ts, vals = merge_newest_wins(parts)
        return clip(ts, vals, start_ms, end_ms)

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        """Raw samples with ``start_ms <= t <= end_ms`` of every matching series that has
        at least one there; stale markers included."""
        start_ms, end_ms = clamp_int64(start_ms), clamp_int64(end_ms)
        out: list[SeriesData] = []
        with self._reading("selecting samples") as conn:
            ids, labels, snap = self._select_ids(matchers)
            head = self._head_parts(snap, ids, start_ms, end_ms)
            for sid in ids:
                ts, vals = self._raw(conn, sid, head.get(sid), start_ms, end_ms)
                if ts.size:
                    out.append(SeriesData(labels[sid], ts, vals))
        return out

    def select_rollup(
        self,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        resolution_ms: int,
    ) -> list[RollupData]:
        """Buckets of ``resolution_ms`` (60_000 or 300_000) overlapping the range: stored
        ones where raw retention has passed, computed from raw samples elsewhere."""
        if resolution_ms not in RESOLUTIONS_MS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS_MS}, not {resolution_ms}")
        start_ms, end_ms = clamp_int64(start_ms), clamp_int64(end_ms)
        lo = start_ms // resolution_ms * resolution_ms
        hi = end_ms // resolution_ms * resolution_ms
        raw_hi = clamp_int64(hi + resolution_ms - 1)
        out: list[RollupData] = []
        with self._reading("selecting rollups") as conn:
            ids, labels, snap = self._select_ids(matchers)
            head = self._head_parts(snap, ids, lo, raw_hi)
            for sid in ids:
                ts, vals = self._raw(conn, sid, head.get(sid), lo, raw_hi)
                stored = self._stored_rollups(conn, sid, resolution_ms, lo, hi)
                buckets = combine(stored, compute(ts, vals, resolution_ms)).between(lo, hi)
                if len(buckets):
                    out.append(
                        RollupData(
                            labels[sid],
                            resolution_ms,
                            buckets.starts,
                            buckets.min,
                            buckets.max,
                            buckets.sum,
                            buckets.count,
                            buckets.last,
                        )
                    )
        return out

    def _stored_rollups(self, conn: sqlite3.Connection, sid: int, resolution_ms: int, lo: int, hi: int) -> Buckets:
        rows = conn.execute(
            "SELECT data FROM rollups WHERE series_id = ? AND resolution_ms = ? AND t_min >= ? AND t_min <= ? "
            "AND t_max >= ? ORDER BY t_min",
            (sid, resolution_ms, clamp_int64(lo - self._mem.max_span_ms), hi, lo),
        ).fetchall()
        result: Buckets | None = None
        for (blob,) in rows:
            starts, columns = codec.decode_columns(blob)
            part = Buckets.from_columns(starts, columns)
            result = part if result is None else combine(result, part)
        return result if result is not None else empty_buckets()

    def resolution_for(self, start_ms: int, end_ms: int, step_ms: int) -> int:
        """The coarsest resolution (0 = raw) with at least one bucket per step that is
        retained for the whole range. Rollups exist wherever raw samples do (computed)
        and, stored, for their own retention beyond."""
        now_ms = int(self._clock() * 1000)
        retention = self.settings.retention
        raw_s = retention.raw
        for res, kept_s in ((300_000, retention.rollup_5m), (60_000, retention.rollup_1m)):
            if res <= step_ms and start_ms >= now_ms - int(max(kept_s, raw_s) * 1000):
                return res
        return 0

    def latest(self, matchers: Sequence[Matcher]) -> list[LatestSample]:
        """The newest sample of each matching series (stale ones flagged)."""
        mem = self._mem
        with self._reading("reading the newest samples") as conn:
            with mem.lock:
                ids = mem.index.select(matchers)
                arr = np.asarray(ids, dtype=np.int64)
                slots = mem.index.slots(arr)
                unchecked = arr[~mem.index.chunks_checked[slots]].tolist()
            found: dict[int, tuple[int, float]] = {}
            for sid in unchecked:
                row = conn.execute(
                    "SELECT data FROM chunks WHERE series_id = ? ORDER BY t_min DESC LIMIT 1", (sid,)
                ).fetchone()
                if row is not None:
                    ts, vals = codec.decode_chunk(row[0])
                    if ts.size:
                        found[sid] = (int(ts[-1]), float(vals[-1]))
            with mem.lock:
                index = mem.index
                live = [sid for sid in ids if index.contains(sid)]
                live_arr = np.asarray(live, dtype=np.int64)
                slots = index.slots(live_arr)
                found_ids = [sid for sid in found if index.contains(sid)]
                found_slots = index.slots(np.asarray(found_ids, dtype=np.int64)).tolist()
                for sid, slot in zip(found_ids, found_slots, strict=True):
                    ts_ms, value = found[sid]
                    # The head's newest wins a tie: it was written later.
                    if ts_ms > index.latest_ts[slot]:
                        index.latest_ts[slot] = ts_ms
                        index.latest_val[slot] = value
                index.chunks_checked[slots] = True
                stamps = index.latest_ts[slots].copy()
                values = index.latest_val[slots].copy()
                labels = [index.labels_of(sid) for sid in live]
        stale = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
        return [
            LatestSample(labels[i], int(stamps[i]), float(values[i]), bool(stale[i]))
            for i in range(len(live))
            if stamps[i] != NO_TIME
        ]

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        with self._reading("listing series"), self._mem.lock:
            index = self._mem.index
            return [index.labels_of(i) for i in index.select(matchers)]

    def label_names(self) -> list[str]:
        with self._reading("listing label names"), self._mem.lock:
            return self._mem.index.label_names()

    def label_values(self, name: str) -> list[str]:
        with self._reading("listing label values"), self._mem.lock:
            return self._mem.index.label_values(name)

    # --- events and config revisions -----------------------------------------------------------
    def add_event(self, event: Event) -> int:
        """Record an event, durable at once; ``details`` must be JSON-serialisable."""
        self._check_writable()
        with self._db.write_lock, self._db.writing("recording an event") as conn:
            return records.insert_event(conn, event)

    def events(
        self,
        *,
        since_ms: int | None = None,
        kinds: Sequence[str] | None = None,
        service: str | None = None,
        limit: int = 100,
        until_ms: int | None = None,
        after_id: int | None = None,
    ) -> list[Event]:
        """Newest first."""
        with self._reading("reading events") as conn:
            return records.query_events(
                conn,
                since_ms=since_ms,
                kinds=kinds,
                service=service,
                limit=limit,
                until_ms=until_ms,
                after_id=after_id,
            )

    def last_event_id(self) -> int:
        """The id of the newest event (ids only grow); 0 when there is none."""
        with self._reading("reading events") as conn:
            return records.last_event_id(conn)

    def add_config_revision(self, text: str, source: str, timestamp_ms: int) -> ConfigRevision:
        """Record a config text; returns the newest revision if its text is the same."""
        self._check_writable()
        with self._db.write_lock, self._db.writing("recording a config revision") as conn:
            return records.insert_config_revision(conn, text, source, timestamp_ms)

    def put_state(self, key: str, value: dict[str, Any]) -> None:
        """Keep a small JSON document under ``key``, durable at once."""
        self._check_writable()
        now_ms = round(self._clock() * 1000)
        with self._db.write_lock, self._db.writing("saving state") as conn:
            records.put_state(conn, key, value, now_ms)

    def get_state(self, key: str) -> dict[str, Any] | None:
        with self._reading("reading state") as conn:
            return records.get_state(conn, key)

    def delete_state(self, key: str) -> None:
        self._check_writable()
        with self._db.write_lock, self._db.writing("deleting state") as conn:
            records.delete_state(conn, key)

    def config_revisions(self, limit: int = 20) -> list[ConfigRevision]:
        """Newest first."""
        with self._reading("reading config revisions") as conn:
            return records.query_config_revisions(conn, limit)

    # --- notification outbox (see :mod:`.outbox`) --------------------------------------------------
    def outbox_add(self, items: Sequence[OutboxItem]) -> int:
        """Store new notifications, durable on return; an id already stored is ignored."""
        self._check_writable()
        if not items:
            return 0
        with self._db.write_lock, self._db.writing("adding notifications to the outbox") as conn:
            return outbox.add(conn, items)

    def outbox_claim(
        self, now_ms: int, limit: int, lease_ms: int, skip: Sequence[tuple[str, str]] = ()
    ) -> list[OutboxItem]:
        self._check_writable()
        with self._db.write_lock, self._db.writing("claiming notifications") as conn:
            return outbox.claim(conn, now_ms, limit, lease_ms, skip)

    def outbox_retry(self, item_id: str, next_ms: int, error: str, now_ms: int) -> None:
        self._check_writable()
        with self._db.write_lock, self._db.writing("scheduling a notification retry") as conn:
            outbox.retry(conn, item_id, next_ms, error, now_ms)

    def outbox_finish(self, item_id: str, state: OutboxState, now_ms: int, error: str = "") -> None:
        self._check_writable()
        with self._db.write_lock, self._db.writing("finishing a notification") as conn:
            outbox.finish(conn, item_id, state, now_ms, error)

    def outbox_requeue(self, now_ms: int) -> int:
        self._check_writable()
        with self._db.write_lock, self._db.writing("requeueing claimed notifications") as conn:
            return outbox.requeue(conn, now_ms)

    def outbox_items(self, states: Sequence[OutboxState] | None = None, limit: int = 100) -> list[OutboxItem]:
        with self._reading("reading the outbox") as conn:
            return outbox.items(conn, states, limit)

    def outbox_counts(self) -> dict[str, int]:
        with self._reading("counting the outbox") as conn:
            return outbox.counts(conn)

    def outbox_next_due(self) -> int | None:
        with self._reading("reading the outbox") as conn:
            return outbox.next_due(conn)

    def outbox_prune(self, done_before_ms: int, dead_before_ms: int) -> int:
        self._check_writable()
        with self._db.write_lock, self._db.writing("pruning the outbox") as conn:
            return outbox.prune(conn, done_before_ms, dead_before_ms)

    # --- housekeeping ----------------------------------------------------------------------------
    def maintain(self, now_ms: int) -> dict[str, Any]:
        """One round of background work: compact closed windows of the head into
        chunks, merge closed blocks, apply retention. Safe to call from a worker thread
        while other threads append and read; returns what it did."""
        self._check_writable()
        with self._maintain_lock:
            return self._maintainer.run(now_ms)

    def stats(self) -> StoreStats:
        if self._db.read_only and not self._closed:
            with self._reading("reading statistics"):
                pass  # catch up with the writer
        mem = self._mem
        with mem.lock:
            series = len(mem.index)
            head = mem.head.size
            appended = mem.appended_total
            chunks = mem.chunk_rows + mem.rollup_rows
        disk = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                disk += (self.data_dir / f"{DB_NAME}{suffix}").stat().st_size
        return StoreStats(
            series=series, head_samples=head, samples_appended_total=appended, disk_bytes=disk, chunks=chunks
        )

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check`` plus a decode of every chunk; an empty
        list means the store is sound."""
        problems: list[str] = []
        with self._reading("checking integrity") as conn:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if result != ["ok"]:
                problems.extend(result)
            for table, decode in (("chunks", codec.decode_chunk), ("rollups", codec.decode_columns)):
                for rowid, blob in conn.execute(f"SELECT id, data FROM {table}"):
                    try:
                        decode(blob)
                    except StoreCorrupt as exc:
                        problems.append(f"{table} row {rowid}: {exc}")
        return problems
