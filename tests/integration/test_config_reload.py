"""Reloading scalepilot.yaml in a running scalepilot (``SIGHUP``, ``POST /-/reload``).

Covers, with a real scalepilot and a local target of real child processes:

- SIGHUP applies an edited ``autoscaling`` block at once: the new minimum is acted on
  (the service scales from 1 to 2 replicas) and the new interval is used, while the
  running replica keeps its process (no restart of the target) and the engine keeps its
  state; a new ``scrape.interval`` restarts the replicas' scrapes on it; a changed
  ``storage.flush_interval`` is named as needing a restart, not applied; a
  ``config_reloaded`` event says both;
- ``POST /-/reload`` (and ``scalepilot reload``) with a broken file is refused (422,
  exit 1) with the problem as file:line:column, the running policy is kept, and
  ``scalepilot_config_last_reload_successful`` drops to 0; a later good reload
  restores it and lists the applied key;
- removing the ``autoscaling`` block stops the autoscaler; scaling by hand still works;
- a service with a local target added by a reload starts its replica and autoscaler
  (refused, and nothing started, when its balancer cannot listen);
  removed, its replica's process is stopped and the API no longer knows it;
- watched services (no target) added and removed by ``scalepilot reload``, with a real exporter: the
  removed one's ``up`` ends at once (stale marker, not the 5-minute lookback), the added
  one is scraped and probed, and ``/status`` and the dashboard's overview list only it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.integration.targets_helpers import child_command
from tests.support import free_port, instant_query, start, start_exporter, wait_for

SCALEPILOT = [sys.executable, "-m", "scalepilot"]


def config_text(port: int, *, autoscaling: str, scrape: str = "1s", flush: str = "200ms") -> str:
    command = json.dumps(child_command())
    return f"""
server: {{address: '127.0.0.1:{port}'}}
storage: {{data_dir: data, flush_interval: {flush}}}
host_stats: {{enabled: false}}
scrape: {{interval: {scrape}, timeout: 1s}}
services:
  - name: web
    target:
      type: local
      command: {command}
      replicas: 1
      readiness: {{type: tcp, interval: 100ms}}
{autoscaling}
"""


POLICY = """    autoscaling:
      min_replicas: {min}
      max_replicas: 4
      interval: {interval}
      metrics:
        - {{type: series, name: load, query: 'vector(1)', target_type: value, target: 10}}
"""


def service(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/api/v1/services/web", timeout=5).json()
    return body


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SCALEPILOT, *args, "-c", str(config)], capture_output=True, text=True, timeout=60, check=False
    )


def events(config: Path) -> list[dict[str, Any]]:
    done = cli(config, "events", "--kind", "config_reloaded", "-o", "json")
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def ready_pids(base: str) -> dict[str, int]:
    return {r["id"]: r["pid"] for r in service(base)["replica_list"] if r["state"] == "ready"}


def test_reload_applies_the_policy_and_names_what_needs_a_restart(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "scalepilot.yaml"
    config.write_text(config_text(port, autoscaling=POLICY.format(min=1, interval="1s")))
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        proc.wait_line("scalepilot", timeout=30)
        first = wait_for(lambda: ready_pids(base), timeout=30, what="the first replica ready")
        wait_for(lambda: (service(base)["autoscaling"] or {}).get("last_decision"), timeout=15, what="a first decision")
        assert service(base)["replicas"]["desired"] == 1  # vector(1) against 10: the minimum
        # As Prometheus: the first load counts as a successful one.
        started = httpx.get(f"{base}/metrics", timeout=5).text
        assert "scalepilot_config_last_reload_successful 1.0" in started
        assert "scalepilot_config_last_reload_success_timestamp_seconds 0.0" not in started

        config.write_text(
            config_text(port, autoscaling=POLICY.format(min=2, interval="2s"), scrape="2s", flush="300ms")
        )
        os.kill(proc.pid, signal.SIGHUP)
        reloaded = wait_for(lambda: events(config), timeout=15, what="the config_reloaded event")
        details = reloaded[0]["details"]
        assert details["actor"] == "SIGHUP"
        assert details["applied"] == ["services.web.autoscaling", "scrape.interval"]
        assert details["restart_needed"] == ["storage.flush_interval"]
        assert details["problems"] == []
        scaled = wait_for(
            lambda: len(ready_pids(base)) == 2 and ready_pids(base), timeout=30, what="the new minimum acted on"
        )
        # The running replica was not restarted: same id, same process.
        assert all(scaled[rid] == pid for rid, pid in first.items())
        autoscaling = service(base)["autoscaling"]
        assert autoscaling["min_replicas"] == 2 and autoscaling["interval_seconds"] == 2.0
        decision = autoscaling["last_decision"]
        assert decision["current"] == 1 and decision["replicas"] == 2, decision
        assert "min_replicas 2" in decision["reason"]
        # The replicas' scrapes restarted on the new interval.
        wait_for(
            lambda: {t["interval_seconds"] for t in httpx.get(f"{base}/status", timeout=5).json()["targets"]} == {2.0},
            timeout=10,
            what="the replicas scraped every 2 s",
        )
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert "scalepilot_config_last_reload_successful 1.0" in metrics
        assert "scalepilot_config_restart_needed 1.0" in metrics
        last = httpx.get(f"{base}/status", timeout=5).json()["config"]["last_reload"]
        assert last["successful"] and last["actor"] == "SIGHUP"
        assert last["restart_needed"] == ["storage.flush_interval"]

        config.write_text(config_text(port, autoscaling=POLICY.format(min=2, interval="2s")) + "bogus: 1\n")
        res = httpx.post(f"{base}/-/reload", timeout=10)
        assert res.status_code == 422, res.text
        problems = res.json()["problems"]
        assert len(problems) == 1 and problems[0].startswith(f"{config}:"), problems
        assert "bogus" in problems[0]
        assert "scalepilot_config_last_reload_successful 0.0" in httpx.get(f"{base}/metrics", timeout=5).text
        assert service(base)["autoscaling"]["min_replicas"] == 2
        refused = cli(config, "reload", "--url", base)
        assert refused.returncode == 1 and "bogus" in refused.stderr, refused.stderr

        config.write_text(config_text(port, autoscaling="", scrape="2s"))
        res = httpx.post(f"{base}/-/reload", timeout=10)
        assert res.status_code == 200, res.text
        assert res.json() == {"applied": ["services.web.autoscaling"], "restart_needed": []}
        assert service(base)["autoscaling"] is None
        assert "scalepilot_config_last_reload_successful 1.0" in httpx.get(f"{base}/metrics", timeout=5).text
        kinds = [e["details"]["problems"] != [] for e in events(config)]
        assert sorted(kinds) == [False, False, True, True]  # the POST and the CLI refused
        # Without a policy, scaling by hand still works (and nothing pauses).
        scale = cli(config, "scale", "web", "1", "-r", "test")
        assert scale.returncode == 0, scale.stderr + scale.stdout
        wait_for(lambda: service(base)["replicas"]["desired"] == 1, timeout=15, what="the manual scale")
    finally:
        assert proc.stop(signal.SIGTERM) == 0


def watched_config(port: int, service: str, exporter_port: int, *, probe: bool) -> str:
    probes = f"    probes: [{{type: http, name: alive, url: 'http://127.0.0.1:{exporter_port}/healthz'}}]\n"
    return f"""
