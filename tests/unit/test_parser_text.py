"""Prometheus text format 0.0.4, the public parser API and content negotiation.

Covers: the public surface (``__all__``, Accept header, Content-Type and file-extension
detection, ``check_metrics`` summaries); families and types (TYPE/HELP, ``untyped`` is
``unknown``, families made by a bare sample, metadata-only families); histograms and
summaries (series grouped by suffix, ``le`` order, non-decreasing and non-negative
bucket counts, ``le`` and ``quantile`` values); label syntax and escaping (``\\\\``,
``\\"``, ``\\n``, unknown escapes kept as written, blanks and a trailing comma inside
braces, duplicate names, ``__name__``); values as Go's ParseFloat reads them (NaN, Inf
spellings, exponents; no ``_``, hex or overflow); integer millisecond timestamps;
comments, blank lines and ``# EOF`` ignored; a missing final newline; interleaved
families merged in page order; duplicate series; clashing metadata; ``\\r\\n`` and BOM
rejected with a reason; invalid UTF-8 reported at its line; every error names its line.
"""

from __future__ import annotations

import gc
import math
from pathlib import Path

import pytest

from scalepilot.adapters.scrape import parser as parser_pkg
from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser import (
    ACCEPT_HEADER,
    CheckResult,
    ExpositionFormat,
    ParsedPage,
    Sample,
    check_metrics,
    format_from_content_type,
    format_from_path,
    parse,
)

TEXT = ExpositionFormat.TEXT
CASES = Path(__file__).parent / "parser_cases"


def page(text: str | bytes) -> ParsedPage:
    return parse(text, TEXT)


def error(text: str | bytes) -> ParseError:
    with pytest.raises(ParseError) as exc:
        parse(text, TEXT)
    return exc.value


def samples(text: str) -> list[tuple[str, tuple[tuple[str, str], ...], float, int | None]]:
    return [(s.name, s.labels, s.value, s.timestamp_ms) for s in page(text).samples()]


# -- the public surface -----------------------------------------------------------------


def test_public_names_are_pinned() -> None:
    assert sorted(parser_pkg.__all__) == [
        "ACCEPT_HEADER",
        "CheckResult",
        "ExpositionFormat",
        "MetricFamily",
        "ParsedPage",
        "Sample",
        "check_metrics",
        "format_from_content_type",
        "format_from_path",
        "parse",
    ]


def test_accept_header_is_what_prometheus_sends() -> None:
    assert ACCEPT_HEADER == (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", ExpositionFormat.OPENMETRICS),
        ("Application/OpenMetrics-Text;version=0.0.1", ExpositionFormat.OPENMETRICS),
        ("text/plain; version=0.0.4; charset=utf-8", TEXT),
        ("text/plain", TEXT),
        ("application/json", TEXT),
        ("", TEXT),
        (None, TEXT),
    ],
)
def test_format_from_content_type(content_type: str | None, fmt: ExpositionFormat) -> None:
    assert format_from_content_type(content_type) is fmt


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("page.om", ExpositionFormat.OPENMETRICS),
        ("dir/page.OPENMETRICS", ExpositionFormat.OPENMETRICS),
        ("node.prom", TEXT),
        ("/tmp/metrics.txt", TEXT),
        ("metrics", None),
        ("archive.tar.gz", None),
        (".om", None),
    ],
)
def test_format_from_path(path: str, fmt: ExpositionFormat | None) -> None:
    assert format_from_path(path) is fmt


def test_check_metrics_summarises_a_valid_page() -> None:
    result = check_metrics(b'# TYPE a gauge\na 1\nb{x="1"} 2\nb{x="2"} 3\n', TEXT)
    assert result == CheckResult(TEXT, families=2, series=3)
    assert result.summary() == "2 families, 3 series"
    assert check_metrics("# HELP only one\n", TEXT).summary() == "1 family, 0 series"


def test_check_metrics_raises_parse_error_for_an_invalid_page() -> None:
    with pytest.raises(ParseError, match=r"^line 2: invalid value \"x\" for \"b\""):
        check_metrics("a 1\nb x\n", TEXT)


def test_format_may_be_given_as_its_string_value() -> None:
    assert page("a 1\n").format is TEXT
    assert parse("a 1\n", "text").series_count == 1  # type: ignore[arg-type]


# -- families and types -------------------------------------------------------------------


