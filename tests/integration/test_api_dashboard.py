"""The dashboard's API against a real ``scalepilot run`` with a real exporter.

One service (``api``) is scraped from ``exporter.py healthy``, whose page makes exact
figures: per scrape its request counter grows 10 (code 200) + 1 (code 500), so the error
ratio is 1/11; its latency histogram grows 1 / 2 / 3 in the le=0.1 / 0.5 / +Inf buckets,
so p95 falls in the +Inf bucket and ``histogram_quantile`` answers the last finite bound,
0.5. It is scaled by a command that records the count. A second service (``gone``) only
has a TCP probe of a closed port: it must show as down. Covers the overview (figures,
sources, status and reasons), the charts (one time axis, decisions), health checks, the
event log and its filters, the scaling report in JSON and CSV, the live stream (an event
arrives after a scale, and SIGTERM ends open streams) and the 4xx answers.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Proc, free_port, start, start_exporter, wait_for

pytestmark = pytest.mark.slow

SCALE_CMD = Path(__file__).parent / "target_scale_cmd.py"


@dataclass
class Server:
    base: str
    proc: Proc
    data: Path

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", params=params, timeout=30)


def config(port: int, exporter_port: int, state: Path, dead_port: int) -> str:
    py = sys.executable
    return f"""
server: {{address: '127.0.0.1:{port}'}}
storage: {{data_dir: data}}
scrape: {{interval: 1s, timeout: 1s}}
probe: {{interval: 1s, timeout: 1s}}
host_stats: {{interval: 1s}}
dashboard: {{refresh: 1s}}
services:
  - name: api
    scrape:
      endpoints: [{{url: 'http://127.0.0.1:{exporter_port}/metrics'}}]
    probes:
      - {{type: http, name: alive, url: 'http://127.0.0.1:{exporter_port}/healthz'}}
    signals: {{requests_counter: demo_requests_total, latency_histogram: demo_latency_seconds}}
    target:
      type: command
      scale: ['{py}', '{SCALE_CMD}', scale, '{state}', '--replicas={{replicas}}']
      status: ['{py}', '{SCALE_CMD}', status, '{state}']
    autoscaling:
      min_replicas: 2
      max_replicas: 5
      interval: 1s
      metrics:
        - {{type: series, name: load, query: 'vector(1)', target_type: value, target: 10}}
  - name: gone
    probes:
      - {{type: tcp, name: port, address: '127.0.0.1:{dead_port}'}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("dashboard")
    exporter, exporter_port = start_exporter("healthy")
    state = tmp / "replicas"
    state.write_text("2")
    port = free_port()
    cfg = tmp / "scalepilot.yaml"
    cfg.write_text(config(port, exporter_port, state, free_port()))
    proc = start([sys.executable, "-m", "scalepilot", "run", "-c", str(cfg)])
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, timeout=30, what="scalepilot to be ready")
        yield Server(base, proc, tmp / "data")
    finally:
        proc.stop(signal.SIGTERM, timeout=30)
        exporter.stop()


def service(overview: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in overview["services"] if s["name"] == name)


def settled_overview(server: Server) -> dict[str, Any]:
    """Once the api's error ratio is measured: two scrapes inside the rate window."""

    def figures_in() -> dict[str, Any] | None:
        body = server.get("/api/v1/overview").json()
        api = service(body, "api")
        ok = api["figures"]["error_ratio"]["value"] is not None and api["replicas"] is not None
        return body if ok else None

    return wait_for(figures_in, timeout=30, what="the api's figures")


def test_overview_figures_are_measured_from_the_services_own_series(server: Server) -> None:
    body = settled_overview(server)
    api = service(body, "api")
    figures = api["figures"]
    assert figures["error_ratio"]["value"] == pytest.approx(1 / 11, rel=1e-6)
    assert figures["latency_p95_seconds"]["value"] == pytest.approx(0.5)
    assert figures["load_rps"]["value"] > 0
    assert {f["source"] for f in figures.values()} == {"measured"}
    assert 'demo_requests_total{service="api",code=~"5.."}' in figures["error_ratio"]["query"]
    assert api["targets"] == {"up": 1, "down": 0}
    assert api["replicas"]["desired"] == 2 and (api["replicas"]["min"], api["replicas"]["max"]) == (2, 5)
    assert api["autoscaling"]["mode"] == "hpa" and api["autoscaling"]["paused"] is False
    assert api["target"] == "command"


