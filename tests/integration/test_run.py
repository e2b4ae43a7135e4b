"""``scalepilot run`` as a real process against real exporters on loopback.

Covers: /health, /ready (only after the first scrape round), /metrics (own metrics),
/status; a healthy target up with its samples stored; a garbage page, a target that hangs
past its timeout, one that answers 500 and one that disappears mid-run each marked down
with the reason while the healthy target keeps its cadence; HTTP and TCP probes with
state-change events; SIGTERM drains and flushes so the stored data is readable after;
`scalepilot targets`, `series` and `events` against the running instance and its data;
``kill -9`` mid-ingest loses at most one flush interval and the next start is clean.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.matchers import name_matcher
from tests.support import Proc, free_port, start, start_exporter, wait_for

SCALEPILOT = [sys.executable, "-m", "scalepilot"]


@pytest.fixture
def exporters() -> Iterator[dict[str, tuple[Proc, int]]]:
    procs = {mode: start_exporter(mode) for mode in ("healthy", "garbage", "hang", "error")}
    procs["vanishing"] = start_exporter("healthy")
    yield procs
    for proc, _ in procs.values():
        proc.stop(signal.SIGKILL)


def write_config(tmp_path: Path, ports: dict[str, int], server_port: int, closed_port: int) -> Path:
    endpoints = "\n".join(
        f"        - {{url: 'http://127.0.0.1:{port}/metrics', replica: '{name}'}}" for name, port in ports.items()
    )
    text = f"""
server: {{address: '127.0.0.1:{server_port}'}}
storage: {{data_dir: data, flush_interval: 200ms}}
scrape: {{interval: 1s, timeout: 500ms}}
probe: {{interval: 1s, timeout: 500ms}}
host_stats: {{interval: 1s}}
services:
  - name: demo
    labels: {{team: t1}}
    scrape:
      endpoints:
{endpoints}
    probes:
      - {{type: http, name: healthz, url: 'http://127.0.0.1:{ports["healthy"]}/healthz', body_regex: ok}}
      - {{type: http, name: broken, url: 'http://127.0.0.1:{ports["error"]}/metrics'}}
      - {{type: tcp, name: closed, address: '127.0.0.1:{closed_port}'}}