server: {{address: '127.0.0.1:{port}'}}
storage: {{data_dir: data, flush_interval: 200ms}}
host_stats: {{enabled: false}}
scrape: {{interval: 1s, timeout: 1s}}
probe: {{interval: 1s, timeout: 1s}}
services:
  - name: {service}
    scrape:
      endpoints: [{{url: 'http://127.0.0.1:{exporter_port}/metrics'}}]
{probes if probe else ""}"""


def test_reload_adds_and_removes_watched_services(tmp_path: Path) -> None:
    exporter, exporter_port = start_exporter("healthy")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "scalepilot.yaml"
    config.write_text(watched_config(port, "old", exporter_port, probe=False))
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        proc.wait_line("scalepilot", timeout=30)
        wait_for(lambda: instant_query(base, 'up{service="old"} == 1'), timeout=15, what="the first service scraped")

        config.write_text(watched_config(port, "new", exporter_port, probe=True))
        done = cli(config, "reload")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "applied: services.old (removed), services.new (added)"
        # Ended by a stale marker, not left to the 5-minute lookback.
        wait_for(
            lambda: not instant_query(base, 'up{service="old"}'), timeout=10, what="the removed target's up to end"
        )
        wait_for(lambda: instant_query(base, 'up{service="new"} == 1'), timeout=15, what="the added service scraped")
        wait_for(lambda: instant_query(base, 'probe_success{service="new"} == 1'), timeout=15, what="the added probe")
        status = httpx.get(f"{base}/status", timeout=5).json()
        assert [t["service"] for t in status["targets"]] == ["new"]
        assert [p["service"] for p in status["probes"]] == ["new"]
        wait_for(
            lambda: [s["name"] for s in httpx.get(f"{base}/api/v1/overview", timeout=5).json()["services"]] == ["new"],
            timeout=15,
            what="the dashboard's overview to list the added service only",
        )
    finally:
        assert proc.stop(signal.SIGTERM) == 0
        exporter.stop(signal.SIGTERM)


def test_reload_adds_and_removes_a_service_with_a_target(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "scalepilot.yaml"
    with_web = config_text(port, autoscaling=POLICY.format(min=1, interval="1s"))
    empty = with_web[: with_web.index("services:")] + "services: []\n"
    config.write_text(empty)
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        proc.wait_line("scalepilot", timeout=30)
        assert httpx.get(f"{base}/api/v1/services/web", timeout=5).status_code == 404

        # A new service whose balancer cannot listen: refused, and nothing was started.
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with taken:
            busy = f"    balancer: {{listen: '127.0.0.1:{taken.getsockname()[1]}'}}\n"
            config.write_text(with_web.replace("    autoscaling:", busy + "    autoscaling:"))
            res = httpx.post(f"{base}/-/reload", timeout=30)
        assert res.status_code == 422, res.text
        (problem,) = res.json()["problems"]
        assert "services.web" in problem, problem
        assert httpx.get(f"{base}/api/v1/services/web", timeout=5).status_code == 404

        config.write_text(with_web)
        done = cli(config, "reload")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "applied: services.web (added)"
        pids = wait_for(lambda: ready_pids(base), timeout=30, what="the added service's replica ready")
        wait_for(lambda: service(base)["autoscaling"]["last_decision"], timeout=15, what="its autoscaler deciding")

        config.write_text(empty)
        done = cli(config, "reload")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "applied: services.web (removed)"
        assert httpx.get(f"{base}/api/v1/services/web", timeout=5).status_code == 404
        # The reload returns once the replica is drained and stopped.
        assert not any(psutil.pid_exists(pid) for pid in pids.values())
    finally:
        assert proc.stop(signal.SIGTERM) == 0
