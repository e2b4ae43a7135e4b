"""scalepilot's Prometheus-compatible HTTP API next to Debian's real Prometheus.

Covers: the same samples (an OpenMetrics file backfilled into both: ``scalepilot
import``'s importer and ``promtool tsdb create-blocks-from openmetrics``), the same
requests (GET query strings and form-encoded POSTs; times as unix seconds with fractions
and as RFC 3339; steps as float seconds and durations; repeated ``match[]``) sent to
``/api/v1/query``, ``/query_range``, ``/series``, ``/labels`` and
``/label/{name}/values`` of both servers, and the answers compared: status code,
``Content-Type``, the envelope's keys (``status``, ``data``, ``errorType``, ``error``,
``warnings``), ``resultType`` and label sets — and the whole ``data`` where the answer
does not depend on the PromQL evaluator (series and label lookups, plain selectors,
scalars, strings). Parameter errors must match Prometheus's message word for word (400
``bad_data``, the 11,000-points limit included); evaluation errors its status code and
``errorType`` (422 ``execution``, 503 ``timeout``). Values of computed queries are the
conformance test's business (test_promql_conformance.py), not this one's.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.service.importer import import_openmetrics
from tests.support import Proc, free_port, require_binary, start, wait_for

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

STEP_S = 15
SPAN_S = 40 * 60
# Recent enough for the default retention of both, old enough to be out of Prometheus's
# head block (promtool writes blocks; the head is for scraping).
T0 = (int(time.time()) - 2 * 3600) // 60 * 60
T_MID = T0 + SPAN_S // 2
T_END = T0 + SPAN_S


def _openmetrics() -> str:
    """Each series' samples together (OpenMetrics wants them contiguous)."""
    lines = ["# TYPE http_requests counter"]
    routes = [("200", "/a", 3.0), ("500", "/a", 0.25), ("200", "/b", 1.5)]
    points = range(SPAN_S // STEP_S + 1)
    for code, path, per_s in routes:
        for i in points:
            value = per_s * STEP_S * (i if i < 100 else i - 100)  # one counter reset
            lines.append(f'http_requests_total{{job="api",code="{code}",path="{path}"}} {value} {T0 + i * STEP_S}')
    lines.append("# TYPE queue_length gauge")
    queues = [('queue="orders"', 10.0), ('queue="mail",note="with \\"quotes\\" and ünicode"', 2.0)]
    for labels, base in queues:
        for i in points:
            lines.append(f"queue_length{{{labels}}} {base + (i % 7)} {T0 + i * STEP_S}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@dataclass
class Servers:
    prometheus: str
    scalepilot: str


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    prometheus = require_binary("prometheus")
    promtool = require_binary("promtool")
    work = tmp_path_factory.mktemp("api")
    om = work / "data.om"
    om.write_text(_openmetrics(), encoding="utf-8")

    prom_data = work / "prom-data"
    promtool_run = start([promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(prom_data)])
    assert promtool_run.popen.wait(120) == 0, "promtool could not backfill the data set"
    with SQLiteStore.open(work / "sp-data", StorageSettings()) as store:
        import_openmetrics(om, store)

    (work / "prometheus.yml").write_text("scrape_configs: []\n")
    prom_port, sp_port = free_port(), free_port()
    (work / "scalepilot.yaml").write_text(
        f"server: {{address: '127.0.0.1:{sp_port}'}}\n"
        f"storage: {{data_dir: '{work / 'sp-data'}'}}\n"
        "host_stats: {enabled: false}\nservices: []\n"
    )
    procs: list[Proc] = []
    try:
        procs.append(
            start(
                [
                    prometheus,
                    f"--config.file={work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={prom_data}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--log.level=warn",
                ]
            )
        )
        procs.append(start([sys.executable, "-m", "scalepilot", "run", "-c", str(work / "scalepilot.yaml")]))
        prom_base, sp_base = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{sp_port}"
        wait_for(lambda: _ready(f"{prom_base}/-/ready"), timeout=60, what="Prometheus to be ready")
        wait_for(lambda: _ready(f"{sp_base}/ready"), timeout=60, what="scalepilot to be ready")
        yield Servers(prom_base, sp_base)
    finally:
        for proc in reversed(procs):
            proc.stop(signal.SIGTERM)


@dataclass(frozen=True)
class Ask:
    path: str
    params: tuple[tuple[str, str], ...]
    post: bool = False

    def send(self, base: str) -> httpx.Response:
        url = f"{base}/api/v1/{self.path}"
        if self.post:
            return httpx.post(url, data=dict(self.params) if _unique(self.params) else list(self.params), timeout=30)  # type: ignore[arg-type]
        return httpx.get(url, params=list(self.params), timeout=30)


def _unique(params: tuple[tuple[str, str], ...]) -> bool:
    return len({k for k, _ in params}) == len(params)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


def ask(path: str, *params: tuple[str, str], post: bool = False) -> Ask:
    return Ask(path, params, post)


def both(servers: Servers, request: Ask) -> tuple[httpx.Response, httpx.Response]:
    return request.send(servers.prometheus), request.send(servers.scalepilot)


def _envelope(resp: httpx.Response) -> dict[str, Any]:
    assert resp.headers["content-type"].split(";")[0] == "application/json", resp.headers
    body: dict[str, Any] = resp.json()
    return body


def _same_envelope(want: httpx.Response, got: httpx.Response) -> tuple[dict[str, Any], dict[str, Any]]:
    w, g = _envelope(want), _envelope(got)
    assert got.status_code == want.status_code, (want.text, got.text)
    assert sorted(g) == sorted(w), (w, g)
    assert g["status"] == w["status"]
    if w["status"] == "error":
        assert g["errorType"] == w["errorType"], (w, g)
    return w, g


def _label_sets(data: dict[str, Any]) -> list[dict[str, str]]:
    return sorted((row["metric"] for row in data["result"]), key=lambda m: sorted(m.items()))


# --- data that does not depend on the evaluator: exactly Prometheus's ----------------------
EXACT = [
    ask("query", ("query", "queue_length"), ("time", str(T_MID))),
    ask("query", ("query", 'queue_length{queue="mail"}'), ("time", f"{T_MID}.25")),
    ask("query", ("query", "http_requests_total"), ("time", _iso(T_MID))),
    ask("query", ("query", "queue_length"), ("time", str(T_END + 600))),  # past the lookback: empty
    ask("query", ("query", "1 + 1.5"), ("time", str(T_MID))),
    ask("query", ("query", '"some text"'), ("time", f"{T_MID}.5")),
    ask("query", ("query", "queue_length"), ("time", str(T_MID)), post=True),
    # Off the sample grid: Prometheus 2.x windows include their left edge, 3.x's do not.
    ask("query", ("query", "queue_length[1m]"), ("time", str(T_MID + 7))),
    ask("query_range", ("query", "queue_length"), ("start", str(T0)), ("end", str(T0 + 600)), ("step", "60")),
    ask("query_range", ("query", "queue_length"), ("start", _iso(T0)), ("end", _iso(T0 + 300)), ("step", "1m")),
    ask(
        "query_range",
        ("query", 'queue_length{queue="orders"}'),
        ("start", f"{T0}.5"),
        ("end", str(T0 + 120)),
        ("step", "7.5"),
        post=True,
    ),
    ask("query_range", ("query", "2"), ("start", str(T0)), ("end", str(T0 + 60)), ("step", "30s")),
    # time() answers the evaluation time: Prometheus's own reading of each time text.
    *(
        ask("query", ("query", "time()"), ("time", text))
        for text in (
            "1e9",
            ".5",
            "-1.5",
            "1700000000.0005",
            "1700000000.9996",
            "1700000000.123456",
            "0x1p30",
            "2023-11-14T22:13:20Z",
            "2023-11-14T22:13:20.123456789Z",
            "2023-11-14T22:13:20.5+02:00",
            "2023-11-14T22:13:20,25Z",
            "2023-11-14T2:13:20Z",
        )
    ),
    *(
        ask("query_range", ("query", "time()"), ("start", "1700000000.5"), ("end", "1700003600"), ("step", step))
        for step in ("1m30s", "0.75", "1h", "2m", "1e2")
    ),
    ask("series", ("match[]", "queue_length")),
    ask("series", ("match[]", 'http_requests_total{code="500"}'), ("match[]", '{queue="orders"}')),
    ask("series", ("match[]", "queue_length"), ("start", str(T0)), ("end", str(T_END))),
    ask("series", ("match[]", '{__name__=~"queue.*"}'), post=True),
    ask("labels"),
    ask("labels", ("match[]", "queue_length")),
    ask("labels", ("match[]", "http_requests_total"), post=True),
    ask("label/__name__/values"),
    ask("label/queue/values"),
    ask("label/code/values", ("match[]", 'http_requests_total{path="/a"}')),
    ask("label/nonexistent/values"),
]


@pytest.mark.parametrize("request_", EXACT, ids=lambda r: f"{'POST' if r.post else 'GET'} {r.path} {r.params}")
def test_answers_match_prometheus_exactly(servers: Servers, request_: Ask) -> None:
    want, got = _same_envelope(*both(servers, request_))
    assert want["status"] == "success"
    assert got == want


# --- computed queries: the same shape and label sets -------------------------------------
SHAPED = [
    ask("query", ("query", "sum by (code) (rate(http_requests_total[5m]))"), ("time", str(T_MID))),
    ask("query", ("query", "rate(http_requests_total[2m])"), ("time", _iso(T_MID + 0.5))),
    ask(
        "query_range",
        ("query", "sum(rate(http_requests_total[1m])) by (path)"),
        ("start", str(T0 + 307)),  # off the sample grid (left window edges differ in 2.x)
        ("end", str(T_END)),
        ("step", "1m"),
    ),
]


@pytest.mark.parametrize("request_", SHAPED, ids=lambda r: f"{r.path} {r.params[0][1]}")
def test_computed_answers_have_prometheus_shape(servers: Servers, request_: Ask) -> None:
    want, got = _same_envelope(*both(servers, request_))
    assert want["status"] == "success"
    assert sorted(got["data"]) == ["result", "resultType"]
    assert got["data"]["resultType"] == want["data"]["resultType"]
    assert _label_sets(got["data"]) == _label_sets(want["data"])
    key = "value" if want["data"]["resultType"] == "vector" else "values"
    for w_row, g_row in zip(
        sorted(want["data"]["result"], key=lambda r: sorted(r["metric"].items())),
        sorted(got["data"]["result"], key=lambda r: sorted(r["metric"].items())),
        strict=True,
    ):
        assert sorted(g_row) == sorted(w_row) == ["metric", key]
        w_points = [w_row[key]] if key == "value" else w_row[key]
        g_points = [g_row[key]] if key == "value" else g_row[key]
        assert [p[0] for p in g_points] == [p[0] for p in w_points]
        assert all(isinstance(p[1], str) for p in g_points)
        assert all(
            math.isclose(float(g[1]), float(w[1]), rel_tol=1e-9) for g, w in zip(g_points, w_points, strict=True)
        )


# --- parameter errors: Prometheus's words ---------------------------------------------------
PARAM_ERRORS = [
    ask("query", ("query", "up"), ("time", "yesterday")),
    ask("query", ("query", "up"), ("time", "2024-13-01T00:00:00Z")),
    ask("query", ("query", "up"), ("timeout", "soon")),
    ask("query_range", ("query", "up"), ("start", str(T0)), ("end", str(T_END))),
    ask("query_range", ("query", "up"), ("end", str(T_END)), ("step", "15")),
    ask("query_range", ("query", "up"), ("start", str(T0)), ("end", "later"), ("step", "15")),
    ask("query_range", ("query", "up"), ("start", str(T0)), ("end", str(T_END)), ("step", "0")),
    ask("query_range", ("query", "up"), ("start", str(T0)), ("end", str(T_END)), ("step", "-15s")),
    ask("query_range", ("query", "up"), ("start", str(T0)), ("end", str(T_END)), ("step", "fast")),
    ask("query_range", ("query", "up"), ("start", str(T_END)), ("end", str(T0)), ("step", "15")),
    # 11,001 points: one over the limit (11,000 intervals of 1 s fit, as in Prometheus).
    ask("query_range", ("query", "up"), ("start", str(T0)), ("end", str(T0 + 11_001)), ("step", "1")),
    ask("query_range", ("query", "up"), ("start", str(T0)), ("end", str(T0 + 11_001)), ("step", "1"), post=True),
    ask("series"),
    ask("series", ("match[]", '{job=""}')),
    ask("series", ("match[]", "up{a=}")),
    ask("series", ("match[]", "up"), ("start", "x")),
    ask("labels", ("match[]", '{a=~".*"}')),
    ask("label/queue/values", ("end", "never")),
]


@pytest.mark.parametrize("request_", PARAM_ERRORS, ids=lambda r: f"{r.path} {r.params}")
def test_parameter_errors_match_prometheus(servers: Servers, request_: Ask) -> None:
    want, got = _same_envelope(*both(servers, request_))
    assert want["status"] == "error" and want["errorType"] == "bad_data"
    assert got == want


def test_the_points_limit_is_inclusive(servers: Servers) -> None:
    """11,000 steps (11,001 points with both ends) are still answered."""
    request_ = ask("query_range", ("query", "1"), ("start", str(T0)), ("end", str(T0 + 11_000)), ("step", "1"))
    want, got = _same_envelope(*both(servers, request_))
    assert want["status"] == "success"
    assert got == want and len(got["data"]["result"][0]["values"]) == 11_001


# --- evaluation errors: Prometheus's status code and errorType --------------------------------
EVAL_ERRORS = [
    (ask("query", ("query", "sum(queue_length"), ("time", str(T_MID))), 400, "bad_data"),
    (ask("query", ("query", ""), ("time", str(T_MID))), 400, "bad_data"),
    (ask("query", ("query", "rate(queue_length)"), ("time", str(T_MID))), 400, "bad_data"),
    (ask("query_range", ("query", "sum(}"), ("start", str(T0)), ("end", str(T_END)), ("step", "60")), 400, "bad_data"),
    # Three series on each side share job="api": many-to-many matching, which Prometheus refuses.
    (
        ask("query", ("query", "http_requests_total + on(job) http_requests_total"), ("time", str(T_MID))),
        422,
        "execution",
    ),
]


@pytest.mark.parametrize(
    ("request_", "status", "kind"), EVAL_ERRORS, ids=lambda v: str(v.params) if isinstance(v, Ask) else ""
)
def test_evaluation_errors_match_prometheus(servers: Servers, request_: Ask, status: int, kind: str) -> None:
    want, got = _same_envelope(*both(servers, request_))
    assert (want["errorType"], got["errorType"]) == (kind, kind)
    assert isinstance(got["error"], str) and got["error"]
    if kind == "bad_data" and request_.path == "query":
        # Prometheus wraps parse errors of instant queries in the parameter's name.
        assert got["error"].startswith('invalid parameter "query": '), got["error"]


def test_a_query_over_its_timeout_is_a_503_timeout(servers: Servers) -> None:
    request_ = ask(
        "query_range",
        ("query", "rate(http_requests_total[5m])"),
        ("start", str(T0)),
        ("end", str(T_END)),
        ("step", "1"),
        ("timeout", "0.000000001"),  # Prometheus has no ns unit; a float works
    )
    want, got = _same_envelope(*both(servers, request_))
    assert want["errorType"] == got["errorType"] == "timeout"
    assert got.get("error")
