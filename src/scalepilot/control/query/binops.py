"""Binary operators: arithmetic, comparisons and ``and``/``or``/``unless``, with
Prometheus's vector matching (``on``/``ignoring``, ``group_left``/``group_right``).

Matching is decided once per series pair (a Python pass over label sets); values and
the per-step checks Prometheus makes at every step (duplicate series on the "one" side,
multiple matches) are then array operations over ``(pairs, steps)``. Error messages are
Prometheus's own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scalepilot.control.query.syntax import ARITHMETIC_OPS, COMPARISON_OPS, Cardinality, VectorMatching
from scalepilot.control.query.values import BoolArray, Vectors, execution_error, merge_same_labels
from scalepilot.domain.labels import METRIC_NAME, Labels
from scalepilot.domain.samples import Float64Array, Int64Array


def apply(op: str, lhs: Float64Array, rhs: Float64Array) -> tuple[Float64Array, BoolArray | None]:
    """Value of ``lhs op rhs`` elementwise; for comparisons the lhs and a keep mask."""
    with np.errstate(all="ignore"):
        if op == "+":
            return lhs + rhs, None
        if op == "-":
            return lhs - rhs, None
        if op == "*":
            return lhs * rhs, None
        if op == "/":
            return lhs / rhs, None
        if op == "^":
            return np.power(lhs, rhs), None
        if op == "%":
            return np.fmod(lhs, rhs), None
        if op == "atan2":
            return np.arctan2(lhs, rhs), None
        keep = {
            "==": np.equal,
            "!=": np.not_equal,
            ">": np.greater,
            "<": np.less,
            ">=": np.greater_equal,
            "<=": np.less_equal,
        }[op](lhs, rhs)
        return np.broadcast_to(lhs, keep.shape), keep


def drop_name(labels: Labels) -> Labels:
    # Label sets are sorted by name, so the metric name is almost always first.
    if labels and labels[0][0] == METRIC_NAME:
        return labels[1:]
    return tuple(pair for pair in labels if pair[0] != METRIC_NAME)


def scalar_scalar(op: str, lhs: Float64Array, rhs: Float64Array) -> Float64Array:
    values, keep = apply(op, lhs, rhs)
    if keep is not None:
        return keep.astype(np.float64)
    return values


def vector_scalar(op: str, vectors: Vectors, scalar: Float64Array, *, scalar_left: bool, return_bool: bool) -> Vectors:
    row = scalar[None, :]
    lhs, rhs = (row, vectors.values) if scalar_left else (vectors.values, row)
    values, keep = apply(op, lhs, rhs)
    present = vectors.present
    if keep is not None:
        values = vectors.values  # a comparison keeps the vector's own value, on either side
        if return_bool:
            values = keep.astype(np.float64)
        else:
            present = present & keep
    labels = vectors.labels
    if op in ARITHMETIC_OPS or return_bool:
        labels = [drop_name(lab) for lab in labels]
    result = Vectors(labels, np.array(values, dtype=np.float64), present).compact()
    return merge_same_labels(result)


def signature_function(matching: VectorMatching) -> Callable[[Labels], Labels]:
    """The labels two series are matched on (``on``), or all but the ignored ones and
    the metric name (``ignoring`` and the default)."""
    chosen = set(matching.labels)
    cache: dict[Labels, Labels] = {}
    if matching.on:

        def signature(labels: Labels) -> Labels:
            found = cache.get(labels)
            if found is None:
                found = tuple(pair for pair in labels if pair[0] in chosen)
                cache[labels] = found
            return found

        return signature
    dropped = chosen | {METRIC_NAME}

    def signature_without(labels: Labels) -> Labels:
        found = cache.get(labels)
        if found is None:
            found = tuple(pair for pair in labels if pair[0] not in dropped)
            cache[labels] = found
        return found

    return signature_without


def _presence_by_signature(
    vectors: Vectors, signature: Callable[[Labels], Labels]
) -> tuple[dict[Labels, int], BoolArray]:
    index: dict[Labels, int] = {}
    gidx = np.array([index.setdefault(signature(lab), len(index)) for lab in vectors.labels], dtype=np.int64)
    steps = vectors.present.shape[1]
    presence = np.zeros((len(index), steps), dtype=bool)
    if index:
        np.logical_or.at(presence, gidx, vectors.present)
    return index, presence


def _matched_rows(
    labels: list[Labels],
    index: dict[Labels, int],
    presence: BoolArray,
    signature: Callable[[Labels], Labels],
    steps: int,
) -> BoolArray:
    """Per row of ``labels`` and step, whether the other side has a series with the same
    signature there."""
    out = np.zeros((len(labels), steps), dtype=bool)
    for row, lab in enumerate(labels):
        found = index.get(signature(lab))
        if found is not None:
            out[row] = presence[found]
    return out


def set_operation(op: str, lhs: Vectors, rhs: Vectors, matching: VectorMatching) -> Vectors:
    signature = signature_function(matching)
    steps = lhs.present.shape[1]
    if op == "or":
        index, presence = _presence_by_signature(lhs, signature)
        hidden = _matched_rows(rhs.labels, index, presence, signature, steps)
        combined = Vectors(
            lhs.labels + rhs.labels,
            np.vstack((lhs.values, rhs.values)),
            np.vstack((lhs.present, rhs.present & ~hidden)),
        )
        return merge_same_labels(combined.compact())
    index, presence = _presence_by_signature(rhs, signature)
    matched = _matched_rows(lhs.labels, index, presence, signature, steps)
    present = lhs.present & matched if op == "and" else lhs.present & ~matched
    return Vectors(lhs.labels, lhs.values, present).compact()


def format_labels_go(labels: Labels) -> str:
    """Prometheus's ``Labels.String()``: ``{a="1", b="2"}``."""
    inner = ", ".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in labels)
    return "{" + inner + "}"


