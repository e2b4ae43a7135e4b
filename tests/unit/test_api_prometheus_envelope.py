"""The pieces of the Prometheus-compatible API that need no server.

Covers: the envelope (``warnings`` only when there are some, compact JSON, NaN never
written as a bare token), the status code of every ``errorType``, form values before URL
values as Go's ``r.Form``, query errors reworded as Prometheus words them (``line:col:``
first, also on the second line of a query), and the adapter's time/duration writers
round-tripping through the parsers. (The server-side behaviour is compared with the real
Prometheus in tests/integration/test_api_prometheus.py.)
"""

from __future__ import annotations

import json

import pytest

from scalepilot.adapters.prometheus.params import format_duration, format_time, parse_duration_ns, parse_time
from scalepilot.domain.query import QueryError
from scalepilot.faces.api.prometheus import Params, failure, prometheus_error_text, success


def test_envelope_has_warnings_only_when_there_are_some() -> None:
    plain = success({"resultType": "vector", "result": []})
    assert plain.status_code == 200 and plain.media_type == "application/json"
    assert bytes(plain.body) == b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    warned = json.loads(bytes(success([], ["careful"]).body))
    assert warned == {"status": "success", "data": [], "warnings": ["careful"]}


@pytest.mark.parametrize(
    ("kind", "status"),
    [("bad_data", 400), ("execution", 422), ("timeout", 503), ("canceled", 503), ("internal", 500), ("x", 500)],
)
def test_error_status_codes(kind: str, status: int) -> None:
    resp = failure(kind, "went wrong")
    assert resp.status_code == status
    assert json.loads(bytes(resp.body)) == {"status": "error", "errorType": kind, "error": "went wrong"}


def test_form_values_come_before_url_values() -> None:
    params = Params([("query", "from_body"), ("match[]", "a"), ("query", "from_url"), ("match[]", "b")])
    assert params.get("query") == "from_body"
    assert params.all("match[]") == ["a", "b"]
    assert params.get("time") == ""


def test_query_errors_are_worded_as_prometheus_words_them() -> None:
    assert prometheus_error_text(QueryError("parse error: unexpected x", column=5), "sum(x y)") == (
        "1:5: parse error: unexpected x"
    )
    # Column 15 of the whole text is column 4 of its second line (the "y").
    assert prometheus_error_text(QueryError("parse error: bad", column=15), "sum by (a)\n(x y)") == (
        "2:4: parse error: bad"
    )
    assert prometheus_error_text(QueryError("no column", kind="execution"), "x") == "no column"


@pytest.mark.parametrize("ms", [0, 1, 999, 1000, 1_700_000_000_000, 1_700_000_000_500, -1500])
def test_times_round_trip(ms: int) -> None:
    assert parse_time(format_time(ms)) == ms
    assert parse_duration_ns(format_duration(abs(ms))) == abs(ms) * 1_000_000