"""
    path = tmp_path / "scalepilot.yaml"
    path.write_text(text)
    return path


def get_status(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/status", timeout=5).json()
    return body


def by_replica(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["replica"]: t for t in status["targets"]}


@pytest.mark.slow
def test_run_scrapes_probes_and_reports_each_failure(tmp_path: Path, exporters: dict[str, tuple[Proc, int]]) -> None:
    server_port, closed_port = free_port(), free_port()
    config = write_config(tmp_path, {name: port for name, (_, port) in exporters.items()}, server_port, closed_port)
    base = f"http://127.0.0.1:{server_port}"
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        proc.wait_line("scalepilot", timeout=20)

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert httpx.get(f"{base}/health", timeout=2).text == "ok\n"
        wait_for(ready, timeout=10, what="/ready to answer 200")

        def settled() -> dict[str, dict[str, Any]] | None:
            t = by_replica(get_status(base))
            ok = (
                t["healthy"]["health"] == "up"
                and t["garbage"]["health"] == "down"
                and t["hang"]["health"] == "down"
                and t["error"]["health"] == "down"
                and t["vanishing"]["health"] == "up"
            )
            return t if ok else None

        t = wait_for(settled, timeout=10, what="targets to settle")
        assert t["healthy"]["samples"] == 9 and t["healthy"]["last_error"] == ""
        assert t["garbage"]["last_error"].startswith("line 1: ")
        assert "timeout" in t["hang"]["last_error"]
        assert "500" in t["error"]["last_error"] and "database is on fire" in t["error"]["last_error"]

        # One target disappears mid-run: it goes down with a reason, the others go on.
        vanishing, _ = exporters["vanishing"]
        vanishing.stop(signal.SIGKILL)
        before = by_replica(get_status(base))["healthy"]["scrapes"]
        t = wait_for(
            lambda: (s := by_replica(get_status(base)))["vanishing"]["health"] == "down" and s,
            timeout=10,
            what="the vanished target to be marked down",
        )
        assert "refused" in t["vanishing"]["last_error"]
        # The hanging target costs a 500 ms timeout every round; the healthy one must
        # still be scraped once per 1 s interval, not held back by it.
        wait_for(
            lambda: by_replica(get_status(base))["healthy"]["scrapes"] >= before + 3,
            timeout=6,
            what="the healthy target to keep its cadence",
        )

        probes = {p["probe"]: p for p in get_status(base)["probes"]}
        assert probes["healthz"]["health"] == "up"
        assert probes["broken"]["health"] == "down" and "500" in probes["broken"]["last_error"]
        assert probes["closed"]["health"] == "down" and "refused" in probes["closed"]["last_error"]

        own = httpx.get(f"{base}/metrics", timeout=5).text
        for name in (
            "scalepilot_scrape_duration_seconds_bucket",
            "scalepilot_samples_ingested_total",
            "scalepilot_store_bytes",
            "scalepilot_loop_lag_seconds_count",
            "scalepilot_scrape_failures_total",
            "process_resident_memory_bytes",
        ):
            assert name in own, name
        assert 'reason="parse"' in own and 'reason="timeout"' in own and 'reason="http_status"' in own

        targets_out = subprocess.run(
            [*SCALEPILOT, "targets", "--url", base, "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert {t["replica"]: t["health"] for t in json.loads(targets_out.stdout)}["garbage"] == "down"
    finally:
        code = proc.stop(signal.SIGTERM)
    assert code == 0

    # After a clean stop everything scraped is on disk and readable without a server.
    out = subprocess.run(
        [*SCALEPILOT, "series", 'up{service="demo"}', "--data-dir", str(tmp_path / "data"), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    ups = {row["metric"]["replica"]: row["value"] for row in json.loads(out.stdout)}
    assert ups == {"healthy": "1", "garbage": "0", "hang": "0", "error": "0", "vanishing": "0"}

    out = subprocess.run(
        [
            *SCALEPILOT,
            "series",
            'demo_requests_total{replica="healthy"}',
            "--data-dir",
            str(tmp_path / "data"),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rows = json.loads(out.stdout)
    assert {r["metric"]["code"] for r in rows} == {"200", "500"}
    assert all(r["metric"]["job"] == "demo" and r["metric"]["team"] == "t1" for r in rows)

    out = subprocess.run(
        [*SCALEPILOT, "events", "--data-dir", str(tmp_path / "data"), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    events = json.loads(out.stdout)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "stopped" and kinds[-1] == "started"
    down = {e["details"]["replica"]: e["details"]["error"] for e in events if e["kind"] == "target_down"}
    assert set(down) == {"garbage", "hang", "error", "vanishing"}
    assert "refused" in down["vanishing"]
    assert {e["details"]["probe"] for e in events if e["kind"] == "probe_down"} == {"broken", "closed"}


@pytest.mark.slow
def test_kill_9_loses_at_most_the_last_flush_and_restarts_cleanly(tmp_path: Path) -> None:
    """``kill -9`` of scalepilot mid-ingest: the store opens sound, holds every scrape up
    to one flush interval before the kill, and scalepilot starts again on it."""
    exporter, port = start_exporter("healthy")
    server_port = free_port()
    config = tmp_path / "scalepilot.yaml"
    config.write_text(
        f"server: {{address: '127.0.0.1:{server_port}'}}\n"
        "storage: {data_dir: data, flush_interval: 500ms}\n"
        "scrape: {interval: 200ms, timeout: 200ms}\nhost_stats: {enabled: false}\n"
        f"services:\n  - name: api\n    scrape: {{endpoints: [{{url: 'http://127.0.0.1:{port}/metrics'}}]}}\n"
    )
    base = f"http://127.0.0.1:{server_port}"
    try:
        proc = start([*SCALEPILOT, "run", "-c", str(config)])
        wait_for(
            lambda: _status_or_none(base) and get_status(base)["targets"][0]["scrapes"] >= 15,
            timeout=30,
            what="15 scrapes",
        )
        last_seen = get_status(base)["targets"][0]["last_scrape_ms"]
        proc.stop(signal.SIGKILL)

        store = SQLiteStore.open(tmp_path / "data", StorageSettings())
        try:
            assert store.integrity_check() == []
            (up,) = store.select([name_matcher("up")], 0, 2**62)
        finally:
            store.close()
        # No scrape in the middle is missing (ticks are 200 ms apart; a slow machine may
        # skip one), and what the kill cost is at most the bound of 1 s of data
        # (flush interval 500 ms + the scrape in flight) before the last scrape /status
        # reported, which itself happened before the kill.
        assert np.all(np.diff(up.timestamps) <= 600)
        assert last_seen - int(up.timestamps[-1]) <= 1000

        again = start([*SCALEPILOT, "run", "-c", str(config)])
        try:
            wait_for(lambda: _status_or_none(base) and get_status(base)["ready"], timeout=30, what="a clean restart")
        finally:
            assert again.stop(signal.SIGTERM) == 0
    finally:
        exporter.stop(signal.SIGKILL)


def _status_or_none(base: str) -> bool:
    try:
        return httpx.get(f"{base}/status", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