def test_families_types_and_help() -> None:
    parsed = page(
        "# HELP http_requests_total The total number of HTTP requests.\n"
        "# TYPE http_requests_total counter\n"
        'http_requests_total{method="post",code="200"} 1027 1395066363000\n'
        'http_requests_total{method="post",code="400"}    3 1395066363000\n'
        "# TYPE temperature gauge\n"
        "temperature 21.5\n"
        "# TYPE legacy untyped\n"
        "legacy 7\n"
        "bare_metric 12.47\n"
    )
    assert [(f.name, f.type, f.help, f.unit) for f in parsed.families] == [
        ("http_requests_total", "counter", "The total number of HTTP requests.", None),
        ("temperature", "gauge", None, None),
        ("legacy", "unknown", None, None),
        ("bare_metric", "unknown", None, None),
    ]
    assert parsed.families[0].samples == [
        Sample("http_requests_total", (("method", "post"), ("code", "200")), 1027.0, 1395066363000),
        Sample("http_requests_total", (("method", "post"), ("code", "400")), 3.0, 1395066363000),
    ]
    assert parsed.series_count == 5
    assert parsed.format is TEXT


def test_empty_input_and_blank_or_comment_only_pages() -> None:
    assert page("").families == []
    assert page(b"").series_count == 0
    assert page("\n\n   \n\t\n").families == []
    assert page("# just a comment\n#\n# EOF\n").families == []


def test_metadata_only_family_is_kept_and_a_help_without_text_is_ignored() -> None:
    parsed = page("# TYPE lonely gauge\n# HELP other\n# HELP other   \n")
    assert [(f.name, f.type, f.samples) for f in parsed.families] == [("lonely", "gauge", [])]


def test_histogram_series_belong_to_their_family() -> None:
    parsed = page(
        "# HELP rpc_seconds The response latency.\n"
        "# TYPE rpc_seconds histogram\n"
        'rpc_seconds_bucket{le="0.05"} 24054\n'
        'rpc_seconds_bucket{le="0.1"} 33444\n'
        'rpc_seconds_bucket{le="1"} 133988\n'
        'rpc_seconds_bucket{le="+Inf"} 144320\n'
        "rpc_seconds_sum 53423\n"
        "rpc_seconds_count 144320\n"
    )
    (family,) = parsed.families
    assert family.type == "histogram"
    assert [s.name for s in family.samples] == ["rpc_seconds_bucket"] * 4 + ["rpc_seconds_sum", "rpc_seconds_count"]
    assert family.samples[3].labels == (("le", "+Inf"),)


def test_histogram_buckets_of_several_series_and_le_anywhere_in_the_labels() -> None:
    parsed = page(
        "# TYPE h histogram\n"
        'h_bucket{path="/a",le="1"} 1\n'
        'h_bucket{path="/a",le="+Inf"} 2\n'
        'h_bucket{le="1",path="/b"} 5\n'
        'h_bucket{le="+Inf",path="/b"} 5\n'
        'h_sum{path="/a"} 3\n'
        'h_count{path="/a"} 2\n'
    )
    assert [s.labels for s in parsed.families[0].samples][:4] == [
        (("path", "/a"), ("le", "1")),
        (("path", "/a"), ("le", "+Inf")),
        (("le", "1"), ("path", "/b")),
        (("le", "+Inf"), ("path", "/b")),
    ]


def test_summary_series_belong_to_their_family() -> None:
    parsed = page(
        "# TYPE rpc summary\n"
        'rpc{quantile="0.01"} 3102\n'
        'rpc{quantile="0.99"} 76656\n'
        "rpc_sum 1.7560473e+07\n"
        "rpc_count 2693\n"
    )
    assert [s.name for s in parsed.families[0].samples] == ["rpc", "rpc", "rpc_sum", "rpc_count"]
    assert parsed.families[0].samples[2].value == 17560473.0


def test_a_family_resumed_after_another_is_merged_and_page_order_kept() -> None:
    text = '# TYPE a gauge\na{x="1"} 1\nb 2\na{x="2"} 3\n'
    parsed = page(text)
    assert [(f.name, len(f.samples)) for f in parsed.families] == [("a", 2), ("b", 1)]
    assert [s.value for s in parsed.samples()] == [1.0, 2.0, 3.0]


