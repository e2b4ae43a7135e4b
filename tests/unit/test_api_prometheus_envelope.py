"""The pieces of the Prometheus-compatible API that need no server.

Covers: the envelope (``warnings`` only when there are some, compact JSON, NaN never
written as a bare token), the status code of every ``errorType``, form values before URL
values as Go's ``r.Form``, query errors reworded as Prometheus words them (``line:col:``
first, also on the second line of a query), and the adapter's time/duration writers
round-tripping through the parsers; the OpenAPI spec of the routes (their parameters,
answers, and one operationId per method); a malformed query is 400 even with
``timeout=0`` (only evaluation times out) and a non-ASCII letter in a query or a
``match[]`` is 400, not 500. (The server-side behaviour is compared with the real
Prometheus in tests/integration/test_api_prometheus.py.)
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import cast

import httpx
import pytest
from fastapi import FastAPI

from scalepilot.adapters.prometheus.params import format_duration, format_time, parse_duration_ns, parse_time
from scalepilot.domain.query import QueryError, SeriesSource
from scalepilot.faces.api.prometheus import Params, failure, prometheus_error_text, prometheus_router, success
from scalepilot.service.metric_source import EmbeddedMetricSource
from scalepilot.service.runtime import Runtime


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


def test_the_spec_lists_each_routes_parameters_and_answers() -> None:
    # The handlers read their parameters themselves (query string or form body), so the
    # spec declares them by hand; without it a client or schemathesis sees none.
    app = FastAPI()
    app.include_router(prometheus_router(cast(Runtime, object())))
    paths = app.openapi()["paths"]  # a duplicate operationId would warn, and warnings fail tests
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids)) == 11

    def names(path: str, method: str) -> dict[str, bool]:
        return {p["name"]: p["required"] for p in paths[path][method]["parameters"]}

    for method in ("get", "post"):
        assert names("/api/v1/query", method) == {"query": True, "time": False, "timeout": False}
        assert names("/api/v1/query_range", method) == {
            "query": True,
            "start": True,
            "end": True,
            "step": True,
            "timeout": False,
        }
        assert names("/api/v1/series", method) == {"match[]": True, "start": False, "end": False}
        assert names("/api/v1/labels", method) == {"match[]": False, "start": False, "end": False}
    assert names("/api/v1/label/{name}/values", "get") == {"name": True, "match[]": False, "start": False, "end": False}
    assert sorted(paths["/api/v1/query"]["get"]["responses"]) == ["200", "400", "422", "503"]
    assert sorted(paths["/api/v1/series"]["get"]["responses"]) == ["200", "400", "503"]
    assert sorted(paths["/api/v1/label/{name}/values"]["get"]["responses"]) == ["200", "400", "503"]
    assert sorted(paths["/api/v1/metadata"]["get"]["responses"]) == ["200"]
    error = paths["/api/v1/query"]["get"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert error["required"] == ["status", "errorType", "error"]


async def test_only_evaluation_times_out_and_bad_queries_are_400() -> None:
    source = EmbeddedMetricSource(cast(SeriesSource, object()))  # these queries read no series
    runtime = SimpleNamespace(query_source=source, clock=SimpleNamespace(now=time.time), store=None)
    app = FastAPI()
    app.include_router(prometheus_router(cast(Runtime, runtime)))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://scalepilot") as client:

            async def ask(path: str, **params: str) -> tuple[int, str]:
                resp = await client.get(path, params=params)
                return resp.status_code, resp.json()["errorType"]

            # Prometheus parses before its timeout starts, so these were 503 timeouts once.
            assert await ask("/api/v1/query", query="sum(", timeout="0") == (400, "bad_data")
            rng = {"start": "0", "end": "60", "step": "15", "timeout": "0"}
            assert await ask("/api/v1/query_range", query="sum(", **rng) == (400, "bad_data")
            # A well-formed one still times out at once, as in Prometheus.
            assert await ask("/api/v1/query", query="vector(1)", timeout="0") == (503, "timeout")
            # Letters outside ASCII are unexpected characters, not an assertion (a 500).
            assert await ask("/api/v1/query", query="Ãrx") == (400, "bad_data")
            assert await ask("/api/v1/labels", **{"match[]": "ß"}) == (400, "bad_data")
    finally:
        await source.aclose()
