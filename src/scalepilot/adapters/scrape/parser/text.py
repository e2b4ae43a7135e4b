"""Prometheus text format 0.0.4.

Prometheus has two Go parsers for this format, and they disagree: the scraper's
(``model/textparse``) is lenient, promtool's (``expfmt``) is strict. The rule here keeps
a page that Prometheus scrapes scrapable, unless the page contradicts itself:

* accepted, as Prometheus does: blanks and tabs between tokens, inside braces and
  before the first token; a trailing comma in a label set; no blank before the value
  after ``}``; blank lines; any ``#`` comment (``# EOF`` too); a final line without
  ``\\n``; HELP after samples; a HELP line with no text (ignored); a family whose lines
  resume after another family's (its samples are merged, page order is kept); unknown
  escapes such as ``\\t`` kept as written (promtool rejects them); any spelling of
  Inf and NaN that Go's ParseFloat reads;
* rejected, as promtool does: a second HELP or TYPE for a family, TYPE after the
  family's samples, duplicate label names, ``__name__`` as a label, labels not
  separated by commas, a TYPE that is not one of the five lowercase words, negative
  histogram bucket counts or ``_count``;
* rejected, as the scraper does: a negative or signed timestamp, a TYPE line without a
  type, ``\\r\\n`` line endings (with a message saying so);
* rejected because the data would be ambiguous, although Prometheus only counts an
  error and keeps the first: the same series (name and label set, in any label order)
  twice on a page, as the format's spec forbids; histogram buckets of one series not
  in increasing ``le`` order or with decreasing counts; a bucket without a numeric
  ``le``; a summary quantile outside [0, 1]; metadata or samples whose names clash
  with another family's (a gauge ``foo_count`` beside a summary ``foo``).

Unlike OpenMetrics, a histogram needs no ``+Inf`` bucket and ``_count`` is not compared
with it, as neither Prometheus parser checks that.

Speed: one regex over the whole page splits it into lines and, for the shape nearly all
exporters write (``name{...} value [timestamp]``), hands the loop the name, label text,
value and timestamp. The loop then does only dictionary lookups and cheap string work
per sample: label texts are parsed and validated once per distinct text (and their
``name="value`` pieces once per distinct piece, :mod:`.labelsets`), a new label text
that is known labels plus one more costs two lookups, a histogram bucket reuses the
parsed labels of its series (its label text minus the trailing ``le``), and numbers go
straight to ``float()``, the regex having admitted only Go's alphabet. Any other line
takes the slow path in :mod:`.scanner`, which also writes the error messages. Every
cache lives for one page and holds only what the slow path would answer the same.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import cast

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser.families import (
    ROLE_BUCKET,
    ROLE_COUNT,
    ROLE_QUANTILE,
    TEXT_SERIES,
    TEXT_TYPES,
    FamilyTable,
    Owner,
)
from scalepilot.adapters.scrape.parser.labelsets import MALFORMED, Entry, LabelSets
from scalepilot.adapters.scrape.parser.model import (
    ExpositionFormat,
    MetricFamily,
    ParsedPage,
    Sample,
)
from scalepilot.adapters.scrape.parser.scanner import scan_sample
from scalepilot.adapters.scrape.parser.syntax import (
    CRLF_PROBLEM,
    FAST_NUMBER,
    METRIC_NAME,
    METRIC_NAME_RE,
    Canon,
    Labels,
    Malformed,
    join_label_body,
    number_problem,
    parse_number,
    parse_text_timestamp,
    quote,
    series_repr,
    unescape_help,
)

# One match per line: a sample line in the canonical shape (groups 1-4) or, in group 5,
# any other line, for the slow path. The label body is whatever lies between the first
# "{" and the last "}" (the value and timestamp cannot contain a "}"); whether it is a
# label set is checked when it is parsed, once per distinct body. The page must end
# with "\n".
#
# Group 2 keeps the braces and group 4 the blank before the timestamp: written as
# "(x|)" rather than "(?:y(x))?", the optional parts cost re's matcher a quarter
# less, and findall is a third of the parse. The loop keys its caches on the braced
# text.
_LINE_RE = re.compile(rf"(?:({METRIC_NAME})(\{{[^\n]*\}}|) ({FAST_NUMBER})( [0-9]+|)|([^\n]*))\n")
_META_RE = re.compile(r"#[ \t]+(HELP|TYPE)[ \t]+(.*)", re.DOTALL)

_NAN = float("nan")
_NO_FAMILY = MetricFamily("", "unknown", None, None, [])
"""Stands for "no family yet" so the loop's variables need no None checks."""

