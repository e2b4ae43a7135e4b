"""OpenMetrics 1.0 text format.

Strict where the ABNF is: single spaces between tokens, no blanks inside braces, no
trailing comma in a label set (Prometheus's own OpenMetrics parser tolerates one; the
ABNF does not), no blank lines, no comments other than ``# HELP``, ``# TYPE``,
``# UNIT`` and the final ``# EOF`` (after which at most one ``\\n`` may follow), ``\\n``
line endings only. The semantic rules are those of the specification as enforced by
prometheus_client's parser, which the OpenMetrics project uses as its reference:

* one family's lines are contiguous, metadata comes before its samples, at most once
  per kind; a family name must not clash with another family's sample names
  (``foo_created`` beside a counter ``foo``); UNIT must be the name's suffix and is not
  allowed for info and stateset;
* counter ``_total``, histogram ``_bucket``/``_count``/``_sum`` and summary
  ``_count``/``_sum`` are never NaN or negative; bucket and count values are integers;
  histogram points are checked as a whole (see :mod:`.ompoints`); a summary quantile is
  in [0, 1]; info values are 1, stateset values 0 or 1;
* exemplars are validated (syntax, at most 128 characters of labels, value, timestamp)
  and allowed on counter ``_total`` and histogram ``_bucket`` samples only; their
  content is dropped, since nothing downstream stores exemplars yet.

Where this parser decides on its own:

* a HELP text may contain a raw ``"`` (the ABNF wants it escaped; Prometheus and
  prometheus_client accept it, and exposers in the wild send it);
* the same series twice within one MetricPoint (same labels, same or no timestamp) is
  an error; prometheus_client silently keeps the first;
* a timestamp must fit int64 milliseconds, the store's unit (prometheus_client keeps
  seconds and accepts any size); it is converted exactly, truncating toward zero like
  Prometheus, and a line ending in ``\r`` is taken for a CRLF line ending even in HELP;
* of the names reserved by a leading underscore only ``__name__`` is refused, as in
  Prometheus.
"""

from __future__ import annotations

import math
import re

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser.families import (
    OPENMETRICS_SERIES,
    ROLE_BUCKET,
    ROLE_COUNT,
    ROLE_GCOUNT,
    ROLE_GSUM,
    ROLE_INFO,
    ROLE_PLAIN,
    ROLE_QUANTILE,
    ROLE_STATE,
    ROLE_SUM,
    ROLE_TOTAL,
    FamilyTable,
    Owner,
)
from scalepilot.adapters.scrape.parser.labelsets import Entry, LabelSets
from scalepilot.adapters.scrape.parser.model import (
    ExpositionFormat,
    MetricFamily,
    ParsedPage,
    Sample,
)
from scalepilot.adapters.scrape.parser.ompoints import GroupKey, PointTracker
from scalepilot.adapters.scrape.parser.scanner import Exemplar, scan_exemplar, scan_sample
from scalepilot.adapters.scrape.parser.syntax import (
    CRLF_PROBLEM,
    FAST_NUMBER,
    LABEL_BODY,
    METRIC_NAME,
    METRIC_NAME_RE,
    Canon,
    Labels,
    Malformed,
    join_label_body,
    number_problem,
    parse_number,
    parse_om_timestamp,
    quote,
    series_repr,
    unescape_help,
)

