"""An external Prometheus as the metric source of scaling.

Covers: the ``metrics_source`` settings (embedded by default; a prometheus source's URL,
headers and secrets from ``{env}``, ``NAME_FILE`` and ``{file}``, resolved at start and
never shown; bad URLs, reserved headers and a doubled Authorization refused); ``series``
queries may be PromQL expressions but not range vectors or strings; the client against a
scripted loopback server: a form-encoded POST with Prometheus's own ``timeout``, vector /
matrix / scalar answers decoded, transient failures (503, refused connections, no answer
within the timeout) retried with backoff and then reported as the source being down with
the reason, permanent ones (401, an HTML page) not retried, a query Prometheus rejects
reported with its errorType while the source stays up, and the source coming back up;
each outage one ``metric_source_down`` event (and ``metric_source_up`` when it ends) and
``scalepilot_metric_source_up`` 0 then 1; ``scalepilot check`` naming the file:line of a
bad series expression;
and end to end with Debian's real Prometheus scraping a loopback exporter: scalepilot
scales a command target on a ``series`` expression read from it, shows the source in
``/status``, keeps the replicas (a missing reading, no scale-down, the reason saying the
source is down) while Prometheus is killed, reports it down in ``/status``, the service's
description, ``scalepilot_metric_source_up`` and a ``metric_source_down`` event, and
scales down once it is back (and a ``metric_source_up`` event).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from scalepilot.adapters.prometheus import PrometheusDown, PrometheusRejected, PrometheusSource
from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.loader import ConfigError, load_text
from scalepilot.config.metrics_source import PrometheusSourceSettings, SecretError
from scalepilot.config.models import StorageSettings
from scalepilot.domain.events import EventKind
from scalepilot.domain.labels import make_labels
from scalepilot.domain.query import ResultType
from scalepilot.service.metric_source import SourceCollector, source_events
from tests.support import Proc, free_port, require_binary, start, wait_for

HERE = Path(__file__).parent


# --- config ------------------------------------------------------------------------------
def _config(source: str) -> str:
    return f"metrics_source: {source}\nservices: []\n"


def test_default_is_the_embedded_store() -> None:
    assert load_text("services: []\n").metrics_source.type == "embedded"
    assert load_text(_config("{type: embedded}")).metrics_source.type == "embedded"


def test_prometheus_settings_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_text(
        _config(
            "{type: prometheus, url: 'http://prom:9090/prefix/', timeout: 2s, retries: 1,"
            " headers: {X-Scope-OrgID: team-a, X-Key: {file: key.txt}}, bearer_token: {env: PROM_TOKEN}}"
        )
    ).metrics_source
    assert isinstance(cfg, PrometheusSourceSettings)
    assert (cfg.url, cfg.timeout, cfg.retries, cfg.backoff) == ("http://prom:9090/prefix", 2.0, 1, 0.25)
    (tmp_path / "key.txt").write_text("k3y\n")
    monkeypatch.setenv("PROM_TOKEN", "s3cret")
    assert cfg.resolve_headers(tmp_path) == {
        "X-Scope-OrgID": "team-a",
        "X-Key": "k3y",
        "Authorization": "Bearer s3cret",
    }
    # NAME unset: NAME_FILE names the file (container secrets).
    monkeypatch.delenv("PROM_TOKEN")
    (tmp_path / "token").write_text("from-file\n")
    monkeypatch.setenv("PROM_TOKEN_FILE", str(tmp_path / "token"))
    assert cfg.resolve_headers(tmp_path)["Authorization"] == "Bearer from-file"
    monkeypatch.delenv("PROM_TOKEN_FILE")
    with pytest.raises(SecretError, match=r"neither \$PROM_TOKEN nor \$PROM_TOKEN_FILE is set"):
        cfg.resolve_headers(tmp_path)
    (tmp_path / "key.txt").unlink()
    monkeypatch.setenv("PROM_TOKEN", "s3cret")
    with pytest.raises(SecretError, match=r"key\.txt") as err:
        cfg.resolve_headers(tmp_path)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{type: prometheus, url: 'ftp://prom'}", "must be an http:// or https:// URL with a host"),
        ("{type: prometheus, url: 'http://prom:9090/?x=1'}", "must not have a query string"),
        ("{type: prometheus, url: 'http://p', headers: {Host: x}}", "header 'Host' is set by scalepilot itself"),
        ("{type: prometheus, url: 'http://p', headers: {'a b': x}}", "'a b' is not an HTTP header name"),
        (
            "{type: prometheus, url: 'http://p', headers: {Authorization: x}, bearer_token: {env: T}}",
            "give bearer_token or an Authorization header, not both",
        ),
        ("{type: prometheus, url: 'http://p', bearer_token: {env: T, file: f}}", "give exactly one of env and file"),
        ("{type: prometheus, url: 'http://p', retries: 11}", "less than or equal to 10"),
        ("{type: graphite}", "unknown type 'graphite'"),
    ],
)
def test_bad_source_settings(source: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_text(_config(source))
    assert any(message in issue.message for issue in err.value.issues), err.value.issues


def _scaled(query: str) -> str:
    return f"""
