"""What expressions evaluate to, over all the steps of a query at once.

Prometheus evaluates a range query step by step; we evaluate each node once for every
step, as arrays: an instant vector is a ``(series, steps)`` matrix of values plus a
``present`` mask (NaN is a legitimate value, so absence needs its own mask), a scalar
is one value per step. That is what makes 1,000 series × 240 steps cost a handful of
numpy calls instead of 240,000 Python iterations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from scalepilot.domain.labels import Labels
from scalepilot.domain.query import QueryError
from scalepilot.domain.samples import Float64Array, Int64Array

BoolArray = npt.NDArray[np.bool_]


@dataclass(slots=True)
class Grid:
    """The evaluation times of one (sub)query, plus the outer query's start and end
    (what ``@ start()`` and ``@ end()`` mean, even inside subqueries)."""

    times: Int64Array
    query_start: int
    query_end: int

    @property
    def steps(self) -> int:
        return int(self.times.shape[0])


@dataclass(slots=True)
class Vectors:
    """An instant vector at every step: row ``i`` is series ``labels[i]``."""

    labels: list[Labels]
    values: Float64Array
    present: BoolArray

    @staticmethod
    def empty(steps: int) -> Vectors:
        return Vectors([], np.empty((0, steps)), np.zeros((0, steps), dtype=bool))

    def compact(self) -> Vectors:
        """Drop the rows that have no value at any step."""
        keep = self.present.any(axis=1)
        if keep.all():
            return self
        rows = np.flatnonzero(keep)
        return Vectors([self.labels[i] for i in rows], self.values[rows], self.present[rows])


@dataclass(slots=True)
class Scalars:
    values: Float64Array


@dataclass(slots=True)
class StringValue:
    value: str


@dataclass(slots=True)
class Samples:
    """Raw samples of many series laid end to end: series ``i`` is
    ``ts[bounds[i]:bounds[i + 1]]`` (ascending). Range functions index into these flat
    arrays, so every window of every series is found by one ``searchsorted``."""

    labels: list[Labels]
    ts: Int64Array
    values: Float64Array
    bounds: Int64Array
    cache: dict[object, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.labels)

    def series_index(self) -> Int64Array:
        """For every sample, the row of the series it belongs to."""
        cached = self.cache.get("sid")
        if cached is None:
            cached = np.repeat(np.arange(self.count, dtype=np.int64), np.diff(self.bounds))
            self.cache["sid"] = cached
        result: Int64Array = cached
        return result


@dataclass(slots=True)
class Windows:
    """For every series and step, the samples in ``(end - range, end]``: the flat indices
    ``lo[s, t]:hi[s, t]`` into ``samples``. ``eval_ms`` are the steps' own times (they
    differ from ``end`` by the offset, or entirely under ``@``)."""

    samples: Samples
    lo: Int64Array
    hi: Int64Array
    end: Int64Array
    eval_ms: Int64Array
    range_ms: int

    @property
    def counts(self) -> Int64Array:
        result: Int64Array = self.hi - self.lo
        return result


Value = Vectors | Scalars | StringValue


def execution_error(message: str) -> QueryError:
    return QueryError(message, kind="execution")


def merge_same_labels(vectors: Vectors) -> Vectors:
    """Rows that ended up with the same labels (after dropping ``__name__``, after
    ``label_replace``...) become one row if they never have a value at the same step,
    as Prometheus merges them; if they overlap, the result is an error, as in Prometheus."""
    positions: dict[Labels, list[int]] = {}
    for i, labels in enumerate(vectors.labels):
        positions.setdefault(labels, []).append(i)
    if len(positions) == len(vectors.labels):
        return vectors
    labels_out: list[Labels] = []
    rows_out: list[Float64Array] = []
    masks_out: list[BoolArray] = []
    for labels, rows in positions.items():
        if len(rows) == 1:
            labels_out.append(labels)
            rows_out.append(vectors.values[rows[0]])
            masks_out.append(vectors.present[rows[0]])
            continue
        masks = vectors.present[rows]
        if (masks.sum(axis=0) > 1).any():
            raise execution_error("vector cannot contain metrics with the same labelset")
        choice = np.argmax(masks, axis=0)
        values = vectors.values[rows][choice, np.arange(masks.shape[1])]
        labels_out.append(labels)
        rows_out.append(values)
        any_present: BoolArray = np.asarray(masks.any(axis=0), dtype=bool)
        masks_out.append(any_present)
    steps = vectors.values.shape[1]
    if not labels_out:
        return Vectors.empty(steps)
    return Vectors(labels_out, np.vstack(rows_out), np.vstack(masks_out))


def require_unique_labels(labels: list[Labels]) -> None:
    """Range-vector functions and unary minus reject duplicate label sets outright,
    whether or not the series overlap in time (Prometheus's ``ContainsSameLabelset``)."""
    if len(set(labels)) != len(labels):
        raise execution_error("vector cannot contain metrics with the same labelset")