GroupState = list[float]
"""[last le, last bucket count] of one histogram series, updated in place."""


def parse_text(text: str) -> ParsedPage:
    return _TextParser().run(text)


class _TextParser:
    __slots__ = (
        "braced",
        "groups",
        "heads",
        "helped",
        "lasts",
        "le_tails",
        "le_values",
        "prefixes",
        "sets",
        "table",
        "typed",
    )

    def __init__(self) -> None:
        self.table = FamilyTable(TEXT_SERIES)
        self.typed: set[str] = set()
        self.helped: set[str] = set()
        self.sets = LabelSets()
        self.braced: dict[str, Entry] = {"{}": self.sets.empty}
        """Label text with its braces (as the line regex captures it) -> its labels."""
        self.heads: dict[str, tuple[Labels, frozenset[str]]] = {}
        """``{`` and all labels but the last, up to the last one's closing quote -> those
        labels and their names."""
        self.lasts: dict[str, tuple[str, str]] = {}
        """The last label, from its name to the closing ``"}`` -> the label."""
        self.prefixes: dict[str, Entry] = {}
        """``{`` and a bucket's label body minus the trailing ``le``: one histogram
        series each."""
        self.le_values: dict[str, tuple[Labels, float]] = {}
        """le text -> ((("le", text),), its value): the label to append, the bound."""
        self.le_tails: dict[str, tuple[Labels, float]] = {}
        """The same, keyed by what follows ``,le="`` in a bucket's label text (the le,
        ``"}``)."""
        self.groups: dict[tuple[str, Canon], GroupState] = {}

    def run(self, text: str) -> ParsedPage:
        if text and not text.endswith("\n"):
            text += "\n"
        owner_get = self.table.owner.get
        braced = self.braced
        labels_get = braced.get
        heads_get = self.heads.get
        lasts_get = self.lasts.get
        prefixes_get = self.prefixes.get
        tails_get = self.le_tails.get
        series = self.sets.series
        series_get = series.get
        no_labels = self.sets.empty
        # Page order, kept only once families interleave: until then the families in
        # order are the page in order, and one append per sample is enough.
        order: list[Sample] | None = None
        position = self.table.position

        # The family of the previous line, so a run of one family's lines skips the
        # owner lookup; reset after metadata, which can change who owns a name.
        cur_name = ""
        family = _NO_FAMILY
        role = 0
        append = _NO_FAMILY.samples.append
        # The histogram series (family, labels without le) whose buckets come now.
        g_family = _NO_FAMILY
        g_canon: Canon | None = None
        g_state: GroupState = [_NAN, _NAN]

        new_sample = object.__new__
        for lineno, row in enumerate(_LINE_RE.findall(text), 1):
            name, body, val, ts, other = row
            if not name:
                cur_name = ""
                scanned = self.other_line(other, lineno)
                if scanned is None:
                    continue
                name, body, val, ts = scanned
            try:
                value = float(val)
            except ValueError:
                raise self.bad_value(name, val, lineno) from None
            # inf - inf and nan - nan are nan (truthy); only Inf/NaN spellings may be so.
            if value - value and val[-1] not in "fN":
                raise self.bad_value(name, val, lineno)
            if ts:
                # " 123": int() skips the blank. Beyond 19 digits int() may refuse (and
                # int64 does anyway).
                stamp = int(ts) if len(ts) < 20 else self.long_timestamp(name, ts[1:], lineno)
                timestamp: int | None = stamp
            else:
                timestamp = None
            if name != cur_name:
                owner = owner_get(name)
                if owner is None:
                    owner = self.new_family(name, lineno)
                last = family
                family, role, append = owner
                cur_name = name
                if (
                    order is None
                    and family is not last
                    and (family.samples or position[family.name] < position.get(last.name, -1))
                ):
                    # A family resumes, or starts out of the families' order: from now
                    # on keep page order explicitly (so far it is the families' order).
                    order = [s for f in self.table.families for s in f.samples]
                if order is not None:
                    append = _both(append, order.append)
            if role == ROLE_BUCKET:
                # A bucket's label text is "{", its series' labels, ',le="', the le and
                # '"}', as client libraries write it. Both halves are looked up as they
                # stand; when both are known (see bucket() for what gets cached) the
                # line costs two dict gets and no parsing.
                prefix, _, tail = body.rpartition(',le="')
                le_entry = tails_get(tail)
                entry = prefixes_get(prefix)
                if le_entry is None or entry is None:
                    labels, canon, bound = self.bucket(family, name, body, val, ts, lineno)
                else:
                    labels = entry[0] + le_entry[0]
                    canon = entry[1]
                    bound = le_entry[1]
                if canon is not g_canon or family is not g_family:
                    g_state = self.group_state(family, canon)
                    g_canon = canon
                    g_family = family
                if bound <= g_state[0]:
                    raise self.bucket_order(family, name, labels, bound, g_state, lineno)
                if value < g_state[1]:
                    raise self.bucket_count(family, name, labels, val, g_state, lineno)
                g_state[0] = bound
                g_state[1] = value
            else:
                if body:
                    entry = labels_get(body)
                    if entry is None:
                        # A new label set is most often known labels plus one: split off
                        # the last label and look both parts up (see new_labels() for
                        # what gets cached, and why two hits make a valid label set).
                        head, _, last = body.rpartition('",')
                        known = heads_get(head)
                        pair = lasts_get(last)
                        if known is None or pair is None or pair[0] in known[1]:
                            entry = self.new_labels(name, body, val, ts, lineno)
                        else:
                            labels = known[0] + (pair,)
                            canon = frozenset(labels)
                            names = series_get(canon)
                            if names is None:
                                names = series[canon] = {}
                            entry = (labels, canon, names)
                            braced[body] = entry
                    labels, canon, names = entry
                else:
                    labels, canon, names = no_labels
                if role:  # a summary's quantile, _sum or _count; a histogram's _sum or _count
                    self.check_role(family, role, name, labels, value, val, lineno)
                first = names.setdefault(name, lineno)
                if first != lineno:
                    raise ParseError(
                        lineno,
                        f"duplicate series {series_repr(name, labels)} (first at line {first})",
                    )
            # Sample's generated __init__ is a Python call per line; with slots, the
            # four specialised slot stores do the same for about a third less.
            sample = new_sample(Sample)
            sample.name = name
            sample.labels = labels
            sample.value = value
            sample.timestamp_ms = timestamp
            append(sample)
        return ParsedPage(ExpositionFormat.TEXT, self.table.families, order)

    # -- the slow path: anything but a canonical sample line ---------------------------

    def other_line(self, line: str, lineno: int) -> tuple[str, str, str, str] | None:
        """Handle a comment, blank or metadata line (None), or scan a sample line that
        is not in the canonical shape into the fast path's (name, braced body, value,
        blank and timestamp)."""
        stripped = line.lstrip(" \t")
        if not stripped:
            return None
        if stripped[0] == "#":
            self.comment(stripped, lineno)
            return None
        try:
            scanned = scan_sample(line, strict=False)
        except Malformed as exc:
            raise ParseError(lineno, exc.reason) from None
        body = join_label_body(scanned.pairs)
        if not body:
            return scanned.name, "", scanned.value, f" {scanned.timestamp}" if scanned.timestamp else ""
        entry = self.sets.bodies.get(body)
        if entry is None:
            try:
                entry = self.sets.parse(body)
            except Malformed as exc:
                raise ParseError(lineno, exc.reason) from None
        braced = f"{{{body}}}"
        self.braced[braced] = entry
        return scanned.name, braced, scanned.value, f" {scanned.timestamp}" if scanned.timestamp else ""

    def comment(self, line: str, lineno: int) -> None:
        m = _META_RE.fullmatch(line)
        if m is None:
            return  # an ordinary comment (Prometheus needs blanks after '#' for HELP/TYPE)
        keyword, rest = m.groups()
        name_match = METRIC_NAME_RE.match(rest)
        end = name_match.end() if name_match else 0
        if name_match is None or (end < len(rest) and rest[end] not in " \t"):
            if not rest.strip():
                raise ParseError(lineno, f"{keyword} line without a metric name")
            token = rest.split()[0]
            raise ParseError(lineno, f"invalid metric name {quote(token)} in {keyword} line")
        name = name_match.group()
        text = rest[end:].lstrip(" \t")
        if not text and keyword == "HELP":
            return  # a HELP without text says nothing; Prometheus ignores it too
        family = self.metadata_family(name, keyword, lineno)
        if keyword == "HELP":
            if name in self.helped:
                raise ParseError(lineno, f"second HELP line for metric family {quote(name)}")
            self.helped.add(name)
            family.help = unescape_help(text, openmetrics=False) or None
            return
        if name in self.typed:
            raise ParseError(lineno, f"second TYPE line for metric family {quote(name)}")
        type_ = TEXT_TYPES.get(text)
        if type_ is None:
            hint = CRLF_PROBLEM if text.endswith("\r") else "expected counter, gauge, histogram, summary or untyped"
            raise ParseError(lineno, f"unknown metric type {quote(text)} for {quote(name)}: {hint}")
        if family.samples:
            raise ParseError(lineno, f"TYPE line for {quote(name)} after its samples")
        self.typed.add(name)
        if type_ != family.type:
            self.table.retype(family, type_, lineno)

    def metadata_family(self, name: str, keyword: str, lineno: int) -> MetricFamily:
        family = self.table.by_name.get(name)
        if family is not None:
            return family
        other = self.table.claimed.get(name)
        if other is not None:
            raise ParseError(
                lineno,
                f"{keyword} line for {quote(name)}, a series name of {other.type} {quote(other.name)}",
            )
        return self.table.create(name, "unknown", lineno)

    def new_family(self, name: str, lineno: int) -> Owner:
        """The untyped family a sample with a so far unknown name starts."""
        family = self.table.by_name.get(name)
        if family is not None:
            raise ParseError(
                lineno,
                f"sample {quote(name)} is not valid for {family.type} {quote(name)}: "
                f"expected {self.table.expected_names(family)}",
            )
        self.table.create(name, "unknown", lineno)
        return self.table.owner[name]

    def new_labels(self, name: str, body: str, val: str, ts: str, lineno: int) -> Entry:
        """The labels of braced label text the loop's lookups did not find.

        Without escapes and with no value starting with a comma every '"' delimits, so
        the text splits at '",' into ``name="value`` segments, each checked once per
        page. When all segments are valid and there are two or more, the part before
        the last '",' and the part after it are remembered: any text made of a
        remembered head, '",' and a remembered last label is then a valid label set
        of exactly those labels, provided the last label's name is new (the loop
        checks that), as no '"' or backslash can hide in them."""
        segments_get = self.sets.segments.get
        split = "\\" not in body and '=",' not in body and body[-2] == '"'
        found: tuple[tuple[str, str] | None, ...] = ()
        entry = None
        if split:
            found = tuple(map(segments_get, body[1:-2].split('",')))
            if all(found):
                labels = cast(Labels, found)
                if len(labels) == 1 or len(dict(labels)) == len(labels):
                    entry = self.sets.entry(labels)
        if entry is None:
            entry = self.parse_labels(name, body[1:-1], val, ts[1:], lineno)
            if split:
                # Parsing it checked and remembered its segments, if it split.
                found = tuple(map(segments_get, body[1:-2].split('",')))
        self.braced[body] = entry
        if len(found) > 1 and all(found):
            labels = cast(Labels, found)
            head, _, last = body.rpartition('",')
            self.heads[head] = (labels[:-1], frozenset(k for k, _ in labels[:-1]))
            self.lasts[last] = labels[-1]
        return entry

    def parse_labels(self, name: str, body: str, val: str, ts: str, lineno: int) -> Entry:
        """The labels of a fast-path line; a body that is not canonical (blanks, a
        trailing comma) or not valid goes through the scanner with its whole line."""
        try:
            return self.sets.parse(body)
        except Malformed as exc:
            if exc.reason != MALFORMED:
                raise ParseError(lineno, exc.reason) from None
        line = f"{name}{{{body}}} {val}" + (f" {ts}" if ts else "")
        try:
            scanned = scan_sample(line, strict=False)
            entry = self.sets.parse(join_label_body(scanned.pairs))
        except Malformed as exc:
            raise ParseError(lineno, exc.reason) from None
        self.sets.bodies[body] = entry
        return entry

    def bucket(
        self, family: MetricFamily, name: str, body: str, val: str, ts: str, lineno: int
    ) -> tuple[Labels, Canon, float]:
        """A bucket's labels, its series' labels without le (canonical) and its bound,
        for a line whose label text the loop's lookups did not find.

        Fast case: no escapes and le last. Without escapes each '"' delimits, so the
        last ',le="' starts the le label whenever what follows it has no further '"';
        the rest is the series' own labels, parsed once for all its buckets. Only
        such halves are cached, and a lone ``le`` (an empty prefix) is not, so the
        loop's two hits imply exactly what this checks. ``body`` and ``ts`` are as the
        line regex captures them: braced, and with the blank."""
        body = body[1:-1]
        ts = ts[1:]
        if "\\" not in body:
            j = body.rfind(',le="')
            if j > 0 and len(body) > j + 5:
                prefix = body[:j]
                tail = body[j + 5 :]
            elif body.startswith('le="'):
                prefix = ""
                tail = body[4:]
            else:
                tail = '""'
            # The le must end at its closing quote: `le="1x` is not a bucket of 1.
            if tail.endswith('"') and '"' not in tail[:-1]:
                entry = self.prefixes.get("{" + prefix) or self.bucket_prefix(prefix)
                if entry is not None:
                    le_entry = self.le_tail(family, tail, lineno)
                    return entry[0] + le_entry[0], entry[1], le_entry[1]
        labels, canon, le = self.bucket_labels(family, name, body, val, ts, lineno)
        return labels, canon, self.le_value(family, le, lineno)[1]

    def bucket_prefix(self, prefix: str) -> Entry | None:
        """A bucket's labels without the trailing ``le``, or None to take the general
        path (which also reports any problem)."""
        if not prefix:
            return self.sets.empty
        try:
            entry = self.sets.parse(prefix)
        except Malformed:
            return None
        for k, _ in entry[0]:
            if k == "le":
                return None
        self.prefixes["{" + prefix] = entry
        # A histogram's _sum and _count lines carry exactly these labels.
        self.braced[f"{{{prefix}}}"] = entry
        return entry

    def bucket_labels(
        self, family: MetricFamily, name: str, body: str, val: str, ts: str, lineno: int
    ) -> tuple[Labels, Canon, str]:
        """Labels, the series' labels without le (canonical) and le: the general case."""
        labels = self.parse_labels(name, body, val, ts, lineno)[0] if body else ()
        le = None
        rest = []
        for pair in labels:
            if pair[0] == "le":
                le = pair[1]
            else:
                rest.append(pair)
        if le is None:
            raise ParseError(
                lineno,
                f"histogram {quote(family.name)} bucket {series_repr(name, labels)} has no le label",
            )
        return labels, frozenset(rest), le

    def le_tail(self, family: MetricFamily, tail: str, lineno: int) -> tuple[Labels, float]:
        """The le of a bucket from its text after ``le="`` (the le, then a ``"``)."""
        le = tail[:-1]
        entry = self.le_values.get(le) or self.le_value(family, le, lineno)
        self.le_tails[tail + "}"] = entry
        return entry

    def le_value(self, family: MetricFamily, le: str, lineno: int) -> tuple[Labels, float]:
        try:
            bound = parse_number(le)
        except Malformed as exc:
            raise ParseError(
                lineno, f"histogram {quote(family.name)} has invalid le {quote(le)}: {exc.reason}"
            ) from None
        if math.isnan(bound):
            raise ParseError(lineno, f"histogram {quote(family.name)} has le {quote(le)}, which is not a number")
        entry = ((("le", le),), bound)
        self.le_values[le] = entry
        return entry

    def group_state(self, family: MetricFamily, canon: Canon) -> GroupState:
        # No bound yet (NaN compares False with everything); counts start at 0.
        return self.groups.setdefault((family.name, canon), [_NAN, 0.0])

    def bucket_order(
        self,
        family: MetricFamily,
        name: str,
        labels: Labels,
        bound: float,
        state: GroupState,
        lineno: int,
    ) -> ParseError:
        if bound == state[0]:
            return ParseError(lineno, f"duplicate series {series_repr(name, labels)}")
        return ParseError(
            lineno,
            f"histogram {quote(family.name)} buckets not in increasing le order: "
            f"{series_repr(name, labels)} after le {state[0]:g}",
        )

    def bucket_count(
        self, family: MetricFamily, name: str, labels: Labels, val: str, state: GroupState, lineno: int
    ) -> ParseError:
        if state[1] == 0.0:
            return ParseError(lineno, f"histogram {quote(family.name)} bucket {series_repr(name, labels)} is negative")
        return ParseError(
            lineno,
            f"histogram {quote(family.name)} bucket counts decrease: {series_repr(name, labels)} is {val}, "
            f"the bucket before it {state[1]:g}",
        )

    def check_role(
        self, family: MetricFamily, role: int, name: str, labels: Labels, value: float, val: str, lineno: int
    ) -> None:
        if role == ROLE_QUANTILE:
            self.check_quantile(family, labels, lineno)
        elif role == ROLE_COUNT and value < 0:
            raise ParseError(
                lineno, f"{family.type} {quote(family.name)} has a negative count: {series_repr(name, labels)} is {val}"
            )

    def check_quantile(self, family: MetricFamily, labels: Labels, lineno: int) -> None:
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
                return
        raise ParseError(lineno, f"summary sample {series_repr(family.name, labels)} has no quantile label")

    def long_timestamp(self, name: str, token: str, lineno: int) -> int:
        try:
            return parse_text_timestamp(token)
        except Malformed as exc:
            raise ParseError(lineno, f"timestamp {quote(token)} for {quote(name)} {exc.reason}") from None

    def bad_value(self, name: str, token: str, lineno: int) -> ParseError:
        return ParseError(lineno, f"invalid value {quote(token)} for {quote(name)}: {number_problem(token)}")


def _both(first: Callable[[Sample], None], second: Callable[[Sample], None]) -> Callable[[Sample], None]:
    def append(sample: Sample) -> None:
        first(sample)
        second(sample)

    return append