def test_page_order_is_kept_for_every_sample_after_families_interleave() -> None:
    text = '# TYPE a gauge\na 1\nb 2\na{x="1"} 3\n# TYPE h histogram\nh_bucket{le="+Inf"} 4\nh_sum 5\nh_count 6\nc 7\n'
    parsed = page(text)
    assert [s.value for s in parsed.samples()] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert parsed.series_count == 7
    assert [s.value for s in parsed.families[2].samples] == [4.0, 5.0, 6.0]


def test_page_order_when_metadata_declares_families_out_of_sample_order() -> None:
    parsed = page("# HELP b second\n# HELP a first\na 1\nb 2\n")
    assert [f.name for f in parsed.families] == ["b", "a"]
    assert [s.name for s in parsed.samples()] == ["a", "b"]


def test_help_after_samples_is_accepted_as_by_prometheus() -> None:
    parsed = page("a 1\n# HELP a late help\n")
    assert parsed.families[0].help == "late help"


def test_help_escapes() -> None:
    parsed = page('# HELP a two-line\\n doc  str\\\\ing \\t"quoted"\na 1\n')
    assert parsed.families[0].help == 'two-line\n doc  str\\ing \\t"quoted"'


# -- labels -----------------------------------------------------------------------------


def test_label_value_escapes_and_unicode() -> None:
    parsed = page(
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} '
        "1.458255915e9\n"
        'b{v="Björn 佖佥 \\u00e9 # {}"} 1\n'
    )
    first, second = parsed.samples()
    assert first.labels == (("path", "C:\\DIR\\FILE.TXT"), ("error", 'Cannot find file:\n"FILE.TXT"'))
    # Prometheus keeps unknown escapes as written; promtool would reject them.
    assert second.labels == (("v", "Björn 佖佥 \\u00e9 # {}"),)


def test_blanks_inside_braces_a_trailing_comma_and_no_blank_before_the_value() -> None:
    assert samples(
        'name {labelname="val2",basename="base\\"v\\\\al\\nue"} 0.23 1234567890\n'
        'name2{labelname="val2"\t,basename   =   "basevalue2"\t\t} +Inf 54321\n'
        'name2{ labelname = "val1" , }-Inf\n'
        "  indented 1  \t\n"
        "name3{} 4\n"
        "plus+1\n"
    ) == [
        ("name", (("labelname", "val2"), ("basename", 'base"v\\al\nue')), 0.23, 1234567890),
        ("name2", (("labelname", "val2"), ("basename", "basevalue2")), math.inf, 54321),
        ("name2", (("labelname", "val1"),), -math.inf, None),
        ("indented", (), 1.0, None),
        ("name3", (), 4.0, None),
        ("plus", (), 1.0, None),
    ]


def test_label_values_may_contain_braces_commas_and_equals() -> None:
    assert samples('a{x="} 1",y="a=\\"b\\",c"} 2\n') == [("a", (("x", "} 1"), ("y", 'a="b",c')), 2.0, None)]


def test_same_labels_in_different_order_are_kept_as_written() -> None:
    result = samples('a{x="1",y="2"} 1\nb{y="2",x="1"} 2\n')
    assert [labels for _, labels, _, _ in result] == [(("x", "1"), ("y", "2")), (("y", "2"), ("x", "1"))]


# -- values and timestamps ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("1", 1.0),
        ("-3e3", -3000.0),
        ("1.5E-3", 0.0015),
        ("+.5", 0.5),
        ("5.", 5.0),
        ("0042", 42.0),
        ("1e308", 1e308),
        ("+Inf", math.inf),
        ("-Inf", -math.inf),
        ("Inf", math.inf),
        ("inf", math.inf),
        ("+infinity", math.inf),
        ("-INFINITY", -math.inf),
        ("9223372036854775808", 9223372036854775808.0),
    ],
)
def test_values_as_go_parsefloat_reads_them(token: str, value: float) -> None:
    assert page(f"a {token}\n").families[0].samples[0].value == value


