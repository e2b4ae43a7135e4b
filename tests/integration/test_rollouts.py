"""Rollouts of a local target, with a real scalepilot, real replicas and its real balancer.

Covers:

- a canary rollout started by ``scalepilot reload`` after the target's ``env`` changed:
  at its ``weight: 50`` stage one new replica runs beside the two old ones and gets
  half of the requests through the balancer; it waits at ``pause: manual`` until
  ``scalepilot rollout promote``; a third version reloaded meanwhile supersedes it (the
  second is aborted, the canary runs the third); a restart of scalepilot there runs the old version
  and starts the rollout again; once promoted, the new version takes all traffic, the
  old processes stop, and the events tell each step;
- blue-green: the new version's full set starts with no traffic (the preview), waits to
  be promoted by hand, then takes all of it at once; it answers 500, so the analysis
  during ``scale_down_delay`` switches every request back to the old replicas, which
  were kept running (the same processes: an instant rollback); with the config put
  back to the old version there is nothing left to retry;
- analysis aborting a version that answers 500: the canary's error rate (from the
  balancer's per-group series, queried as PromQL) is above ``max_error_rate``, so all
  traffic goes back to the old version and the new replicas stop; a restart of
  scalepilot keeps running the old version (not the config's) and shows the rollout
  aborted; ``rollout retry`` starts it again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.integration.targets_helpers import child_command
from tests.support import free_port, start, wait_for

SCALEPILOT = [sys.executable, "-m", "scalepilot"]


def config_text(port: int, lb_port: int, *, version: str, status: int = 200, rollout: str) -> str:
    command = json.dumps(child_command())
    return f"""
server: {{address: '127.0.0.1:{port}'}}
storage: {{data_dir: data, flush_interval: 200ms}}
host_stats: {{enabled: false}}
scrape: {{interval: 1s, timeout: 1s}}
services:
  - name: web
    target:
      type: local
      command: {command}
      env: {{VERSION: {version}, ANSWER_STATUS: '{status}'}}
      replicas: 2
      metrics_path: null
      readiness: {{type: tcp, interval: 100ms}}
      grace_period: 1s
    balancer: {{listen: '127.0.0.1:{lb_port}'}}
    rollout:
{rollout}
"""


CANARY = """      steps: [{weight: 50}, {pause: manual}]
      scale_down_delay: 0s
"""

BLUE_GREEN = """      strategy: blue_green
      preview: manual
      scale_down_delay: 1h
      analysis: {interval: 1s, window: 5s, max_error_rate: 1%, on_no_data: pass}
"""

ANALYSED = """      steps: [{weight: 50}, {pause: 1h}]
      analysis: {interval: 1s, window: 5s, max_error_rate: 1%, on_no_data: pass}