# One match per line: a sample line (name, label body, value, timestamp, exemplar) or,
# in the last group, any other line. The label body is matched exactly here, since an
# exemplar's braces may follow it.
_LINE_RE = re.compile(
    rf"(?:({METRIC_NAME})(?:\{{({LABEL_BODY})\}})? ({FAST_NUMBER})(?: ([0-9.eE+-]+))?"
    rf"( # \{{{LABEL_BODY}\}} [^ \n]+(?: [^ \n]+)?)?|([^\n]*))\n"
)
_META_RE = re.compile(rf"# (HELP|TYPE|UNIT) ({METRIC_NAME}) (.*)", re.DOTALL)
_UNIT_RE = re.compile(r"[a-zA-Z0-9_:]*")
_EOF = "# EOF"
_TYPES = frozenset(OPENMETRICS_SERIES)
_EXEMPLAR_MAX_CHARS = 128
_COUNTER_LIKE = frozenset({ROLE_TOTAL, ROLE_BUCKET, ROLE_COUNT, ROLE_GCOUNT, ROLE_SUM})
_INTEGER = frozenset({ROLE_BUCKET, ROLE_COUNT, ROLE_GCOUNT})
_GROUP_BY_LABELS = frozenset({ROLE_PLAIN, ROLE_TOTAL})
_COUNTS = frozenset({ROLE_COUNT, ROLE_GCOUNT})
_WITH_EXEMPLARS = frozenset({ROLE_TOTAL, ROLE_BUCKET})
_BOOLEAN = frozenset({0.0, 1.0})
_SUFFIX_OF = {
    ROLE_TOTAL: "_total",
    ROLE_BUCKET: "_bucket",
    ROLE_COUNT: "_count",
    ROLE_GCOUNT: "_gcount",
    ROLE_SUM: "_sum",
    ROLE_GSUM: "_gsum",
}


def parse_openmetrics(text: str) -> ParsedPage:
    return _OpenMetricsParser().run(text)