@pytest.mark.parametrize("token", ["NaN", "nan", "NAN"])
def test_nan_values(token: str) -> None:
    assert math.isnan(page(f"a {token}\n").families[0].samples[0].value)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("1_000", "is not a number"),
        ("0x1p-3", "is not a number"),
        ("0x10", "is not a number"),
        ("+nan", "is not a number"),
        ("infinit", "is not a number"),
        ("١٢", "is not a number"),
        ("1e400", "is out of the float64 range"),
        ("-1e400", "is out of the float64 range"),
        ("abc", "is not a number"),
        (".", "is not a number"),
        ("1e", "is not a number"),
    ],
)
def test_values_python_accepts_but_go_does_not_are_rejected(token: str, reason: str) -> None:
    assert str(error(f"ok 1\nfoo {token}\n")) == f'line 2: invalid value "{token}" for "foo": {reason}'


def test_timestamps_are_integer_milliseconds() -> None:
    assert samples("a 1 0\nb 2 1712345678901\nc 3 9223372036854775807\n") == [
        ("a", (), 1.0, 0),
        ("b", (), 2.0, 1712345678901),
        ("c", (), 3.0, 9223372036854775807),
    ]


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        ("2.72", "is not an integer number of milliseconds"),
        ("-5", "is not an integer number of milliseconds"),
        ("+5", "is not an integer number of milliseconds"),
        ("1e3", "is not an integer number of milliseconds"),
    ],
)
def test_bad_timestamps(timestamp: str, reason: str) -> None:
    assert str(error(f'metric{{label="bla"}} 3.14 {timestamp}\n')) == (
        f'line 1: invalid timestamp "{timestamp}" for "metric": {reason}'
    )


def test_timestamp_beyond_int64_is_rejected() -> None:
    assert str(error("a 1 9223372036854775808\n")) == (
        'line 1: timestamp "9223372036854775808" for "a" is out of the int64 range'
    )
    assert str(error("a 1 " + "9" * 5000 + "\n")).endswith('..." for "a" is out of the int64 range')
    assert page("a 1 " + "0" * 5000 + "42\n").families[0].samples[0].timestamp_ms == 42


def test_huge_numbers_are_errors_not_crashes() -> None:
    assert str(error("a " + "9" * 5000 + "\n")).endswith("is out of the float64 range")
    assert page("a 0." + "0" * 5000 + "1\n").families[0].samples[0].value == 0.0


def test_final_newline_is_optional_as_in_prometheus() -> None:
    assert samples("bla 3.14\nblubber 42") == [("bla", (), 3.14, None), ("blubber", (), 42.0, None)]