def _match_labels(labels: Labels, matching: VectorMatching) -> Labels:
    chosen = set(matching.labels)
    if matching.on:
        return tuple(p for p in labels if p[0] in chosen)
    return tuple(p for p in labels if p[0] not in chosen and p[0] != METRIC_NAME)


def _check_one_side(one: Vectors, many_any: BoolArray, sigs: list[Labels], matching: VectorMatching) -> None:
    """No two series of the "one" side may share a match group at a step where the
    other side has samples: that would be many-to-many matching."""
    rows_by_sig: dict[Labels, list[int]] = {}
    for row, sig in enumerate(sigs):
        rows_by_sig.setdefault(sig, []).append(row)
    for rows in rows_by_sig.values():
        if len(rows) < 2:
            continue
        present = one.present[rows] & many_any[None, :]
        clash = present.sum(axis=0) > 1
        if not clash.any():
            continue
        step = int(np.argmax(clash))
        at_step = [rows[i] for i in np.flatnonzero(present[:, step])]
        earlier, later = one.labels[at_step[0]], one.labels[at_step[1]]
        side = "left" if matching.card is Cardinality.ONE_TO_MANY else "right"
        raise execution_error(
            f"found duplicate series for the match group {format_labels_go(_match_labels(later, matching))} "
            f"on the {side} hand-side of the operation: [{format_labels_go(later)}, {format_labels_go(earlier)}]"
            ";many-to-many matching not allowed: matching labels must be unique on one side"
        )


def _result_labels(many: Labels, one: Labels, op: str, matching: VectorMatching, return_bool: bool) -> Labels:
    pairs = dict(many)
    if op in ARITHMETIC_OPS or return_bool:
        pairs.pop(METRIC_NAME, None)
    if matching.card is Cardinality.ONE_TO_ONE:
        chosen = set(matching.labels)
        if matching.on:
            pairs = {k: v for k, v in pairs.items() if k in chosen}
        else:
            pairs = {k: v for k, v in pairs.items() if k not in chosen}
    if matching.include:
        one_pairs = dict(one)
        for name in matching.include:
            value = one_pairs.get(name, "")
            if value:
                pairs[name] = value
            else:
                pairs.pop(name, None)
    return tuple(sorted(pairs.items()))


def _duplicates(keys: Int64Array, kept: BoolArray) -> bool:
    """Whether two kept pairs with the same key occur at the same step."""
    if keys.shape[0] < 2:
        return False
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    counts = np.add.reduceat(kept[order].astype(np.int64), starts, axis=0)
    return bool((counts > 1).any())


def vector_vector(op: str, lhs: Vectors, rhs: Vectors, matching: VectorMatching, return_bool: bool) -> Vectors:
    steps = lhs.present.shape[1]
    swapped = matching.card is Cardinality.ONE_TO_MANY
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    if not many.labels or not one.labels:
        return Vectors.empty(steps)
    signature = signature_function(matching)
    many_sigs = [signature(lab) for lab in many.labels]
    one_sigs = [signature(lab) for lab in one.labels]
    many_any: BoolArray = np.asarray(many.present.any(axis=0), dtype=bool)
    _check_one_side(one, many_any, one_sigs, matching)
    one_rows: dict[Labels, list[int]] = {}
    for row, sig in enumerate(one_sigs):
        one_rows.setdefault(sig, []).append(row)
    sig_ids: dict[Labels, int] = {}
    pair_many: list[int] = []
    pair_one: list[int] = []
    pair_sig: list[int] = []
    for row, sig in enumerate(many_sigs):
        for other in one_rows.get(sig, ()):
            pair_many.append(row)
            pair_one.append(other)
            pair_sig.append(sig_ids.setdefault(sig, len(sig_ids)))
    if not pair_many:
        return Vectors.empty(steps)
    pm, po = np.array(pair_many), np.array(pair_one)
    present = many.present[pm] & one.present[po]
    left, right = (one.values[po], many.values[pm]) if swapped else (many.values[pm], one.values[po])
    values, keep = apply(op, left, right)
    if keep is not None:
        if return_bool:
            values = keep.astype(np.float64)
        else:
            present = present & keep
    labels_cache: dict[tuple[int, int], Labels] = {}
    labels: list[Labels] = []
    for m, o in zip(pair_many, pair_one, strict=True):
        key = (m, o)
        found = labels_cache.get(key)
        if found is None:
            found = _result_labels(many.labels[m], one.labels[o], op, matching, return_bool)
            labels_cache[key] = found
        labels.append(found)
    sig_array = np.array(pair_sig, dtype=np.int64)
    if matching.card is Cardinality.ONE_TO_ONE:
        # One kept sample per match group and step; per many-side row there is at
        # most one "one" partner per step, so count per group is enough.
        if _duplicates(sig_array, present):
            raise execution_error(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
            )
    else:
        label_ids: dict[Labels, int] = {}
        ids = np.array([label_ids.setdefault(lab, len(label_ids)) for lab in labels], dtype=np.int64)
        if _duplicates(sig_array * (len(label_ids) + 1) + ids, present):
            raise execution_error("multiple matches for labels: grouping labels must ensure unique matches")
    result = Vectors(labels, np.array(values, dtype=np.float64), present).compact()
    return merge_same_labels(result)


def is_comparison(op: str) -> bool:
    return op in COMPARISON_OPS
