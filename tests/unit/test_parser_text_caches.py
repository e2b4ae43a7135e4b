"""The text parser's per-page caches change its speed, never its answers.

Covers: label text seen before on the page (whole, or as known labels plus a known last
label, or as a histogram series' known labels plus a known ``le``) reads exactly as it
does on a page of its own, for valid and malformed label text, in sample lines and in
bucket lines, with any error on the same line and for the same reason; parsed samples
are ordinary :class:`Sample` objects, equal to ones built by the constructor.
"""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser import ExpositionFormat, Sample, parse

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Few names and values, so label texts share their heads, last labels and le values;
# the values include what could confuse a split at '",' or ',le="'.
NAMES = st.sampled_from(["a", "b", "le", "c_d", "__name__"])
VALUES = st.sampled_from(["", "x", ",", "=", "x=", ",x", "le=", 'le="1', '",', "}", "{", "1", "+Inf"])
ESCAPED = st.sampled_from(['\\"', "\\\\", "\\n", "\\t", 'x\\",le=\\"1'])
LABEL = st.tuples(NAMES, st.one_of(VALUES, ESCAPED)).map(lambda kv: f'{kv[0]}="{kv[1]}"')
# Labels for warming the caches: valid more often, and sharing more of their parts.
WARM_LABEL = st.tuples(st.sampled_from(["a", "b", "c_d"]), st.sampled_from(["", "1", ",", "x=", "}", '\\"'])).map(
    lambda kv: f'{kv[0]}="{kv[1]}"'
)
LABEL_LISTS = st.lists(st.one_of(WARM_LABEL, LABEL), max_size=4)
LABEL_TEXT = LABEL_LISTS.map(",".join)
RAW_TEXT = st.lists(st.sampled_from([*'abl="\\,{} \t=', "le", ',le="', '",', "1", "1x", "+Inf"]), max_size=24).map(
    "".join
)
LE = st.sampled_from(['le="1"', 'le="2"', 'le="1x', 'le="', 'le="1"x', 'le="1""', 'le="\\1"'])

Row = tuple[str, tuple[tuple[str, str], ...], float]


def warm_up(texts: list[str]) -> list[str]:
    """Lines that put ``texts`` in the caches in every form the loop looks up."""
    lines = ["# TYPE warm_h histogram"]
    lines += [f"warm_g{{{text}}} {k}" for k, text in enumerate(texts)]
    for z in (1, 2):
        lines += [f'warm_z{{{text}{"," if text else ""}zz="{z}"}} {z}' for text in texts]
    for text in texts:
        lines += [f'warm_h_bucket{{{text}{"," if text else ""}le="{le}"}} {le}' for le in (1, 2)]
    return lines


def keep_valid(texts: list[str]) -> list[str]:
    """The texts, one by one, as long as the warm-up page stays valid."""
    kept: list[str] = []
    for text in texts:
        try:
            parse("\n".join(warm_up([*kept, text])) + "\n", ExpositionFormat.TEXT)
        except ParseError:
            continue
        kept.append(text)
    return kept


def last_line(page: list[str]) -> tuple[str, object]:
    """The last line's samples, or the error, which must be on that line."""
    try:
        parsed = parse("\n".join(page) + "\n", ExpositionFormat.TEXT)
    except ParseError as exc:
        assert exc.line == len(page), (exc, page)
        return "error", exc.reason
    return "samples", [(s.name, s.labels, s.value) for s in list(parsed.samples())[-1:]]