# -- errors, each at its line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('metric{@="bla"} 3.14\n', 'line 1: invalid label name "@" in the label set of "metric"'),
        ('metric{__name__="bla"} 3.14\n', 'line 1: label name "__name__" is reserved for the metric name'),
        ('metric{label+="bla"} 3.14\n', 'line 1: expected "=" after label name "label", got "+=\\"bla\\"} 3.14"'),
        ("metric{label=bla} 3.14\n", 'line 1: value of label "label" must be in double quotes'),
        ('metric{label="bla"+} 3.14\n', 'line 1: expected "," or "}" after label "label", got "+} 3.14"'),
        ('metric{label="bla" x="y"} 3.14\n', 'line 1: expected "," or "}" after label "label", got "x=\\"y\\"} 3.14"'),
        ('metric{a="1",,b="2"} 1\n', 'line 1: invalid label name ",b=\\"2\\"} 1" in the label set of "metric"'),
        ('metric{label="bla",label="bla"} 3.14\n', 'line 1: duplicate label name "label"'),
        ('metric{label="bla} 1\n', 'line 1: value of label "label" is not closed with a double quote'),
        ('metric{label="bla"\n', 'line 1: label set of "metric" is not closed with a }'),
        ('metric{label="bla"} 3.14 2 3\n', 'line 1: unexpected text after the timestamp: "3"'),
        ('metric{label="bla"} blubb\n', 'line 1: invalid value "blubb" for "metric": is not a number'),
        ("metric\n", 'line 1: missing value for "metric"'),
        ('@invalidmetric{label="bla"} 3.14 2\n', 'line 1: invalid metric name "@invalidmetric"'),
        ("a.b 1\n", 'line 1: invalid metric name "a.b"'),
        ('{label="bla"} 3.14 2\n', "line 1: sample without a metric name"),
        ("{} 3.14\n", "line 1: sample without a metric name"),
        ('{"my.metric"} 1\n', "line 1: quoted (UTF-8) metric names are not supported by text 0.0.4 or OpenMetrics 1.0"),
        (
            "a 1\nb 2 # trailing comment\n",
            'line 2: invalid timestamp "#" for "b": is not an integer number of milliseconds',
        ),
        ("\ufeffa 1\n", "line 1: the input starts with a byte order mark (U+FEFF), which is not allowed"),
    ],
)
def test_malformed_lines(text: str, message: str) -> None:
    assert str(error(text)) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# HELP metric one\n# HELP metric two\n", 'line 2: second HELP line for metric family "metric"'),
        ("# TYPE metric counter\n# TYPE metric untyped\n", 'line 2: second TYPE line for metric family "metric"'),
        ("\nmetric 4.12\n# TYPE metric counter\n", 'line 3: TYPE line for "metric" after its samples'),
        (
            "# TYPE metric bla\n",
            'line 1: unknown metric type "bla" for "metric": expected counter, gauge, histogram, summary or untyped',
        ),
        (
            "# TYPE metric Counter\n",
            'line 1: unknown metric type "Counter" for "metric": expected counter, gauge, histogram, summary or '
            "untyped",
        ),
        (
            "# TYPE metric\n",
            'line 1: unknown metric type "" for "metric": expected counter, gauge, histogram, summary or untyped',
        ),
        ("# TYPE met-ric counter\n", 'line 1: invalid metric name "met-ric" in TYPE line'),
        ("# HELP \n", "line 1: HELP line without a metric name"),
        (
            "# TYPE foo summary\nfoo_sum 1\n# TYPE foo_sum gauge\n",
            'line 3: TYPE line for "foo_sum", a series name of summary "foo"',
        ),
        (
            "foo_sum 1\n# TYPE foo summary\n",
            'line 2: summary "foo" clashes with unknown "foo_sum": both would own the series name "foo_sum"',
        ),
        ("# TYPE x histogram\n# HELP x_bucket b\n", 'line 2: HELP line for "x_bucket", a series name of histogram "x"'),
        (
            "# TYPE h histogram\nh 3\n",
            'line 2: sample "h" is not valid for histogram "h": expected "h_bucket", "h_sum" or "h_count"',
        ),
    ],
)
def test_metadata_errors(text: str, message: str) -> None:
    assert str(error(text)) == message


def test_ordinary_comments_and_hash_without_blank_are_not_metadata() -> None:
    parsed = page("#HELP a not metadata\n# HELPER a not metadata\n# HELP\na 1\n")
    assert parsed.families[0].help is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '# TYPE h histogram\nh_bucket{le="2"} 3\nh_bucket{le="1"} 4\n',
            'line 3: histogram "h" buckets not in increasing le order: "h_bucket{le=\\"1\\"}" after le 2',
        ),
        (
            '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\n',
            'line 3: histogram "h" bucket counts decrease: "h_bucket{le=\\"+Inf\\"}" is 2, the bucket before it 3',
        ),
        (
            '# TYPE h histogram\nh_bucket{le="1"} -3\n',
            'line 2: histogram "h" bucket "h_bucket{le=\\"1\\"}" is negative',
        ),
        ("# TYPE h histogram\nh_count -3\n", 'line 2: histogram "h" has a negative count: "h_count" is -3'),
        ("# TYPE h histogram\nh_bucket 3\n", 'line 2: histogram "h" bucket "h_bucket" has no le label'),
        (
            '# TYPE h histogram\nh_bucket{le="bla"} 3.14\n',
            'line 2: histogram "h" has invalid le "bla": is not a number',
        ),
        (
            '# TYPE h histogram\nh_bucket{le="0x1p-3"} 1\n',
            'line 2: histogram "h" has invalid le "0x1p-3": is not a number',
        ),
        ('# TYPE h histogram\nh_bucket{le="NaN"} 1\n', 'line 2: histogram "h" has le "NaN", which is not a number'),
        ('# TYPE h histogram\nh_bucket{le="1",le="2"} 1\n', 'line 2: duplicate label name "le"'),
        (
            '# TYPE h histogram\nh_bucket{a="x",le="1"} 1\nh_bucket{a="x",le="1"} 1\n',
            'line 3: duplicate series "h_bucket{a=\\"x\\",le=\\"1\\"}"',
        ),
        (
            '# TYPE s summary\ns{quantile="bla"} 3.14\n',
            'line 2: summary "s" has invalid quantile "bla": is not a number',
        ),
        ('# TYPE s summary\ns{quantile="1.5"} 1\n', 'line 2: summary "s" has quantile "1.5" outside [0, 1]'),
        ('# TYPE s summary\ns{quantile="-0.1"} 1\n', 'line 2: summary "s" has quantile "-0.1" outside [0, 1]'),
        ("# TYPE s summary\ns 1\n", 'line 2: summary sample "s" has no quantile label'),
    ],
)
def test_histogram_and_summary_errors(text: str, message: str) -> None:
    assert str(error(text)) == message