class _OpenMetricsParser:
    __slots__ = ("family", "le_values", "meta", "points", "prefixes", "sets", "table", "timestamps")

    def __init__(self) -> None:
        self.table = FamilyTable(OPENMETRICS_SERIES)
        self.sets = LabelSets()
        self.family: MetricFamily | None = None
        """The family whose lines come now; families may not be interleaved."""
        self.points = PointTracker(MetricFamily("", "unknown", None, None, []))
        self.meta: set[str] = set()
        self.prefixes: dict[str, Canon] = {}
        self.le_values: dict[str, float] = {}
        self.timestamps: dict[str, tuple[float, int]] = {}

    def run(self, text: str) -> ParsedPage:
        content, missing_eof = _split_eof(text)
        bodies_get = self.sets.bodies.get
        no_labels = self.sets.empty
        owner_get = self.table.owner.get
        lineno = 0
        for lineno, row in enumerate(_LINE_RE.findall(content), 1):
            name, body, val, ts, exemplar, other = row
            ex: Exemplar | str = exemplar
            if not name:
                scanned = self.other_line(other, lineno)
                if scanned is None:
                    continue
                name, body, val, ts, ex = scanned
            try:
                value = float(val)
            except ValueError:
                raise self.bad_value(name, val, lineno) from None
            if value - value and val[-1] not in "fN":
                raise self.bad_value(name, val, lineno)
            if ts:
                stamp = self.timestamps.get(ts) or self.timestamp(name, ts, lineno)
                seconds: float | None = stamp[0]
                millis: int | None = stamp[1]
            else:
                seconds = millis = None
            owner = owner_get(name)
            if owner is None or owner[0] is not self.family:
                owner = self.new_family(name, lineno)
            family, role, append = owner
            labels, canon, _ = (bodies_get(body) or self.parse_labels(body, lineno)) if body else no_labels
            if role in _GROUP_BY_LABELS:
                group: GroupKey = canon
                bound = 0.0
            else:
                group, bound = self.classify(family, role, name, body, labels, canon, lineno)
            # Counter-like values are never NaN (which fails >= 0) nor negative; counts
            # are integers. Only a problem costs the call.
            if role in _COUNTER_LIKE:
                if not value >= 0.0 or (role in _INTEGER and not value.is_integer()):
                    self.check_counter_like(family, role, name, labels, value, val, lineno)
            elif role == ROLE_GSUM and math.isnan(value):
                self.check_counter_like(family, role, name, labels, value, val, lineno)
            points = self.points
            emit = points.add(name, canon, group, seconds, millis, lineno, labels)
            if role == ROLE_BUCKET:
                points.bucket(bound, value, lineno, name, labels)
            elif role in _COUNTS:
                points.count = value
            elif role == ROLE_SUM:
                points.has_sum = True
            elif role == ROLE_GSUM:
                points.gsum = True
                if value < 0:
                    points.negative_gsum = True
            elif role == ROLE_QUANTILE and value < 0:
                raise ParseError(lineno, f"summary quantile {series_repr(name, labels)} is negative ({val})")
            elif role == ROLE_INFO and value != 1:
                raise ParseError(lineno, f"info sample {series_repr(name, labels)} is {val}, must be 1")
            elif role == ROLE_STATE and value not in _BOOLEAN:
                raise ParseError(lineno, f"stateset sample {series_repr(name, labels)} is {val}, must be 0 or 1")
            if ex:
                self.exemplar(ex, role, family, name, lineno)
            if emit:
                append(Sample(name, labels, value, millis))
        self.end_family()
        if missing_eof:
            raise ParseError(max(lineno, 1), 'the exposition does not end with "# EOF"')
        return ParsedPage(ExpositionFormat.OPENMETRICS, self.table.families)

    # -- lines other than canonical samples ---------------------------------------------

    def other_line(self, line: str, lineno: int) -> tuple[str, str, str, str, Exemplar | str] | None:
        if line.endswith("\r"):
            raise ParseError(lineno, CRLF_PROBLEM)
        if line.startswith("#"):
            if line == _EOF:
                raise ParseError(lineno + 1, f'unexpected content after "# EOF" on line {lineno}')
            m = _META_RE.fullmatch(line)
            if m is None:
                raise ParseError(lineno, _bad_comment(line))
            self.metadata(m.group(1), m.group(2), m.group(3), lineno)
            return None
        if not line:
            raise ParseError(lineno, "blank line (OpenMetrics does not allow empty lines)")
        try:
            scanned = scan_sample(line, strict=True)
        except Malformed as exc:
            raise ParseError(lineno, exc.reason) from None
        ex: Exemplar | str = scanned.exemplar or ""
        return scanned.name, join_label_body(scanned.pairs), scanned.value, scanned.timestamp or "", ex

    def metadata(self, keyword: str, name: str, text: str, lineno: int) -> None:
        family = self.family
        if family is None or name != family.name:
            other = self.table.claimed.get(name)
            if other is not None and other.name == name:
                raise ParseError(
                    lineno,
                    f"{keyword} line for {quote(name)} after the family's lines ended; "
                    "a family's lines must be contiguous",
                )
            if other is not None:
                raise ParseError(
                    lineno,
                    f"{keyword} line for {quote(name)}, a sample name of {other.type} {quote(other.name)}",
                )
            self.end_family()
            family = self.start_family(self.table.create(name, "unknown", lineno))
        elif self.points.samples:
            raise ParseError(lineno, f"{keyword} line for {quote(name)} after its samples")
        if keyword in self.meta:
            raise ParseError(lineno, f"second {keyword} line for {quote(name)}")
        self.meta.add(keyword)
        if keyword == "HELP":
            family.help = unescape_help(text, openmetrics=True) or None
        elif keyword == "TYPE":
            if text not in _TYPES:
                hint = ' ("untyped" is the text 0.0.4 spelling of "unknown")' if text == "untyped" else ""
                raise ParseError(lineno, f"unknown metric type {quote(text)} for {quote(name)}{hint}")
            if family.unit and text in ("info", "stateset"):
                raise ParseError(lineno, f"{text} {quote(name)} cannot have a unit")
            if text != family.type:
                self.table.retype(family, text, lineno)
                self.points = PointTracker(family)
        else:
            if not _UNIT_RE.fullmatch(text):
                raise ParseError(lineno, f"invalid unit {quote(text)} for {quote(name)}")
            if text and not name.endswith("_" + text):
                raise ParseError(
                    lineno,
                    f"unit {quote(text)} is not a suffix of the metric family name {quote(name)}",
                )
            if text and family.type in ("info", "stateset"):
                raise ParseError(lineno, f"{family.type} {quote(name)} cannot have a unit")
            family.unit = text or None

    def start_family(self, family: MetricFamily) -> MetricFamily:
        self.family = family
        self.points = PointTracker(family)
        self.meta = set()
        return family

    def end_family(self) -> None:
        self.points.end_point()

    def new_family(self, name: str, lineno: int) -> Owner:
        """The unknown-typed family a sample with a new name starts."""
        family = self.family
        other = self.table.claimed.get(name)
        if other is not None and other is family:
            raise ParseError(
                lineno,
                f"sample {quote(name)} is not valid for {other.type} {quote(other.name)}: "
                f"expected {self.table.expected_names(other)}",
            )
        if other is not None:
            raise ParseError(
                lineno,
                f"sample {quote(name)} belongs to {other.type} {quote(other.name)}, whose "
                "lines ended before; a family's lines must be contiguous",
            )
        self.end_family()
        self.start_family(self.table.create(name, "unknown", lineno))
        return self.table.owner[name]

    # -- per-sample rules ---------------------------------------------------------------

    def parse_labels(self, body: str, lineno: int) -> Entry:
        try:
            return self.sets.parse(body)
        except Malformed as exc:
            raise ParseError(lineno, exc.reason) from None

    def classify(
        self,
        family: MetricFamily,
        role: int,
        name: str,
        body: str,
        labels: Labels,
        canon: Canon,
        lineno: int,
    ) -> tuple[GroupKey, float]:
        """Check a sample's special labels; return its metric (group) and, for a
        bucket, its upper bound."""
        if role == ROLE_BUCKET:
            return self.bucket(family, name, body, labels, canon, lineno)
        if role == ROLE_QUANTILE:
            return self.quantile(family, name, labels, canon, lineno), 0.0
        if role == ROLE_STATE:
            rest = [pair for pair in labels if pair[0] != family.name]
            if len(rest) == len(labels):
                raise ParseError(
                    lineno,
                    f"stateset sample {series_repr(name, labels)} has no {quote(family.name)} label",
                )
            return frozenset(rest), 0.0
        if role == ROLE_INFO:
            return None, 0.0
        reserved = "le" if family.type in ("histogram", "gaugehistogram") else "quantile"
        if family.type != "counter" and any(k == reserved for k, _ in labels):
            raise ParseError(
                lineno,
                f"{family.type} sample {series_repr(name, labels)} must not have a {quote(reserved)} label",
            )
        return canon, 0.0

    def bucket(
        self, family: MetricFamily, name: str, body: str, labels: Labels, canon: Canon, lineno: int
    ) -> tuple[GroupKey, float]:
        le = None
        for k, v in labels:
            if k == "le":
                le = v
                break
        if le is None:
            raise ParseError(lineno, f"histogram bucket {series_repr(name, labels)} has no le label")
        bound = self.le_values.get(le)
        if bound is None:
            try:
                bound = parse_number(le)
            except Malformed as exc:
                raise ParseError(
                    lineno, f"histogram {quote(family.name)} has invalid le {quote(le)}: {exc.reason}"
                ) from None
            if math.isnan(bound):
                raise ParseError(lineno, f"histogram {quote(family.name)} has le {quote(le)}")
            if bound == float("inf") and le != "+Inf":
                raise ParseError(
                    lineno, f'histogram {quote(family.name)} writes le {quote(le)}; OpenMetrics wants "+Inf"'
                )
            self.le_values[le] = bound
        # The series' labels without le, one object per series (by the body text before a
        # trailing le) so point checks compare by identity first.
        prefix = None
        if "\\" not in body:
            tail = f'le="{le}"'
            if body == tail:
                prefix = ""
            elif body.endswith("," + tail):
                prefix = body[: -len(tail) - 1]
        group = self.prefixes.get(prefix) if prefix is not None else None
        if group is None:
            group = frozenset(pair for pair in labels if pair[0] != "le")
            if prefix is not None:
                self.prefixes[prefix] = group
        return group, bound

    def quantile(self, family: MetricFamily, name: str, labels: Labels, canon: Canon, lineno: int) -> GroupKey:
        for k, v in labels:
            if k == "quantile":
                try:
                    q = parse_number(v)
                except Malformed as exc:
                    raise ParseError(
                        lineno, f"summary {quote(family.name)} has invalid quantile {quote(v)}: {exc.reason}"
                    ) from None
                if not 0.0 <= q <= 1.0:
                    raise ParseError(lineno, f"summary {quote(family.name)} has quantile {quote(v)} outside [0, 1]")
                return canon - {(k, v)}
        raise ParseError(lineno, f"summary sample {series_repr(name, labels)} has no quantile label")

    def check_counter_like(
        self, family: MetricFamily, role: int, name: str, labels: Labels, value: float, val: str, lineno: int
    ) -> None:
        what = f"{family.type} sample {series_repr(name, labels)}"
        if math.isnan(value):
            raise ParseError(lineno, f"{what} is NaN, which a {_SUFFIX_OF[role]} sample cannot be")
        if role == ROLE_GSUM:
            return
        if value < 0:
            raise ParseError(lineno, f"{what} is negative ({val})")
        if role in _INTEGER and not value.is_integer():
            raise ParseError(lineno, f"{what} is {val}, which is not an integer count")

    def exemplar(self, ex: Exemplar | str, role: int, family: MetricFamily, name: str, lineno: int) -> None:
        if role not in _WITH_EXEMPLARS:
            raise ParseError(
                lineno,
                f"exemplar on {quote(name)}: exemplars are allowed on counter _total and "
                "histogram _bucket samples only",
            )
        try:
            parsed = scan_exemplar(ex, name) if isinstance(ex, str) else ex
        except Malformed as exc:
            raise ParseError(lineno, exc.reason) from None
        try:
            labels = self.sets.parse(join_label_body(parsed.pairs))[0] if parsed.pairs else ()
            parse_number(parsed.value)
            if parsed.timestamp is not None:
                parse_om_timestamp(parsed.timestamp)
        except Malformed as exc:
            raise ParseError(lineno, f"invalid exemplar on {quote(name)}: {exc.reason}") from None
        size = sum(len(k) + len(v) for k, v in labels)
        if size > _EXEMPLAR_MAX_CHARS:
            raise ParseError(
                lineno,
                f"exemplar labels on {quote(name)} are {size} characters long, at most "
                f"{_EXEMPLAR_MAX_CHARS} are allowed",
            )

    def timestamp(self, name: str, token: str, lineno: int) -> tuple[float, int]:
        try:
            stamp = parse_om_timestamp(token)
        except Malformed as exc:
            raise ParseError(lineno, f"invalid timestamp {quote(token)} for {quote(name)}: {exc.reason}") from None
        self.timestamps[token] = stamp
        return stamp

    def bad_value(self, name: str, token: str, lineno: int) -> ParseError:
        return ParseError(lineno, f"invalid value {quote(token)} for {quote(name)}: {number_problem(token)}")


