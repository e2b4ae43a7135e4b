"""Label sets: the identity of a series.

A label set is a tuple of ``(name, value)`` pairs sorted by name, always holding the
metric name under ``__name__`` as Prometheus does. Tuples hash and compare fast, which
matters on the ingest path where every scraped sample is looked up by its labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Labels = tuple[tuple[str, str], ...]

METRIC_NAME = "__name__"


def make_labels(name: str | None = None, labels: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> Labels:
    """Build a canonical label set; empty values are dropped as Prometheus drops them."""
    pairs = dict(labels.items() if isinstance(labels, Mapping) else labels)
    if name is not None:
        pairs[METRIC_NAME] = name
    return tuple(sorted((k, v) for k, v in pairs.items() if v != ""))


def metric_name(labels: Labels) -> str:
    for k, v in labels:
        if k == METRIC_NAME:
            return v
    return ""


def get_label(labels: Labels, name: str) -> str:
    """The value of one label, or "" when absent (Prometheus treats the two alike)."""
    for k, v in labels:
        if k == name:
            return v
    return ""


def with_labels(labels: Labels, extra: Mapping[str, str]) -> Labels:
    """Labels with ``extra`` set; ``extra`` wins on conflicts."""
    merged = dict(labels)
    merged.update(extra)
    return make_labels(None, merged)


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_labels(labels: Labels) -> str:
    """Prometheus notation: ``name{a="1",b="2"}``."""
    name = metric_name(labels)
    inner = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels if k != METRIC_NAME)
    if not inner:
        return name or "{}"
    return f"{name}{{{inner}}}"