def test_buckets_need_not_have_an_inf_bucket_in_text_format() -> None:
    # Prometheus accepts such pages; the +Inf and _count rules are OpenMetrics-only here.
    assert page('# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 7\n').series_count == 2


def test_buckets_of_a_resumed_histogram_series_must_keep_increasing() -> None:
    text = '# TYPE h histogram\nh_bucket{a="1",le="1"} 1\nh_bucket{a="2",le="1"} 1\nh_bucket{a="1",le="0.5"} 1\n'
    assert str(error(text)).startswith('line 4: histogram "h" buckets not in increasing le order')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a 1\na 2\n", 'line 2: duplicate series "a" (first at line 1)'),
        (
            'a{x="1",y="2"} 1\n\na{ y="2", x="1" } 2\n',
            'line 3: duplicate series "a{y=\\"2\\",x=\\"1\\"}" (first at line 1)',
        ),
        ("a 1 1000\na 2 2000\n", 'line 2: duplicate series "a" (first at line 1)'),
        ('a{x="\\\\q"} 1\na{x="\\q"} 1\n', 'line 2: duplicate series "a{x=\\"\\\\\\\\q\\"}" (first at line 1)'),
    ],
)
def test_the_same_series_twice_is_an_error(text: str, message: str) -> None:
    assert str(error(text)) == message


def test_crlf_line_endings_are_rejected_with_the_reason() -> None:
    assert str(error("# TYPE a gauge\r\na 1\r\n")) == (
        'line 1: unknown metric type "gauge\\r" for "a": the line ends with a carriage return: '
        'lines must end with "\\n", not "\\r\\n"'
    )
    assert str(error("a 1\r\n")) == (
        'line 1: invalid value "1\\r" for "a": the line ends with a carriage return: lines must end with "\\n", '
        'not "\\r\\n"'
    )


def test_invalid_utf8_is_reported_at_its_line() -> None:
    exc = error(b'a 1\nb 2\nmetric{l="\xbd"} 3.14\n')
    assert exc.line == 3
    assert str(exc).startswith("line 3: invalid UTF-8")


def test_parse_error_carries_line_and_reason() -> None:
    exc = error("ok 1\n\n# comment\nbad value\n")
    assert (exc.line, exc.reason) == (4, 'invalid value "value" for "bad": is not a number')
    assert exc.transient is False


def test_long_offending_text_is_cut_in_messages() -> None:
    message = str(error("a{" + "x" * 500 + "} 1\n"))
    assert len(message) < 200
    assert message == f'line 1: expected "=" after label name "{"x" * 60}...", got "}} 1"'


# -- a realistic page --------------------------------------------------------------------


def test_node_exporter_style_page() -> None:
    parsed = page((CASES / "node_exporter.prom").read_bytes())
    assert check_metrics((CASES / "node_exporter.prom").read_bytes(), TEXT).summary() == (
        f"{len(parsed.families)} families, {parsed.series_count} series"
    )
    by_name = {f.name: f for f in parsed.families}
    assert by_name["go_gc_duration_seconds"].type == "summary"
    assert by_name["node_cpu_seconds_total"].type == "counter"
    assert by_name["http_request_duration_seconds"].type == "histogram"
    assert by_name["process_start_time_seconds"].samples[0].value == 1.71234567891e9


def test_garbage_collector_is_restored_after_a_parse() -> None:
    assert gc.isenabled()
    parse("a 1\n", ExpositionFormat.TEXT)
    assert gc.isenabled()
    with pytest.raises(ParseError):
        parse("a b c d\n", ExpositionFormat.TEXT)
    assert gc.isenabled()
    gc.disable()
    try:
        parse("a 1\n", ExpositionFormat.TEXT)
        assert not gc.isenabled()  # the application's choice is kept
    finally:
        gc.enable()