services:
  - name: w
    target: {{type: command, scale: [echo, '{{replicas}}']}}
    autoscaling:
      max_replicas: 5
      metrics: [{{type: series, name: q, query: '{query}', target: 10}}]
"""


def test_series_queries_are_promql_expressions_not_ranges() -> None:
    load_text(_scaled('sum(rate(jobs_total{queue="orders"}[1m])) / 2'))
    load_text(_scaled("scalar(count(up))"))
    for query, kind in (("jobs_total[5m]", "range vector"), ("(x[5m:1m])", "range vector"), ('"text"', "string")):
        with pytest.raises(ConfigError) as err:
            load_text(_scaled(query))
        assert f"the query returns a {kind}" in err.value.issues[0].message


def test_check_points_at_the_bad_expression(tmp_path: Path) -> None:
    """``scalepilot check`` parses every series query and names its file:line:column."""
    config = tmp_path / "scalepilot.yaml"
    config.write_text(
        _scaled("sum(rate(jobs_total[1m])") + "  - name: v\n" + _scaled("jobs_total[5m]").split("  - name: w\n")[1]
    )
    res = subprocess.run(
        [sys.executable, "-m", "scalepilot", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert (
        lines[0].startswith(f"{config}:7:")
        and "metrics[0].query: invalid PromQL: unclosed left parenthesis" in lines[0]
    )
    assert lines[1].startswith(f"{config}:12:") and "the query returns a range vector" in lines[1], lines


# --- the client against a scripted server -------------------------------------------------
class Script:
    """A loopback HTTP server answering each request with the next scripted reply."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, str, float]] = []
        self.requests: list[dict[str, Any]] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length).decode()
                script.requests.append(
                    {"path": self.path, "form": parse_qs(body), "headers": dict(self.headers.items())}
                )
                status, text, delay = script.replies.pop(0) if script.replies else (500, "no reply scripted", 0)
                time.sleep(delay)
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, status: int, body: Any, delay: float = 0.0) -> None:
        self.replies.append((status, body if isinstance(body, str) else json.dumps(body), delay))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def script() -> Iterator[Script]:
    s = Script()
    yield s
    s.close()


