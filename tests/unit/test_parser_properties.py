"""Properties of the exposition parser, checked with generated input.

Covers: any text, any bytes and any mutation of a valid page make ``parse`` return a
page or raise ``ParseError`` with a line inside the input, never anything else, in both
formats; generated valid pages (families of every round-trippable type, labels whose
values need escaping, any float including NaN and infinities, optional timestamps)
render to text 0.0.4 and to OpenMetrics and parse back to the same samples; the text
format's fast path and its slow path (blanks, trailing commas, odd spellings) agree;
prometheus_client's text parser reads the same samples from the same valid pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser import ExpositionFormat, parse

FORMATS = [ExpositionFormat.TEXT, ExpositionFormat.OPENMETRICS]
CASES = Path(__file__).parent / "parser_cases"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Labels = tuple[tuple[str, str], ...]
Row = tuple[str, Labels, float, int | None]


def outcome(data: str | bytes, fmt: ExpositionFormat) -> None:
    """Parse; only ParseError may escape, and it must point into the input."""
    try:
        parse(data, fmt)
    except ParseError as exc:
        lines = (data.count(b"\n") if isinstance(data, bytes) else data.count("\n")) + 2
        assert 1 <= exc.line <= lines, (exc.line, lines)
        assert exc.reason


# -- robustness ---------------------------------------------------------------------------

EXPOSITION_ALPHABET = st.sampled_from(
    [
        *'abc_:{}="\\, \t\n#0123456789.eE+-',
        *["Inf", "NaN", "le", "quantile", "_total", "_bucket", "_sum", "_count"],
        *["# TYPE ", "# HELP ", "# UNIT ", "# EOF", " counter", " histogram", " summary", " gauge"],
        *["\r", "\x00", "é", "\ufeff", "\u2028"],
    ]
)


@FAST
@given(st.lists(EXPOSITION_ALPHABET, max_size=60).map("".join))
def test_exposition_like_text_only_raises_parse_error(data: str) -> None:
    for fmt in FORMATS:
        outcome(data, fmt)
        outcome(data + "\n# EOF\n", fmt)


@FAST
@given(st.text(max_size=200))
def test_any_text_only_raises_parse_error(data: str) -> None:
    for fmt in FORMATS:
        outcome(data, fmt)


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_only_raise_parse_error(data: bytes) -> None:
    for fmt in FORMATS:
        outcome(data, fmt)


VALID_PAGES = {
    ExpositionFormat.TEXT: (CASES / "node_exporter.prom").read_text(),
    ExpositionFormat.OPENMETRICS: (CASES / "spec_example.om").read_text(),
}


@FAST
@given(
    st.sampled_from(FORMATS),
    st.lists(
        st.tuples(
            st.sampled_from(["insert", "delete", "replace", "duplicate"]), st.integers(0, 10**6), EXPOSITION_ALPHABET
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_valid_pages_only_raise_parse_error(fmt: ExpositionFormat, edits: list[tuple[str, int, str]]) -> None:
    text = VALID_PAGES[fmt]
    for kind, where, piece in edits:
        i = where % (len(text) + 1)
        if kind == "insert":
            text = text[:i] + piece + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + len(piece) :]
        elif kind == "replace":
            text = text[:i] + piece + text[i + len(piece) :]
        else:
            start = text.rfind("\n", 0, i) + 1
            end = text.find("\n", i)
            end = len(text) if end < 0 else end + 1
            text = text[:end] + text[start:end] + text[end:]
    outcome(text, fmt)


LONG_TOKENS = st.sampled_from(["9", "0", "1e", "e9", "a", '\\"', "\\", "{", "}", ",", " ", "#"]).flatmap(
    lambda piece: st.integers(1000, 6000).map(lambda n: piece * (n // len(piece)))
)
TEMPLATES = [
    "a {}\n",
    "a 1 {}\n",
    'a{{x="{}"}} 1\n',
    "a{{{}}} 1\n",
    '# TYPE h histogram\nh_bucket{{le="{}"}} 1\n',
    '# TYPE s summary\ns{{quantile="{}"}} 1\n',
    "# HELP a {}\n",
    "# TYPE a_total counter\na_total 1 # {{}} {}\n",
    '# TYPE a_total counter\na_total 1 # {{x="1"}} 1 {}\n',
    "{}\n",
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TEMPLATES), LONG_TOKENS, st.booleans())
def test_long_tokens_anywhere_only_raise_parse_error(template: str, token: str, eof: bool) -> None:
    text = template.format(token) + ("# EOF\n" if eof else "")
    for fmt in FORMATS:
        outcome(text, fmt)


# -- round trips --------------------------------------------------------------------------

LABEL_NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: not n.startswith("__") and n not in ("le", "quantile")
)
LABEL_VALUES = st.text(
    alphabet=st.one_of(
        st.sampled_from(["\\", '"', "\n", "{", "}", ",", "=", " ", "#", "\r", "\t", "\x00"]),
        st.characters(codec="utf-8"),
    ),
    max_size=12,
)
LABEL_SETS = st.dictionaries(LABEL_NAMES, LABEL_VALUES, max_size=4).map(lambda d: tuple(d.items()))
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
COUNT = st.integers(0, 10**12).map(float)


@dataclass
class Family:
    name: str
    type: str  # counter, gauge, unknown, histogram, summary
    help: str | None
    series: list[Labels]
    values: list[list[float]]
    timestamp_ms: int | None


@st.composite
def families(draw: st.DrawFn) -> list[Family]:
    out: list[Family] = []
    for index in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["counter", "gauge", "unknown", "histogram", "summary"]))
        series = draw(st.lists(LABEL_SETS, min_size=1, max_size=3, unique_by=frozenset))
        # The text format strips blanks before the HELP text, as Prometheus's parsers do;
        # OpenMetrics takes a line ending in "\r" for a CRLF line ending.
        help_text = draw(
            st.one_of(
                st.none(),
                st.text(st.characters(codec="utf-8"), min_size=1, max_size=20).filter(
                    lambda h: h[0] not in " \t" and not h.endswith("\r")
                ),
            )
        )
        timestamp = draw(st.one_of(st.none(), st.integers(0, 4_000_000_000_000)))
        values: list[list[float]] = []
        for _ in series:
            if kind == "counter":
                values.append([draw(st.floats(min_value=0, allow_infinity=True, allow_nan=False))])
            elif kind == "histogram":
                counts = sorted(draw(st.lists(COUNT, min_size=1, max_size=4)))
                values.append([*counts, counts[-1], draw(st.floats(min_value=0, allow_nan=False))])
            elif kind == "summary":
                quantile_values = draw(
                    st.lists(st.one_of(st.just(math.nan), st.floats(0, 1e9)), min_size=2, max_size=2)
                )
                values.append([*quantile_values, draw(COUNT), draw(st.floats(min_value=0, allow_nan=False))])
            else:
                values.append([draw(ANY_FLOAT)])
        out.append(Family(f"fam{index}_{kind}", kind, help_text, series, values, timestamp))
    return out


def number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def body(labels: Labels) -> str:
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels) + "}" if labels else ""


BOUNDS = ["0.1", "1", "10"]
QUANTILES = ["0.5", "0.99"]


def rows(family: Family) -> list[Row]:
    """The samples a family renders to, in page order."""
    out: list[Row] = []
    ts = family.timestamp_ms
    for labels, values in zip(family.series, family.values, strict=True):
        if family.type == "counter":
            out.append((f"{family.name}_total", labels, values[0], ts))
        elif family.type == "histogram":
            *buckets, inf, total = values
            bounds = BOUNDS[-len(buckets) :] if len(buckets) <= len(BOUNDS) else [str(i) for i in range(len(buckets))]
            for bound, count in zip(bounds, buckets, strict=True):
                out.append((f"{family.name}_bucket", (*labels, ("le", bound)), count, ts))
            out.append((f"{family.name}_bucket", (*labels, ("le", "+Inf")), inf, ts))
            out.append((f"{family.name}_count", labels, inf, ts))
            out.append((f"{family.name}_sum", labels, total, ts))
        elif family.type == "summary":
            q1, q2, count, total = values
            out.append((family.name, (*labels, ("quantile", QUANTILES[0])), q1, ts))
            out.append((family.name, (*labels, ("quantile", QUANTILES[1])), q2, ts))
            out.append((f"{family.name}_count", labels, count, ts))
            out.append((f"{family.name}_sum", labels, total, ts))
        else:
            out.append((family.name, labels, values[0], ts))
    return out


def render(fams: list[Family], fmt: ExpositionFormat) -> str:
    lines: list[str] = []
    om = fmt is ExpositionFormat.OPENMETRICS
    for family in fams:
        declared = family.name if om or family.type != "counter" else f"{family.name}_total"
        type_ = "untyped" if family.type == "unknown" and not om else family.type
        lines.append(f"# TYPE {declared} {type_}")
        if family.help is not None:
            # The text format escapes only backslash and newline in HELP.
            text = escape(family.help) if om else family.help.replace("\\", "\\\\").replace("\n", "\\n")
            lines.append(f"# HELP {declared} {text}")
        for name, labels, value, ts in rows(family):
            stamp = "" if ts is None else f" {ts // 1000}.{ts % 1000:03d}" if om else f" {ts}"
            lines.append(f"{name}{body(labels)} {number(value)}{stamp}")
    if om:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def same(a: list[Row], b: list[Row]) -> bool:
    def key(row: Row) -> tuple[str, Labels, str, int | None]:
        return row[0], row[1], "nan" if math.isnan(row[2]) else repr(row[2]), row[3]

    return [key(r) for r in a] == [key(r) for r in b]


@FAST
@given(families())
def test_generated_pages_round_trip_in_both_formats(fams: list[Family]) -> None:
    expected = [row for family in fams for row in rows(family)]
    for fmt in FORMATS:
        parsed = parse(render(fams, fmt), fmt)
        got = [(s.name, s.labels, s.value, s.timestamp_ms) for s in parsed.samples()]
        assert same(got, expected), fmt
        assert [f.help for f in parsed.families] == [f.help or None for f in fams]
        assert [f.type for f in parsed.families] == [f.type for f in fams]


@FAST
@given(families())
def test_prometheus_client_reads_the_same_samples(fams: list[Family]) -> None:
    text = render(fams, ExpositionFormat.TEXT)
    ours = [(s.name, dict(s.labels), s.value) for s in parse(text, ExpositionFormat.TEXT).samples()]
    theirs = [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]
    assert len(ours) == len(theirs)
    for (n1, l1, v1), (n2, l2, v2) in zip(ours, theirs, strict=True):
        assert (n1, l1) == (n2, l2)
        assert (math.isnan(v1) and math.isnan(v2)) or v1 == v2


@FAST
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["gauge", "histogram", None])), min_size=1, max_size=30))
def test_interleaved_text_families_keep_page_order(lines: list[tuple[int, str | None]]) -> None:
    declared: set[int] = set()
    out: list[str] = []
    expected: list[str] = []
    for number_, (family, type_) in enumerate(lines):
        if type_ is not None and family not in declared and not any(e.startswith(f"f{family}") for e in expected):
            out.append(f"# TYPE f{family} {type_}")
            declared.add(family)
        name = f"f{family}_bucket" if f"# TYPE f{family} histogram" in out else f"f{family}"
        labels = f'{{n="{number_}",le="+Inf"}}' if name.endswith("_bucket") else f'{{n="{number_}"}}'
        out.append(f"{name}{labels} {number_}")
        expected.append(name)
    parsed = parse("\n".join(out) + "\n", ExpositionFormat.TEXT)
    assert [s.value for s in parsed.samples()] == [float(i) for i in range(len(lines))]
    assert [s.name for s in parsed.samples()] == expected
    assert sorted(s.value for f in parsed.families for s in f.samples) == [float(i) for i in range(len(lines))]


BLANKS = st.text(alphabet=" \t", max_size=2)


@FAST
@given(
    LABEL_SETS.filter(bool),
    ANY_FLOAT,
    st.one_of(st.none(), st.integers(0, 2**63 - 1)),
    st.lists(BLANKS, min_size=8, max_size=8),
    st.booleans(),
    st.sampled_from(["canonical", "lower", "long"]),
)
def test_text_fast_and_slow_paths_agree(
    labels: Labels,
    value: float,
    timestamp: int | None,
    blanks: list[str],
    trailing_comma: bool,
    spelling: str,
) -> None:
    canonical = f"m{body(labels)} {number(value)}" + ("" if timestamp is None else f" {timestamp}")
    token = number(value)
    if spelling == "lower":
        token = token.lower()
    elif spelling == "long" and math.isinf(value):
        token = token.replace("Inf", "Infinity")
    pairs = [f'{blanks[0]}{k}{blanks[1]}={blanks[2]}"{escape(v)}"{blanks[3]}' for k, v in labels]
    loose = (
        f"{blanks[4]}m{blanks[5]}{{"
        + ",".join(pairs)
        + ("," if trailing_comma else "")
        + f"}} {blanks[6]}{token}"
        + ("" if timestamp is None else f" {blanks[7]}{timestamp}")
        + blanks[7]
    )
    fast = [
        (s.name, s.labels, s.value, s.timestamp_ms) for s in parse(canonical + "\n", ExpositionFormat.TEXT).samples()
    ]
    slow = [(s.name, s.labels, s.value, s.timestamp_ms) for s in parse(loose + "\n", ExpositionFormat.TEXT).samples()]
    assert same(fast, slow)
    assert same(fast, [("m", labels, value, timestamp)])
