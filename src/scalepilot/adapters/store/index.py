"""The in-memory index of every live series.

Two views of the same set of series:

* **labels**: id ↔ label set, and *postings* ``name → value → ids``, so a selector like
  ``{service="shop", code=~"5.."}`` is answered by intersecting a few sets instead of
  testing every series (what Prometheus's inverted index does);
* **slots**: the live ids in one sorted numpy array, with parallel arrays of per-series
  numbers (the newest sample). ``append`` maps a whole batch of ids to slots with one
  ``searchsorted``, which also rejects ids the store never issued, and updates the
  newest samples without a Python loop. Slots are dense over *live* series, so memory
  follows the live count, not every id ever issued under label churn.

Not thread-safe: the store guards it with its state lock. Rebuilt from the database on
open (a few hundred milliseconds for a million series).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from scalepilot.adapters.store.errors import UnknownSeries
from scalepilot.domain.labels import Labels
from scalepilot.domain.matchers import Matcher, MatchOp
from scalepilot.domain.samples import Float64Array, Int64Array

NO_TIME = np.iinfo(np.int64).min
"""Timestamp placeholder for "no sample known"."""

BoolArray = npt.NDArray[np.bool_]


class SeriesIndex:
    def __init__(self) -> None:
        self._labels: dict[int, Labels] = {}
        self._ids: dict[Labels, int] = {}
        self._postings: dict[str, dict[str, set[int]]] = {}
        # Series that have never had a sample: hidden from the label APIs, as in
        # Prometheus. Almost always empty, so the ingest path only tests its truth.
        self.dataless: set[int] = set()
        self._size = 0
        self._live: Int64Array = np.empty(16, dtype=np.int64)
        self.latest_ts: Int64Array = np.full(16, NO_TIME, dtype=np.int64)
        self.latest_val: Float64Array = np.zeros(16, dtype=np.float64)
        # Whether the newest *chunk* sample has been folded into latest_*: done lazily,
        # because reading one chunk per series on open would make opening slow.
        self.chunks_checked: BoolArray = np.zeros(16, dtype=np.bool_)

    # --- membership ---------------------------------------------------------------------
    def __len__(self) -> int:
        return self._size

    def id_of(self, labels: Labels) -> int | None:
        return self._ids.get(labels)

    def labels_of(self, series_id: int) -> Labels:
        return self._labels[series_id]

    def contains(self, series_id: int) -> bool:
        return series_id in self._labels

    def live_ids(self) -> Int64Array:
        return self._live[: self._size].copy()

    def add(self, series_id: int, labels: Labels, *, has_data: bool) -> None:
        """Register a series. Ids arrive in increasing order except on open, where the
        caller sorts them first; an id below the largest forces a re-sort."""
        if series_id in self._labels:
            return
        self._labels[series_id] = labels
        self._ids[labels] = series_id
        for name, value in labels:
            self._postings.setdefault(name, {}).setdefault(value, set()).add(series_id)
        if not has_data:
            self.dataless.add(series_id)
        self._grow(self._size + 1)
        n = self._size
        if n and self._live[n - 1] > series_id:
            pos = int(np.searchsorted(self._live[:n], series_id))
            for arr in (self._live, self.latest_ts, self.latest_val, self.chunks_checked):
                arr[pos + 1 : n + 1] = arr[pos:n]
        else:
            pos = n
        self._live[pos] = series_id
        self.latest_ts[pos] = NO_TIME
        self.latest_val[pos] = 0.0
        self.chunks_checked[pos] = False
        self._size = n + 1

    def remove(self, ids: Iterable[int]) -> None:
        gone = {i for i in ids if i in self._labels}
        if not gone:
            return
        for series_id in gone:
            labels = self._labels.pop(series_id)
            del self._ids[labels]
            for name, value in labels:
                values = self._postings[name]
                holders = values[value]
                holders.discard(series_id)
                if not holders:
                    del values[value]
                    if not values:
                        del self._postings[name]
            self.dataless.discard(series_id)
        n = self._size
        keep = ~np.isin(self._live[:n], np.fromiter(gone, dtype=np.int64, count=len(gone)))
        kept = int(np.count_nonzero(keep))
        for arr in (self._live, self.latest_ts, self.latest_val, self.chunks_checked):
            arr[:kept] = arr[:n][keep]
        self._size = kept

    def _grow(self, needed: int) -> None:
        cap = self._live.size
        if needed <= cap:
            return
        new_cap = max(needed, cap * 2)

        def grown(arr: npt.NDArray[np.generic], fill: object) -> npt.NDArray[np.generic]:
            out = np.full(new_cap, fill, dtype=arr.dtype)
            out[: self._size] = arr[: self._size]
            return out

        self._live = grown(self._live, 0)  # type: ignore[assignment]
        self.latest_ts = grown(self.latest_ts, NO_TIME)  # type: ignore[assignment]
        self.latest_val = grown(self.latest_val, 0.0)  # type: ignore[assignment]
        self.chunks_checked = grown(self.chunks_checked, False)  # type: ignore[assignment]

    # --- slots ----------------------------------------------------------------------------
    def slots(self, ids: Int64Array) -> Int64Array:
        """Slot of each id; raises :class:`UnknownSeries` for an id that is not live."""
        n = self._size
        if ids.size == 0:
            return np.empty(0, dtype=np.int64)
        live = self._live[:n]
        if n == 0:
            bad = ids
        else:
            slots = np.searchsorted(live, ids)
            np.minimum(slots, n - 1, out=slots)
            wrong = live[slots] != ids
            if not wrong.any():
                return slots.astype(np.int64, copy=False)
            bad = ids[wrong]
        raise UnknownSeries(
            f"append for series id(s) the store does not know: {sorted(set(bad.tolist()))[:10]} "
            "(ids come from series_ids(); a series is forgotten once retention drops it)"
        )

    def update_latest(self, slots: Int64Array, ts: Int64Array, values: Float64Array) -> None:
        """Fold appended samples into the newest-sample arrays. Ties go to the later
        sample (last write wins), as everywhere in the store."""
        newer = ts >= self.latest_ts[slots]
        if newer.all():
            s, t, v = slots, ts, values
        else:
            s, t, v = slots[newer], ts[newer], values[newer]
        # Fancy assignment writes in order, so for a slot repeated within one call the
        # last occurrence lands. That is right unless an earlier occurrence had a larger
        # timestamp, which the check below catches (explicit-timestamp pages only).
        self.latest_ts[s] = t
        self.latest_val[s] = v
        if s.size and (t > self.latest_ts[s]).any():
            order = np.lexsort((np.arange(s.size), t, s))
            s_sorted = s[order]
            last = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
            pick = order[last]
            self.latest_ts[s[pick]] = t[pick]
            self.latest_val[s[pick]] = v[pick]

    def mark_has_data(self, ids: Int64Array) -> None:
        if self.dataless:
            self.dataless.difference_update(ids.tolist())

    # --- selection ------------------------------------------------------------------------
    def select(self, matchers: Sequence[Matcher], *, with_data: bool = True) -> list[int]:
        """Ids of the series matching every matcher, ascending (Prometheus semantics:
        anchored regexes, a missing label matches as "")."""
        required = [m for m in matchers if not m.matches_empty()]
        optional = [m for m in matchers if m.matches_empty()]
        candidates: set[int] | None = None
        for m in sorted(required, key=self._estimate):
            hits = self._matching(m)
            candidates = hits if candidates is None else candidates & hits
            if not candidates:
                return []
        if candidates is None:
            candidates = set(self._labels)
        elif len(required) == 1:
            candidates = set(candidates)  # never hand out a postings set itself
        for m in optional:
            values = self._postings.get(m.name)
            if not values:
                continue  # nobody has the label: everyone matches as ""
            for value, holders in values.items():
                if not m.matches_value(value):
                    candidates -= holders
        if with_data and self.dataless:
            candidates -= self.dataless
        return sorted(candidates)

    def _estimate(self, m: Matcher) -> int:
        values = self._postings.get(m.name, {})
        if m.op is MatchOp.EQ:
            return len(values.get(m.value, ()))
        return sum(len(h) for h in values.values())

    def _matching(self, m: Matcher) -> set[int]:
        values = self._postings.get(m.name)
        if not values:
            return set()
        if m.op is MatchOp.EQ:
            return values.get(m.value, set())
        out: set[int] = set()
        for value, holders in values.items():
            if m.matches_value(value):
                out |= holders
        return out

    def label_names(self) -> list[str]:
        dataless = self.dataless
        return sorted(
            name
            for name, values in self._postings.items()
            if any(not holders <= dataless for holders in values.values())
        )

    def label_values(self, name: str) -> list[str]:
        dataless = self.dataless
        values = self._postings.get(name, {})
        return sorted(v for v, holders in values.items() if not holders <= dataless)