def ok(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


VECTOR = {
    "resultType": "vector",
    "result": [
        {"metric": {"__name__": "q", "replica": "0"}, "value": [1700000000.5, "30"]},
        {"metric": {"__name__": "q", "replica": "1"}, "value": [1700000000.5, "NaN"]},
    ],
}


async def test_query_is_a_form_post_and_answers_decode(script: Script) -> None:
    src = PrometheusSource(script.url + "/", timeout_s=2, headers={"Authorization": "Bearer t0k"})
    script.reply(200, ok(VECTOR))
    script.reply(
        200, ok({"resultType": "matrix", "result": [{"metric": {"a": "b"}, "values": [[1, "1"], [2.5, "+Inf"]]}]})
    )
    script.reply(200, {**ok({"resultType": "scalar", "result": [1700000000, "4.5"]}), "warnings": ["careful"]})
    try:
        result = await src.query('sum by (replica) (q{x="y"})', 1_700_000_000_500)
        assert result.type is ResultType.VECTOR
        assert [(s.labels, s.timestamp_ms) for s in result.vector] == [
            (make_labels("q", {"replica": "0"}), 1_700_000_000_500),
            (make_labels("q", {"replica": "1"}), 1_700_000_000_500),
        ]
        assert result.vector[0].value == 30 and result.vector[1].value != result.vector[1].value
        req = script.requests[0]
        assert req["path"] == "/api/v1/query"
        assert req["form"] == {"query": ['sum by (replica) (q{x="y"})'], "time": ["1700000000.5"], "timeout": ["2"]}
        assert req["headers"]["Authorization"] == "Bearer t0k"

        matrix = await src.query_range("x", 1000, 2500, 1500)
        assert script.requests[1]["path"] == "/api/v1/query_range"
        assert script.requests[1]["form"]["step"] == ["1.5"] and script.requests[1]["form"]["start"] == ["1"]
        assert matrix.matrix[0].timestamps.tolist() == [1000, 2500]
        assert matrix.matrix[0].values.tolist() == [1.0, float("inf")]

        scalar = await src.query("4.5", 0)
        assert scalar.scalar == (1_700_000_000_000, 4.5) and scalar.warnings == ("careful",)
        status = src.status()
        assert status["health"] == "up" and status["queries"] == 3 and status["headers"] == ["Authorization"]
        assert "t0k" not in json.dumps(status)
    finally:
        await src.aclose()


async def test_transient_failures_are_retried_then_reported_down(script: Script) -> None:
    src = PrometheusSource(script.url, timeout_s=0.5, retries=2, backoff_s=0.05)
    try:
        script.reply(503, "Service Unavailable")
        script.reply(502, "<html>bad gateway</html>")
        script.reply(200, ok(VECTOR))
        await src.query("q", 0)
        assert len(script.requests) == 3
        assert src.health.health == "up"

        for _ in range(3):
            script.reply(200, ok(VECTOR), delay=1.5)  # slower than the timeout, every time
        with pytest.raises(PrometheusDown) as err:
            await src.query("q", 0)
        assert err.value.kind == "unavailable" and err.value.transient
        assert (
            str(err.value)
            == f"prometheus at {script.url} is down: no answer within the 0.5s timeout (after 3 attempts)"
        )
        st = src.status()
        assert st["health"] == "down" and st["last_error"] == "no answer within the 0.5s timeout (after 3 attempts)"

        script.reply(200, ok(VECTOR))
        await src.query("q", 0)
        assert src.status()["health"] == "up" and src.status()["last_error"] == ""
    finally:
        await src.aclose()


async def test_refused_connection_is_down_with_the_reason() -> None:
    src = PrometheusSource(f"http://127.0.0.1:{free_port()}", timeout_s=1, retries=1, backoff_s=0.01)
    try:
        with pytest.raises(PrometheusDown, match="connection refused \\(after 2 attempts\\)"):
            await src.query("up", 0)
        assert src.health.health == "down" and src.health.failures == 1
    finally:
        await src.aclose()


async def test_permanent_failures_are_not_retried(script: Script) -> None:
    src = PrometheusSource(script.url, timeout_s=1, retries=3, backoff_s=0.01)
    try:
        script.reply(401, "Unauthorized")
        with pytest.raises(PrometheusDown, match="HTTP 401: Unauthorized") as err:
            await src.query("up", 0)
        assert not err.value.transient and len(script.requests) == 1
        script.reply(200, "<html><body>Please log in</body></html>")
        with pytest.raises(PrometheusDown, match="not Prometheus API JSON: <html><body>Please log in"):
            await src.query("up", 0)
        assert len(script.requests) == 2 and src.health.health == "down"
    finally:
        await src.aclose()


async def test_a_rejected_query_keeps_the_source_up(script: Script) -> None:
    src = PrometheusSource(script.url, timeout_s=1, retries=3, backoff_s=0.01)
    try:
        message = '1:5: parse error: unexpected "}"'
        script.reply(400, {"status": "error", "errorType": "bad_data", "error": message})
        with pytest.raises(PrometheusRejected) as err:
            await src.query("sum(}", 0)
        assert (err.value.kind, str(err.value), len(script.requests)) == ("bad_data", message, 1)
        script.reply(422, {"status": "error", "errorType": "execution", "error": "many-to-many matching"})
        with pytest.raises(PrometheusRejected) as err:
            await src.query("a + b", 0)
        assert err.value.kind == "execution"
        assert src.health.health == "up"
    finally:
        await src.aclose()


async def test_outages_are_events_and_self_metrics(script: Script, tmp_path: Path) -> None:
    """Down after the retries: one metric_source_down event with the reason and
    scalepilot_metric_source_up 0; back: one metric_source_up event and 1. The first
    answer of a fresh source is not news."""
    registry = CollectorRegistry()
    with SQLiteStore.open(tmp_path, StorageSettings()) as store:
        src = PrometheusSource(script.url, timeout_s=1, retries=0, on_health_change=source_events(store))
        registry.register(SourceCollector(src))
        try:
            assert "scalepilot_metric_source_up{" not in generate_latest(registry).decode()  # unknown yet
            script.reply(200, ok(VECTOR))
            await src.query("q", 0)
            script.reply(503, "overloaded")
            with pytest.raises(PrometheusDown):
                await src.query("q", 0)
            script.reply(503, "still overloaded")
            with pytest.raises(PrometheusDown):
                await src.query("q", 0)  # still down: no second event
            labels = f'source="prometheus at {script.url}",type="prometheus"'
            metrics = generate_latest(registry).decode()
            assert f"scalepilot_metric_source_up{{{labels}}} 0.0" in metrics
            assert f"scalepilot_metric_source_failures_total{{{labels}}} 2.0" in metrics
            script.reply(200, ok(VECTOR))
            await src.query("q", 0)
            metrics = generate_latest(registry).decode()
            assert f"scalepilot_metric_source_up{{{labels}}} 1.0" in metrics
            assert f"scalepilot_metric_source_queries_total{{{labels}}} 4.0" in metrics
        finally:
            await src.aclose()
        events = store.events(kinds=[EventKind.METRIC_SOURCE_DOWN, EventKind.METRIC_SOURCE_UP])
    assert [e.kind for e in events] == ["metric_source_up", "metric_source_down"]  # newest first
    assert events[1].details == {"source": f"prometheus at {script.url}", "error": "HTTP 503: overloaded"}
    assert "series metrics are missing (no scale-down on them)" in events[1].message


# --- end to end with the real Prometheus ----------------------------------------------------
def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _status(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/status", timeout=5).json()
    return body


def _source_up(base: str) -> str | None:
    """The value of scalepilot_metric_source_up in scalepilot's own /metrics."""
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith("scalepilot_metric_source_up{"):
            return line.rsplit(" ", 1)[1].removesuffix(".0")
    return None


def _event_kinds(tmp_path: Path) -> list[str]:
    """Kinds of the metric-source events, newest first, read from the data directory as
    ``scalepilot events`` reads it (next to the running server)."""
    res = subprocess.run(
        [
            *(sys.executable, "-m", "scalepilot", "events", "--data-dir", str(tmp_path / "data"), "-o", "json"),
            *("--kind", "metric_source_down", "--kind", "metric_source_up"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [e["kind"] for e in json.loads(res.stdout)]


def _explain(tmp_path: Path) -> list[dict[str, Any]]:
    res = subprocess.run(
        [sys.executable, "-m", "scalepilot", "explain", "worker", "--data-dir", str(tmp_path / "data"), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    decisions: list[dict[str, Any]] = json.loads(res.stdout)
    return decisions


def _replicas(state: Path) -> str:
    return state.read_text().strip() if state.exists() else ""


def _start_prometheus(binary: str, tmp_path: Path, port: int) -> Proc:
    proc = start(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
    )
    wait_for(lambda: _get_ok(f"http://127.0.0.1:{port}/-/ready"), timeout=30, what="Prometheus to be ready")
    return proc


@pytest.mark.prometheus
@pytest.mark.slow
def test_scaling_reads_series_from_prometheus_and_rides_out_its_outage(tmp_path: Path) -> None:
    binary = require_binary("prometheus")
    prom_port, exporter_port, sp_port = free_port(), free_port(), free_port()
    pages = tmp_path / "pages"
    pages.mkdir()
    page = pages / "metrics"
    page.write_text('# TYPE queue_length gauge\nqueue_length{queue="orders"} 100\nqueue_length{queue="mail"} 7\n')
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 900ms}\n"
        f"scrape_configs:\n  - job_name: queues\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
    )
    state = tmp_path / "replicas"
    helper = str(HERE / "target_scale_cmd.py")
    (tmp_path / "scalepilot.yaml").write_text(
        f"""
server: {{address: '127.0.0.1:{sp_port}'}}
storage: {{data_dir: data, flush_interval: 200ms}}
host_stats: {{enabled: false}}
metrics_source:
  type: prometheus
  url: http://127.0.0.1:{prom_port}
  timeout: 1s
  retries: 1
  backoff: 100ms
  bearer_token: {{env: SP_TEST_PROM_TOKEN}}
services:
  - name: worker
    target:
      type: command
      scale: ['{sys.executable}', '{helper}', scale, '{state}', '--replicas={{replicas}}']
      status: ['{sys.executable}', '{helper}', status, '{state}']
      replicas: 1
    autoscaling:
      min_replicas: 1
      max_replicas: 6
      interval: 1s
      metrics:
        - type: series
          name: queue
          query: 'sum(queue_length{{queue="orders"}})'
          target_type: average_value
          target: 20
      behavior:
        scaleDown: {{stabilizationWindowSeconds: 0}}
"""
    )
    base = f"http://127.0.0.1:{sp_port}"
    exporter = start(
        [sys.executable, "-m", "http.server", str(exporter_port), "--bind", "127.0.0.1", "--directory", str(pages)]
    )
    prom: Proc | None = None
    sp: Proc | None = None
    try:
        wait_for(lambda: _get_ok(f"http://127.0.0.1:{exporter_port}/metrics"), timeout=10, what="the exporter")
        prom = _start_prometheus(binary, tmp_path, prom_port)
        sp = start(
            [sys.executable, "-m", "scalepilot", "run", "-c", str(tmp_path / "scalepilot.yaml")],
            env={"SP_TEST_PROM_TOKEN": "t0ken"},
        )
        wait_for(lambda: _get_ok(f"{base}/ready"), timeout=30, what="scalepilot to be ready")

        # 100 jobs at 20 per replica: five replicas, read through Prometheus.
        wait_for(lambda: _replicas(state) == "5", timeout=30, what="a scale-up to 5 on the queue from Prometheus")
        source = _status(base)["metrics_source"]
        assert source["type"] == "prometheus" and source["health"] == "up" and source["failures"] == 0
        assert source["url"] == f"http://127.0.0.1:{prom_port}" and source["headers"] == ["Authorization"]
        assert "t0ken" not in json.dumps(_status(base))

        assert _source_up(base) == "1"

        # Prometheus dies; the queue drains meanwhile (scalepilot cannot see that).
        prom.stop(signal.SIGKILL)
        prom = None
        page.write_text('# TYPE queue_length gauge\nqueue_length{queue="orders"} 20\n')
        down = wait_for(
            lambda: (s := _status(base)["metrics_source"])["health"] == "down" and s,
            timeout=15,
            what="the source to be reported down",
        )
        assert "connection refused" in down["last_error"] and "after 2 attempts" in down["last_error"]
        assert down["since"] is not None
        assert _source_up(base) == "0"

        def decision() -> dict[str, Any]:
            service = httpx.get(f"{base}/api/v1/services/worker", timeout=5).json()
            last: dict[str, Any] = service["autoscaling"]["last_decision"]
            return last

        first = wait_for(
            lambda: (d := decision())["metrics"][0]["value"] is None and d,
            timeout=10,
            what="a decision without the reading",
        )
        # Three more ticks on missing data: each keeps the five replicas.
        seen: list[dict[str, Any]] = []

        def three_more_ticks() -> bool:
            seen.append(decision())
            return seen[-1]["time"] >= first["time"] + 3

        wait_for(three_more_ticks, timeout=15, what="three more autoscaler ticks")
        for last in [first, *seen]:
            assert last["metrics"][0]["value"] is None and last["replicas"] == 5 and not last["change"], last
            assert (
                f"metric source prometheus at http://127.0.0.1:{prom_port} down: no reading for queue" in last["reason"]
            )
        assert _replicas(state) == "5"
        service = httpx.get(f"{base}/api/v1/services/worker", timeout=5).json()
        assert "connection refused" in service["autoscaling"]["missing_series"]["queue"]

        def outage_explained() -> list[dict[str, Any]]:
            decisions = _explain(tmp_path)
            return [d for d in decisions if "down: no reading for queue" in d["reason"]]

        explained = wait_for(outage_explained, timeout=10, what="scalepilot explain to show the outage")
        assert all(d["replicas"] == 5 and not d["change"] for d in explained), explained

        # Back: the drained queue is seen and the service scales down.
        prom = _start_prometheus(binary, tmp_path, prom_port)
        wait_for(lambda: _status(base)["metrics_source"]["health"] == "up", timeout=20, what="the source to recover")
        wait_for(lambda: _replicas(state) == "1", timeout=20, what="a scale-down to 1 once Prometheus is back")
        assert _source_up(base) == "1"
        kinds = wait_for(
            lambda: (k := _event_kinds(tmp_path)).count("metric_source_up") == 1 and k,
            timeout=10,
            what="the events to be flushed",
        )
        assert kinds.count("metric_source_down") == 1, kinds
        assert kinds.index("metric_source_down") > kinds.index("metric_source_up")  # newest first
    finally:
        if sp is not None:
            assert sp.stop(signal.SIGTERM) == 0
        if prom is not None:
            prom.stop(signal.SIGTERM)
        exporter.stop(signal.SIGKILL)
