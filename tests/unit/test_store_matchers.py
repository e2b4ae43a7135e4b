"""Series selection by label matchers, and the label APIs, in the store's index.

Covers:
- =, !=, =~, !~ with Prometheus semantics: anchored regular expressions, a missing
  label matching as "";
- several matchers intersect; no matcher selects everything;
- the index agrees with a brute-force ``matches_all`` on random label sets;
- series, label_names and label_values list only series that have data;
- dropping series from the index updates postings and slots.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalepilot.adapters.store import SQLiteStore, UnknownSeries
from scalepilot.adapters.store.index import SeriesIndex
from scalepilot.config.models import StorageSettings
from scalepilot.domain.labels import Labels, make_labels
from scalepilot.domain.matchers import Matcher, MatchOp, matches_all, name_matcher

T0 = 1_700_000_000_000

SERIES = [
    make_labels("http_requests_total", {"service": "shop", "code": "200", "env": "prod"}),
    make_labels("http_requests_total", {"service": "shop", "code": "500", "env": "prod"}),
    make_labels("http_requests_total", {"service": "cart", "code": "503"}),
    make_labels("http_requests_total", {"service": "cart", "code": "200", "env": "staging"}),
    make_labels("up", {"service": "shop"}),
    make_labels("upstream_up", {"service": "shop"}),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore.open(tmp_path / "data", StorageSettings(), clock=lambda: T0 / 1000)
    ids = s.series_ids(SERIES)
    s.append(ids, T0, [1.0] * len(ids))
    yield s
    s.close()


def names(store: SQLiteStore, *matchers: Matcher) -> set[str]:
    out = set()
    for labels in store.series(list(matchers)):
        d = dict(labels)
        out.add("/".join(d.get(k, "-") for k in ("__name__", "service", "code", "env")))
    return out


def m(name: str, op: str, value: str) -> Matcher:
    return Matcher(name, MatchOp(op), value)


def test_equality(store: SQLiteStore) -> None:
    assert names(store, name_matcher("up")) == {"up/shop/-/-"}
    assert names(store, m("service", "=", "cart")) == {
        "http_requests_total/cart/503/-",
        "http_requests_total/cart/200/staging",
    }
    assert names(store, m("service", "=", "nope")) == set()


def test_inequality_keeps_series_without_the_label(store: SQLiteStore) -> None:
    assert names(store, name_matcher("http_requests_total"), m("env", "!=", "prod")) == {
        "http_requests_total/cart/503/-",
        "http_requests_total/cart/200/staging",
    }


def test_regex_is_anchored(store: SQLiteStore) -> None:
    assert names(store, m("__name__", "=~", "up")) == {"up/shop/-/-"}
    assert names(store, m("__name__", "=~", "up.*")) == {"up/shop/-/-", "upstream_up/shop/-/-"}
    assert names(store, m("code", "=~", "5..")) == {
        "http_requests_total/shop/500/prod",
        "http_requests_total/cart/503/-",
    }
    assert names(store, m("code", "=~", "5")) == set()


def test_negative_regex(store: SQLiteStore) -> None:
    assert names(store, name_matcher("http_requests_total"), m("code", "!~", "2..|503")) == {
        "http_requests_total/shop/500/prod",
    }


def test_missing_label_matches_as_empty(store: SQLiteStore) -> None:
    assert names(store, name_matcher("http_requests_total"), m("env", "=", "")) == {"http_requests_total/cart/503/-"}
    assert names(store, name_matcher("http_requests_total"), m("env", "!=", "")) == {
        "http_requests_total/shop/200/prod",
        "http_requests_total/shop/500/prod",
        "http_requests_total/cart/200/staging",
    }
    assert names(store, m("env", "=~", "prod|")) == names(store) - {"http_requests_total/cart/200/staging"}
    assert len(names(store, m("nosuchlabel", "=", ""))) == len(SERIES)
    assert names(store, m("nosuchlabel", "=~", ".+")) == set()


def test_no_matchers_select_everything(store: SQLiteStore) -> None:
    assert len(store.series([])) == len(SERIES)


def test_label_apis_list_only_series_with_data(store: SQLiteStore) -> None:
    store.series_ids([make_labels("created_only", {"zone": "eu"})])
    assert "zone" not in store.label_names()
    assert store.label_names() == ["__name__", "code", "env", "service"]
    assert store.label_values("__name__") == ["http_requests_total", "up", "upstream_up"]
    assert store.label_values("env") == ["prod", "staging"]
    assert store.label_values("zone") == []
    assert store.series([name_matcher("created_only")]) == []
    assert store.select([name_matcher("created_only")], 0, 2**62) == []
    (sid,) = store.series_ids([make_labels("created_only", {"zone": "eu"})])
    store.append([sid], T0, [1.0])
    assert store.label_values("zone") == ["eu"]


LABEL_NAMES = st.sampled_from(["__name__", "a", "b", "c"])
LABEL_VALUES = st.sampled_from(["", "x", "xy", "y", "yx", "z"])
LABEL_SETS = st.lists(st.dictionaries(LABEL_NAMES, LABEL_VALUES, max_size=4), max_size=30)
MATCHERS = st.lists(
    st.builds(
        Matcher,
        LABEL_NAMES,
        st.sampled_from(list(MatchOp)),
        st.sampled_from(["", "x", "y", "x.*", ".*y", "x|y", ".+", "z?"]),
    ),
    max_size=3,
)


@settings(max_examples=300)
@given(LABEL_SETS, MATCHERS)
def test_index_agrees_with_brute_force(label_sets: list[dict[str, str]], matchers: list[Matcher]) -> None:
    index = SeriesIndex()
    known: dict[Labels, int] = {}
    for d in label_sets:
        labels = make_labels(None, d)
        if labels not in known:
            known[labels] = len(known) + 1
            index.add(known[labels], labels, has_data=True)
    want = sorted(sid for labels, sid in known.items() if matches_all(matchers, labels))
    assert index.select(matchers) == want


def test_index_removal_updates_postings_and_slots() -> None:
    index = SeriesIndex()
    for sid in (3, 1, 2):  # out of order, as a reader catching up may add them
        index.add(sid, make_labels("m", {"i": str(sid)}), has_data=True)
    assert index.live_ids().tolist() == [1, 2, 3]
    index.update_latest(index.slots(np.array([1, 2, 3])), np.array([10, 20, 30]), np.array([1.0, 2.0, 3.0]))
    index.remove([2])
    assert index.select([name_matcher("m")]) == [1, 3]
    assert index.label_values("i") == ["1", "3"]
    slots = index.slots(np.array([3, 1]))
    assert index.latest_ts[slots].tolist() == [30, 10]
    with pytest.raises(UnknownSeries):
        index.slots(np.array([2]))