def test_a_service_whose_every_check_fails_is_down_with_the_reason(server: Server) -> None:
    def down() -> dict[str, Any] | None:
        gone = service(server.get("/api/v1/overview").json(), "gone")
        return gone if gone["status"] == "down" else None

    gone = wait_for(down, timeout=20, what="gone to show as down")
    assert gone["status_reasons"] == ["1 of 1 probes failing"]
    assert gone["status_details"] == [{"key": "probes_failing", "down": 1, "total": 1}]
    assert gone["replicas"] is None and gone["figures"]["load_rps"]["value"] is None
    counts = server.get("/api/v1/overview").json()["counts"]
    assert counts["down"] >= 1 and sum(counts.values()) == 2


def test_charts_share_one_time_axis_and_carry_measured_values(server: Server) -> None:
    settled_overview(server)

    def charted() -> dict[str, Any] | None:
        # The replica series is written by the overview's tick and lands with the store's
        # next flush, so it may trail the scraped series by a batch: wait for both.
        body = server.get("/api/v1/services/api/charts", range="15m").json()
        series = body["series"]
        both = any(v is not None for v in series["error_ratio"]) and any(
            v is not None for v in series["replicas_desired"]
        )
        return body if both else None

    body = wait_for(charted, timeout=20, what="a charted error ratio and replica count")
    assert body["step_seconds"] == 4 and body["range_seconds"] == 900
    n = len(body["timestamps"])
    assert n == 226
    assert all(len(col) == n for col in body["series"].values())
    assert body["timestamps"][1] - body["timestamps"][0] == 4
    values = [v for v in body["series"]["error_ratio"] if v is not None]
    assert values and all(v == pytest.approx(1 / 11, rel=1e-6) for v in values)
    assert [v for v in body["series"]["replicas_desired"] if v is not None][-1] >= 2
    assert set(body["series"]) >= {"load_rps", "latency_p50_seconds", "latency_p99_seconds", "cpu_cores"}
    assert "forecast_rps" not in body["series"]  # no predictive policy: no forecast line
    assert body["sources"]["load_rps"] == "measured"


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        ("/api/v1/services/api/charts", {"range": "1s"}, 422, "between 5m and 31d"),
        ("/api/v1/services/api/charts", {"range": "soon"}, 422, "range:"),
        ("/api/v1/services/nope/charts", {}, 404, "no service named 'nope'"),
        ("/api/v1/services/nope/health", {}, 404, "no service named 'nope'"),
        ("/api/v1/events", {"kind": "explosion"}, 422, "unknown event kind 'explosion'"),
        ("/api/v1/events", {"since": "yesterday-ish"}, 422, "neither a time"),
        ("/api/v1/events", {"limit": "0"}, 422, ""),
        ("/api/v1/report", {"format": "xml"}, 422, ""),
        ("/api/v1/report", {"service": "nope"}, 404, "no service named 'nope'"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_reason(
    server: Server, path: str, params: dict[str, str], status: int, needle: str
) -> None:
    resp = server.get(path, **params)
    assert resp.status_code == status, resp.text
    assert needle in json.dumps(resp.json()["detail"])


def test_health_lists_targets_and_probe_results(server: Server) -> None:
    def probed() -> dict[str, Any] | None:
        body = server.get("/api/v1/services/api/health").json()
        return body if body["probes"] and body["probes"][0]["history"] else None

    body = wait_for(probed, timeout=20, what="a probe result")
    assert [t["health"] for t in body["targets"]] == ["up"]
    assert body["probes"][0]["probe"] == "alive" and body["probes"][0]["history"][-1]["success"] is True
    gone = server.get("/api/v1/services/gone/health").json()
    assert gone["targets"] == [] and gone["replicas"] == []


def test_a_scale_reaches_the_stream_the_event_log_and_the_report(server: Server) -> None:
    with httpx.stream("GET", f"{server.base}/api/v1/stream", timeout=30) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: overview"
        assert json.loads(next(lines).removeprefix("data: "))["services"]
        done = httpx.post(
            f"{server.base}/api/v1/services/api/scale", json={"replicas": 3, "reason": "dashboard test"}, timeout=30
        )
        assert done.status_code == 200, done.text
        seen: list[dict[str, Any]] = []
        event = ""
        for line in lines:
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "event":
                seen.append(json.loads(line.removeprefix("data: ")))
                if seen[-1]["kind"] == "manual_scale":
                    break
        scaled = seen[-1]
        assert scaled["service"] == "api" and scaled["details"]["to"] == 3
        assert len({e["id"] for e in seen}) == len(seen)  # no event twice

    above = httpx.post(f"{server.base}/api/v1/services/api/scale", json={"replicas": 6, "reason": "x"}, timeout=30)
    assert above.status_code == 422 and "max_replicas (5)" in above.json()["detail"]

    logged = server.get("/api/v1/events", kind="manual_scale", service="api", since="10m").json()
    assert [e["id"] for e in logged] == [scaled["id"]]
    assert server.get("/api/v1/events", kind="manual_scale", until="10m").json() == []
    # A unix time in seconds is a time, not a duration ago.
    at_s = scaled["timestamp_ms"] / 1000
    assert [e["id"] for e in server.get("/api/v1/events", kind="manual_scale", since=str(at_s - 1)).json()] == [
        scaled["id"]
    ]
    assert server.get("/api/v1/events", kind="manual_scale", since=str(at_s + 1)).json() == []
    assert server.get("/api/v1/events", service="gone", kind="manual_scale").json() == []

    report = server.get("/api/v1/report", range="1h", service="api").json()
    (summary,) = report["services"]
    assert summary["manual"] == 1 and summary["scale_ups"] == 1 and summary["scaling_actions"] == 1
    assert summary["replica_hours"] > 0 and summary["covered_seconds"] > 0
    row = next(r for r in report["events"] if r["kind"] == "manual_scale")
    assert (row["from"], row["to"], row["reason"]) == (2, 3, "dashboard test")
    # Usage and headroom come with it (the minutes may all be younger than the server's
    # first whole minute, so only the shape and the configured ceiling are sure here);
    # projections are the CLI's.
    assert "traffic_rps" in summary["usage"] and summary["headroom"]["ceiling"] == 5
    assert summary["projections"] == [] and summary["cost"] is None
    assert isinstance(summary["recommendations"], list)
    priced = server.get("/api/v1/report", range="1h", service="api", price="2").json()["services"][0]
    assert priced["cost"]["cost"] == pytest.approx(priced["replica_hours"] * 2)
    assert server.get("/api/v1/report", range="1h", price="-1").status_code == 422
    md = server.get("/api/v1/report", range="1h", service="api", format="markdown")
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.headers["content-disposition"].endswith('.md"')
    assert md.text.startswith("# Scaling report") and "## api: autoscaling" in md.text

    resp = server.get("/api/v1/report", range="1h", format="csv")
    assert resp.headers["content-type"].startswith("text/csv")
    assert resp.headers["content-disposition"].startswith('attachment; filename="scalepilot-report-')
    rows = list(csv.reader(io.StringIO(resp.text)))
    assert rows[0] == ["time", "service", "kind", "from", "to", "actor", "reason"]
    assert ["api", "manual_scale", "2", "3", "api", "dashboard test"] in [r[1:] for r in rows[1:]]


def test_the_dashboard_page_is_served_under_the_strict_csp(server: Server) -> None:
    page = server.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    assert server.get("/ui/no-such-file.js").status_code == 404


def test_sigterm_ends_open_streams_and_scalepilot_exits_cleanly(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "scalepilot.yaml"
    cfg.write_text(f"server: {{address: '127.0.0.1:{port}'}}\nstorage: {{data_dir: data}}\n")
    proc = start([sys.executable, "-m", "scalepilot", "run", "-c", str(cfg)])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), timeout=30, what="scalepilot to serve")
        with httpx.stream("GET", f"{base}/api/v1/stream", timeout=30) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: overview"
            proc.popen.send_signal(signal.SIGTERM)
            rest = list(lines)  # ends when the server closes the stream
            assert all(not line.startswith("event: ") or line == "event: overview" for line in rest)
        assert proc.popen.wait(timeout=30) == 0
    finally:
        proc.stop(signal.SIGKILL)


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