"""


def service(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/api/v1/services/web", timeout=5).json()
    return body


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SCALEPILOT, *args, "-c", str(config)], capture_output=True, text=True, timeout=60, check=False
    )


def versions(lb_port: int, n: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    with httpx.Client(timeout=5) as client:
        for _ in range(n):
            resp = client.get(f"http://127.0.0.1:{lb_port}/version")
            seen[f"{resp.text}:{resp.status_code}"] += 1
    return seen


def kinds(config: Path) -> list[str]:
    done = cli(config, "events", "-o", "json", "--limit", "200")
    assert done.returncode == 0, done.stderr
    return [e["kind"] for e in reversed(json.loads(done.stdout)) if e["kind"].startswith("rollout_")]


def rollout_of(base: str) -> dict[str, Any]:
    return service(base).get("rollout") or {}


class Load:
    """Requests to the balancer from a thread until stopped: bounded to 3000, one
    every 10 ms at most, so the analysis has traffic to measure."""

    def __init__(self, lb_port: int) -> None:
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(lb_port,), daemon=True)
        self._thread.start()

    def _run(self, lb_port: int) -> None:
        with httpx.Client(timeout=5) as client:
            for _ in range(3000):
                if self.stop.wait(0.01):
                    return
                client.get(f"http://127.0.0.1:{lb_port}/version")

    def end(self) -> None:
        self.stop.set()
        self._thread.join(10)


def test_a_canary_takes_half_the_traffic_waits_for_promotion_then_replaces_the_old_version(tmp_path: Path) -> None:
    port, lb_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "scalepilot.yaml"
    config.write_text(config_text(port, lb_port, version="v1", rollout=CANARY))
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        proc.wait_line("scalepilot", timeout=30)
        wait_for(lambda: service(base)["replicas"]["ready"] == 2, timeout=30, what="two v1 replicas ready")
        old = {r["pid"] for r in service(base)["replica_list"]}
        stable_revision = service(base)["revision"]
        assert versions(lb_port, 4) == Counter({"v1:200": 4})
        assert rollout_of(base) == {}

        config.write_text(config_text(port, lb_port, version="v2", rollout=CANARY))
        done = cli(config, "reload")
        assert done.returncode == 0, done.stderr + done.stdout
        assert "services.web.target (rolled out)" in done.stdout

        at_pause = wait_for(
            lambda: (r := rollout_of(base)).get("stage") == 2 and r.get("weight") == 50 and r,
            timeout=30,
            what="the canary at 50 % and the manual pause",
        )
        assert at_pause["phase"] == "progressing" and at_pause["stable_revision"] == stable_revision
        replicas = service(base)["replica_list"]
        groups = Counter((r["group"], r["revision"]) for r in replicas)
        assert groups == Counter({("stable", stable_revision): 2, ("canary", at_pause["revision"]): 1})
        assert len({r["index"] for r in replicas}) == 3  # slots stay unique across groups
        # The autoscaler's view and the counts are the stable group's.
        assert service(base)["replicas"] == {"desired": 2, "current": 2, "ready": 2}
        # Weights 50/50 between the groups: the smooth weighted round-robin alternates.
        split = versions(lb_port, 40)
        assert split.keys() == {"v1:200", "v2:200"} and abs(split["v1:200"] - split["v2:200"]) <= 1, split

        status = cli(config, "rollout", "status", "web")
        assert status.returncode == 0, status.stderr
        assert "▶" in status.stdout and "pause manual at 50%" in status.stdout

        # A third version while the second is rolled out: the second is aborted as
        # superseded and the canary runs the third.
        config.write_text(config_text(port, lb_port, version="v3", rollout=CANARY))
        assert cli(config, "reload").returncode == 0
        third = wait_for(
            lambda: (r := rollout_of(base)).get("revision") != at_pause["revision"] and r.get("stage") == 2 and r,
            timeout=30,
            what="the third version at the manual pause",
        )
        assert third["stable_revision"] == stable_revision
        wait_for(lambda: versions(lb_port, 10).keys() == {"v1:200", "v3:200"}, timeout=30, what="v3 beside v1 only")
    finally:
        assert proc.stop(signal.SIGTERM) == 0

    # A restart in the middle: the stable version starts (not the config's), and the
    # rollout starts again from its first stage.
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        proc.wait_line("scalepilot", timeout=30)
        wait_for(
            lambda: (r := rollout_of(base)).get("stage") == 2 and r.get("weight") == 50 and r,
            timeout=30,
            what="the rollout again at its manual pause",
        )
        assert service(base)["revision"] == stable_revision
        assert versions(lb_port, 4).keys() == {"v1:200", "v3:200"}
        old = {r["pid"] for r in service(base)["replica_list"] if r["group"] == "stable"}
        assert len(old) == 2

        promoted = cli(config, "rollout", "promote", "web")
        assert promoted.returncode == 0, promoted.stderr
        wait_for(lambda: rollout_of(base).get("phase") == "promoted", timeout=30, what="the promotion")
        wait_for(lambda: all(not psutil.pid_exists(pid) for pid in old), timeout=30, what="the old replicas stopped")
        after = wait_for(
            lambda: len(rs := service(base)["replica_list"]) == 2 and all(r["state"] == "ready" for r in rs) and rs,
            timeout=30,
            what="two replicas of the new version",
        )
        assert {(r["group"], r["revision"]) for r in after} == {("stable", third["revision"])}
        assert service(base)["revision"] == third["revision"]
        assert versions(lb_port, 6) == Counter({"v3:200": 6})
        steps = ["rollout_started", "rollout_step", "rollout_step"]
        assert kinds(config) == [*steps, "rollout_aborted", *steps, *steps, "rollout_step", "rollout_promoted"]
        superseded = json.loads(cli(config, "events", "--kind", "rollout_aborted", "-o", "json").stdout)
        assert superseded[0]["details"]["reason"].startswith(f"superseded by {third['revision']}")
        again = cli(config, "rollout", "abort", "web")
        assert again.returncode == 1 and "already ended" in again.stderr
    finally:
        assert proc.stop(signal.SIGTERM) == 0


def test_blue_green_previews_then_switches_at_once_and_switches_back_when_analysis_fails(tmp_path: Path) -> None:
    port, lb_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "scalepilot.yaml"
    config.write_text(config_text(port, lb_port, version="v1", rollout=BLUE_GREEN))
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    load: Load | None = None
    try:
        proc.wait_line("scalepilot", timeout=30)
        wait_for(lambda: service(base)["replicas"]["ready"] == 2, timeout=30, what="two v1 replicas ready")
        blue = {r["pid"] for r in service(base)["replica_list"]}
        config.write_text(config_text(port, lb_port, version="v2", status=500, rollout=BLUE_GREEN))
        assert cli(config, "reload").returncode == 0
        preview = wait_for(
            lambda: (r := rollout_of(base)).get("stage") == 1 and r.get("canary_replicas") == 2 and r,
            timeout=30,
            what="the preview",
        )
        wait_for(
            lambda: sum(r["group"] == "canary" and r["state"] == "ready" for r in service(base)["replica_list"]) == 2,
            timeout=30,
            what="the green set ready",
        )
        assert preview["weight"] == 0
        assert versions(lb_port, 10) == Counter({"v1:200": 10})  # the preview gets no traffic
        load = Load(lb_port)
        assert cli(config, "rollout", "promote", "web").returncode == 0
        aborted = wait_for(
            lambda: (r := rollout_of(base)).get("phase") == "aborted" and r, timeout=60, what="the switch back"
        )
        assert aborted["stage"] == 2 and aborted["reason"].startswith("analysis failed: error_rate")
        load.end()
        # The blue replicas never stopped: the same processes serve again, at once.
        assert {r["pid"] for r in service(base)["replica_list"] if r["group"] == "stable"} == blue
        assert versions(lb_port, 6) == Counter({"v1:200": 6})
        # The config put back to the stable version: nothing is left to retry.
        config.write_text(config_text(port, lb_port, version="v1", rollout=BLUE_GREEN))
        assert cli(config, "reload").returncode == 0
        refused = cli(config, "rollout", "retry", "web")
        assert refused.returncode == 1 and "no aborted rollout" in refused.stderr, refused.stderr
    finally:
        if load is not None:
            load.end()
        assert proc.stop(signal.SIGTERM) == 0


def test_analysis_aborts_a_failing_version_and_a_restart_keeps_the_old_one(tmp_path: Path) -> None:
    port, lb_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "scalepilot.yaml"
    config.write_text(config_text(port, lb_port, version="v1", rollout=ANALYSED))
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    load: Load | None = None
    try:
        proc.wait_line("scalepilot", timeout=30)
        wait_for(lambda: service(base)["replicas"]["ready"] == 2, timeout=30, what="two v1 replicas ready")
        load = Load(lb_port)
        config.write_text(config_text(port, lb_port, version="v2", status=500, rollout=ANALYSED))
        done = cli(config, "reload")
        assert done.returncode == 0, done.stderr + done.stdout
        aborted = wait_for(
            lambda: (r := rollout_of(base)).get("phase") == "aborted" and r, timeout=60, what="the abort"
        )
        load.end()
        assert aborted["reason"].startswith("analysis failed: error_rate"), aborted["reason"]
        assert aborted["failures"] == 1 and aborted["weight"] == 0
        failed = aborted["measurements"][-1]
        assert failed["verdict"] == "failed" and failed["values"][0]["value"] > 1
        wait_for(
            lambda: all(r["group"] == "stable" for r in service(base)["replica_list"]),
            timeout=30,
            what="the canary replicas stopped",
        )
        assert versions(lb_port, 6) == Counter({"v1:200": 6})
        assert kinds(config)[-1] == "rollout_aborted"
        status = cli(config, "rollout", "status", "web", "-o", "json")
        assert json.loads(status.stdout)["phase"] == "aborted"
    finally:
        if load is not None:
            load.end()
        assert proc.stop(signal.SIGTERM) == 0

    # A restart runs the version that was stable, not the config's, and remembers why.
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        proc.wait_line("scalepilot", timeout=30)
        wait_for(lambda: service(base)["replicas"]["ready"] == 2, timeout=30, what="two replicas after the restart")
        assert versions(lb_port, 4) == Counter({"v1:200": 4})
        assert rollout_of(base)["phase"] == "aborted"
        assert rollout_of(base)["reason"] == aborted["reason"]
        retried = cli(config, "rollout", "retry", "web")
        assert retried.returncode == 0, retried.stderr
        assert "progressing" in retried.stdout
        wait_for(
            lambda: any(r["group"] == "canary" for r in service(base)["replica_list"]),
            timeout=30,
            what="the retried rollout's canary",
        )
    finally:
        assert proc.stop(signal.SIGTERM) == 0
