"""Label bodies (``a="1",b="2"``) to label tuples, once per distinct text.

Most of a page's label text repeats: a histogram's ``_sum`` and ``_count`` share its
buckets' labels, families share ``{instance="..."}``, and the pair ``method="GET"`` is
on thousands of lines. So a body is parsed once per page, and a body is split at its
``",`` delimiters into segments (``method="GET``) that are validated and turned into
pairs once per distinct segment. The parsed tuples share their pair objects, which also
keeps a page's memory down. The caches live for one parse only.

:meth:`LabelSets.parse` validates completely: the fast-path line regex only finds the
text between the first ``{`` and the last ``}``; whether that is a label set is decided
here.
"""

from __future__ import annotations

from typing import cast

from scalepilot.adapters.scrape.parser.syntax import (
    EMPTY_CANON,
    LABEL_BODY_RE,
    LABEL_NAME_RE,
    PAIR_RE,
    Canon,
    Labels,
    Malformed,
    quote,
    unescape_label_value,
)

Entry = tuple[Labels, Canon, dict[str, int]]
"""A body's labels, the label set as a set, and the sample names seen with that label
set (with the line of their first sample): one dict per label set, shared by every body
that spells it, so "the same series twice" is one dict lookup per sample."""

MALFORMED = "malformed label set"
"""The reason for a body that is not a canonical label set (the scanner says more)."""
_RESERVED = 'label name "__name__" is reserved for the metric name'


class LabelSets:
    __slots__ = ("bodies", "empty", "segments", "series")

    def __init__(self) -> None:
        self.bodies: dict[str, Entry] = {}
        self.segments: dict[str, tuple[str, str]] = {}
        self.series: dict[Canon, dict[str, int]] = {EMPTY_CANON: {}}
        self.empty: Entry = ((), EMPTY_CANON, self.series[EMPTY_CANON])
        """The entry of every sample without labels."""

    def parse(self, body: str) -> Entry:
        """Parse, check and remember a canonical label body (no braces, no blanks).

        Raises :class:`Malformed` when it is not one; the caller then lets the scanner
        find out whether the line is valid in a looser shape or say what is wrong."""
        if "\\" not in body and '=",' not in body and body.endswith('"'):
            # Without escapes every '"' is a delimiter, and a '",' that is not '=",'
            # (a value starting with a comma, or one ending in '=') closes a value; so
            # splitting at '",' is exact and each segment is name="value, no other '"'.
            segments = body[:-1].split('",')
            found = tuple(map(self.segments.get, segments))
            if None in found:
                labels: Labels = tuple(map(self._segment, segments))
            else:
                labels = cast(Labels, found)
        elif LABEL_BODY_RE.fullmatch(body):
            labels = tuple((k, unescape_label_value(v)) for k, v in PAIR_RE.findall(body))
            if any(k == "__name__" for k, _ in labels):
                raise Malformed(_RESERVED)
        else:
            raise Malformed(MALFORMED)
        if len(labels) > 1 and len(dict(labels)) != len(labels):
            raise Malformed(_duplicate(labels))
        entry = self.entry(labels)
        self.bodies[body] = entry
        return entry

    def entry(self, labels: Labels) -> Entry:
        canon = frozenset(labels)
        names = self.series.get(canon)
        if names is None:
            names = self.series[canon] = {}
        return (labels, canon, names)

    def _segment(self, segment: str) -> tuple[str, str]:
        pair = self.segments.get(segment)
        if pair is not None:
            return pair
        name, sep, value = segment.partition('="')
        if not sep or '"' in value or not LABEL_NAME_RE.fullmatch(name):
            raise Malformed(MALFORMED)
        if name == "__name__":
            raise Malformed(_RESERVED)
        pair = (name, value)
        self.segments[segment] = pair
        return pair


def _duplicate(labels: Labels) -> str:
    seen: set[str] = set()
    for k, _ in labels:
        if k in seen:
            return f"duplicate label name {quote(k)}"
        seen.add(k)
    return "duplicate label name"