def _split_eof(text: str) -> tuple[str, bool]:
    """The lines before the final ``# EOF`` (each ending in "\\n"), and whether the
    ``# EOF`` is missing (then all lines, to be checked before that is reported)."""
    end = text[:-1] if text.endswith("\n") else text
    if end == _EOF:
        return "", False
    if end.endswith("\n" + _EOF):
        return end[: -len(_EOF)], False
    if text and not text.endswith("\n"):
        text += "\n"
    return text, True


def _bad_comment(line: str) -> str:
    for keyword in ("HELP", "TYPE", "UNIT"):
        if line.startswith(f"# {keyword}"):
            rest = line[len(keyword) + 2 :]
            if not rest.strip(" "):
                return f"{keyword} line without a metric name"
            if not rest.startswith(" "):
                break
            name = rest[1:].split(" ", 1)[0]
            if not METRIC_NAME_RE.fullmatch(name):
                return f"invalid metric name {quote(name)} in {keyword} line"
            return f"{keyword} line for {quote(name)} needs a space after the name (the text may be empty)"
    if line.rstrip() == _EOF:
        return '"# EOF" must be written exactly so, without trailing blanks'
    return (
        f"comment {quote(line)} is not allowed: OpenMetrics has no comments besides "
        '"# HELP", "# TYPE", "# UNIT" and the final "# EOF"'
    )