@FAST
@given(st.lists(LABEL_LISTS, max_size=6), st.data(), st.booleans())
def test_label_text_reads_the_same_after_the_caches_are_warm(
    warm: list[list[str]], data: st.DataObject, bucket: bool
) -> None:
    kept = keep_valid([",".join(labels) for labels in warm])
    # Often splices of what the caches hold: the labels of one warm text but its
    # last, then any warm label (a repeated name among them) or an le, valid or not.
    heads = [",".join(labels[:-1]) for labels in warm if len(labels) > 1] or [""]
    labels = [label for text in warm for label in text] or [""]
    spliced = st.tuples(st.sampled_from(heads), st.one_of(st.sampled_from(labels), LE, RAW_TEXT))
    text = data.draw(st.one_of(spliced.map(",".join), LABEL_TEXT, RAW_TEXT))
    line = ["# TYPE z histogram", f"z_bucket{{{text}}} 1"] if bucket else [f"z{{{text}}} 1"]
    assert last_line([*warm_up(kept), *line]) == last_line(line)


@FAST
@given(st.lists(LABEL_TEXT, min_size=1, max_size=6))
def test_lines_read_together_as_each_on_its_own(texts: list[str]) -> None:
    # Later lines are made of parts that earlier lines cached; alone, nothing is cached.
    rows = warm_up(keep_valid(texts))
    together: list[Row] = [
        (s.name, s.labels, s.value) for s in parse("\n".join(rows) + "\n", ExpositionFormat.TEXT).samples()
    ]
    alone: list[Row] = []
    for row in rows[1:]:
        single = f"{rows[0]}\n{row}\n"
        alone += [(s.name, s.labels, s.value) for s in parse(single, ExpositionFormat.TEXT).samples()]
    assert together == alone


WARM = ['a="1",b="x"', 'c_d="1",a="2"', 'b="}",a="x="', 'a=""', 'c_d="x=",b="1"']
SPLICES = [
    'a="1",a="2"',  # a known head and a known last label that repeats a name
    'c_d="1",a="x="',
    'b="}",a="2"',
    'c_d="x=",b="x"',
    'a="1",b="x",a="2"',
    'a="1",b="x",',
    'a="1", a="2"',
    'a="1",__name__="x"',
    'a="",le="2"',  # a known series and a known le
    'a="",le="1"',
    'a="1",b="x",le="2"',
    'a="",le="1x',
    'a="",le="1x"',
    'a="",le="+Inf"',
    'a="",le="2"x',
    'a="",le=""',
    'a="",le="',
    'a="",le="2"""',
    'a="",le="1",b="2"',
    'a="",le="2",le="1"',
    ',le="1"',
    'le="2"',
    'a="\\",le="2"',
    'c_d="x=",le="1"',
]


@pytest.mark.parametrize("bucket", [False, True])
@pytest.mark.parametrize("text", SPLICES)
def test_spliced_label_text_reads_as_on_its_own(text: str, bucket: bool) -> None:
    warm = warm_up(WARM)
    assert keep_valid(WARM) == WARM
    line = ["# TYPE z histogram", f"z_bucket{{{text}}} 1"] if bucket else [f"z{{{text}}} 1"]
    assert last_line([*warm, *line]) == last_line(line)


def test_parsed_samples_are_ordinary_samples() -> None:
    # The parser fills Sample's slots without calling its __init__; that builds the
    # same object only while these four fields are all there is.
    assert [f.name for f in fields(Sample)] == ["name", "labels", "value", "timestamp_ms"]
    (sample,) = parse('m{a="1"} 2 3\n', ExpositionFormat.TEXT).samples()
    assert type(sample) is Sample
    assert sample == Sample("m", (("a", "1"),), 2.0, 3)
    assert repr(sample) == repr(Sample("m", (("a", "1"),), 2.0, 3))


@pytest.mark.parametrize("le", ['le="1x', 'le="1', 'le="1x}'])
def test_an_le_without_its_closing_quote_is_refused(le: str) -> None:
    page = f'# TYPE foo histogram\nfoo_bucket{{a="1",{le}}} 3\nfoo_bucket{{a="1",le="+Inf"}} 3\n'
    with pytest.raises(ParseError) as err:
        parse(page, ExpositionFormat.TEXT)
    assert err.value.line == 2
