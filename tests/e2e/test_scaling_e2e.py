"""End to end: scalepilot scaling a real service under real load.

Covers: `scalepilot run` with a local target (the bundled shop service behind the
built-in balancer) scales up under load and back down when it ends, never leaving
[min, max]; manual scaling through the API and the CLI is recorded as an event naming
who and why and pauses the autoscaler; pause and resume; `scalepilot explain` shows the
decisions; after `kill -9` of scalepilot during the demo no replica process survives, and
the next start is clean; a scale-down under steady load drains and fails no request;
`scalepilot demo` (short) scales up, prints its summary and leaves nothing running, and
says why it made no rollout; a longer demo rolls version 2 out as a canary in its last
quiet phase and promotes it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from scalepilot.adapters.loadgen import LoadGenerator, ramp
from tests.support import free_port, start, wait_for

pytestmark = pytest.mark.slow

SCALEPILOT = [sys.executable, "-m", "scalepilot"]


def config_text(server_port: int, *, min_replicas: int = 1, max_replicas: int = 4) -> str:
    return f"""
server: {{address: '127.0.0.1:{server_port}'}}
storage: {{data_dir: data}}
scrape: {{interval: 1s, timeout: 1s}}
host_stats: {{interval: 1s}}
services:
  - name: shop
    target:
      type: local
      command: ["{sys.executable}", -m, scalepilot.examples.shop, --port, "{{port}}", --concurrency, "4"]
      replicas: {min_replicas}
      readiness: {{type: http, path: /healthz, interval: 200ms}}
      resources: {{cpu: 0.5, memory: 256MiB}}
      grace_period: 3s
      stop_timeout: 3s
    autoscaling:
      min_replicas: {min_replicas}
      max_replicas: {max_replicas}
      interval: 2s
      window: 6s
      manual_pause: 1h
      metrics:
        - {{type: rps, target: 15}}
      behavior:
        scaleDown: {{stabilizationWindowSeconds: 4}}
"""


def shop_pids() -> set[int]:
    found = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "scalepilot.examples.shop" in cmd:
            found.add(proc.info["pid"])
    return found


def service(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/api/v1/services/shop", timeout=5).json()
    return body


def reachable(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def no_leftovers() -> Any:
    before = shop_pids()
    yield
    wait_for(lambda: not (shop_pids() - before), timeout=20, what="every shop replica to be gone")


def test_scales_up_under_load_and_back_down(tmp_path: Path, no_leftovers: None) -> None:
    port = free_port()
    (tmp_path / "scalepilot.yaml").write_text(config_text(port))
    base = f"http://127.0.0.1:{port}"
    proc = start([*SCALEPILOT, "run", "-c", str(tmp_path / "scalepilot.yaml")])
    seen: list[int] = []
    try:
        wait_for(
            lambda: reachable(base) and service(base)["replicas"]["ready"] == 1, timeout=30, what="the first replica"
        )
        lb = service(base)["balancer"]["address"]
        # ~60 req/s against a 15 req/s-per-replica target: the autoscaler wants 4 (max).
        gen = LoadGenerator(f"http://{lb}/api/sync", ramp([(0, 60)]), duration_s=40, seed=3)

        async def drive() -> None:
            load = asyncio.create_task(gen.run())
            while not load.done():
                seen.append(service(base)["replicas"]["desired"])
                if seen[-1] >= 3:
                    break
                await asyncio.sleep(0.5)  # sampling what a person would see, not synchronising
            load.cancel()

        asyncio.run(drive())
        assert max(seen) >= 3, seen
        # Load gone: back down to min_replicas.
        wait_for(lambda: service(base)["replicas"]["desired"] == 1, timeout=60, what="scale-down to 1")
        decisions = httpx.get(f"{base}/api/v1/services/shop/decisions", timeout=5).json()
        assert any(d["change"] and d["replicas"] > d["current"] for d in decisions)
        assert any(d["change"] and d["replicas"] < d["current"] for d in decisions)
        assert all(1 <= d["replicas"] <= 4 for d in decisions)
    finally:
        assert proc.stop(signal.SIGTERM, timeout=30) == 0
    assert all(1 <= n <= 4 for n in seen)


def test_manual_scale_pause_resume_and_explain(tmp_path: Path, no_leftovers: None) -> None:
    port = free_port()
    config = tmp_path / "scalepilot.yaml"
    config.write_text(config_text(port))
    base = f"http://127.0.0.1:{port}"
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        wait_for(lambda: reachable(base), timeout=30, what="scalepilot")
        res = httpx.post(
            f"{base}/api/v1/services/shop/scale",
            json={"replicas": 3, "reason": "campaign", "actor": "alice"},
            timeout=30,
        )
        assert res.status_code == 200, res.text
        assert res.json()["autoscaling"]["paused"] is True
        wait_for(lambda: service(base)["replicas"]["ready"] == 3, timeout=30, what="3 ready replicas")

        bad = httpx.post(f"{base}/api/v1/services/shop/scale", json={"replicas": -1, "reason": "x"}, timeout=5)
        assert bad.status_code == 422
        above = httpx.post(f"{base}/api/v1/services/shop/scale", json={"replicas": 5, "reason": "x"}, timeout=5)
        assert above.status_code == 422
        assert "above autoscaling.max_replicas (4)" in above.json()["detail"]
        fork_bomb = {"replicas": 600, "reason": "typo", "force": True}
        refused = httpx.post(f"{base}/api/v1/services/shop/scale", json=fork_bomb, timeout=5)
        assert refused.status_code == 422 and "at most 100" in refused.json()["detail"]
        assert service(base)["replicas"]["desired"] == 3  # neither refusal changed anything
        assert (
            httpx.post(f"{base}/api/v1/services/nope/scale", json={"replicas": 1, "reason": "x"}, timeout=5).status_code
            == 404
        )

        cli = subprocess.run(
            [*SCALEPILOT, "resume", "shop", "--url", base], capture_output=True, text=True, timeout=30, check=True
        )
        assert "shop: 3 desired" in cli.stdout
        # Resumed with no load: the autoscaler brings it back to 1.
        wait_for(lambda: service(base)["replicas"]["desired"] == 1, timeout=30, what="the autoscaler's scale-down")
        cli = subprocess.run(
            [*SCALEPILOT, "pause", "shop", "--for", "10m", "-r", "investigating", "--url", base],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert "autoscaling paused" in cli.stdout
    finally:
        assert proc.stop(signal.SIGTERM, timeout=30) == 0

    events = json.loads(
        subprocess.run(
            [*SCALEPILOT, "events", "--data-dir", str(tmp_path / "data"), "-o", "json", "--limit", "500"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    )
    manual = [e for e in events if e["kind"] == "manual_scale"]
    assert len(manual) == 1 and manual[0]["details"]["actor"] == "alice"
    assert manual[0]["details"]["reason"] == "campaign" and manual[0]["details"]["to"] == 3
    kinds = {e["kind"] for e in events}
    assert {"autoscaling_resumed", "autoscaling_paused", "scaled", "replica_started", "replica_ready"} <= kinds

    out = subprocess.run(
        [*SCALEPILOT, "explain", "shop", "--data-dir", str(tmp_path / "data"), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    decisions = json.loads(out)
    assert decisions and all("reason" in d and "metrics" in d for d in decisions)
    assert any(d["change"] and d["replicas"] == 1 for d in decisions)


def test_kill_9_during_the_demo_leaves_no_replica(tmp_path: Path, no_leftovers: None) -> None:
    port = free_port()
    data = tmp_path / "demo"
    demo = start([*SCALEPILOT, "demo", "--duration", "5m", "--port", str(port), "--data-dir", str(data)])
    base = f"http://127.0.0.1:{port}"
    wait_for(
        lambda: reachable(base) and service(base)["replicas"]["ready"] >= 2, timeout=60, what="the demo's replicas"
    )
    pids = {r["pid"] for r in service(base)["replica_list"]}
    assert len(pids) >= 2 and pids <= shop_pids()
    demo.stop(signal.SIGKILL)
    wait_for(lambda: not (pids & shop_pids()), timeout=15, what="the replicas to die with scalepilot")

    # The demo's own config, started again on the same data: a clean start.
    again = start([*SCALEPILOT, "run", "-c", str(data / "demo.yaml")])
    try:
        wait_for(lambda: reachable(base) and service(base)["replicas"]["ready"] >= 2, timeout=60, what="new replicas")
        assert not ({r["pid"] for r in service(base)["replica_list"]} & pids)
    finally:
        assert again.stop(signal.SIGTERM, timeout=30) == 0


def test_scale_down_under_steady_load_fails_no_request(tmp_path: Path, no_leftovers: None) -> None:
    port = free_port()
    config = tmp_path / "scalepilot.yaml"
    config.write_text(
        config_text(port, min_replicas=3, max_replicas=4).replace("grace_period: 3s", "grace_period: 10s")
    )
    base = f"http://127.0.0.1:{port}"
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        wait_for(lambda: reachable(base) and service(base)["replicas"]["ready"] == 3, timeout=30, what="3 replicas")
        lb = service(base)["balancer"]["address"]
        gen = LoadGenerator(f"http://{lb}/api/sync", ramp([(0, 30)]), duration_s=12, seed=5)

        async def drive() -> None:
            load = asyncio.create_task(gen.run())
            await asyncio.sleep(3)  # steady load first: the scale-down must happen under it
            res = await asyncio.to_thread(
                httpx.post,
                f"{base}/api/v1/services/shop/scale",
                json={"replicas": 1, "reason": "drain test", "actor": "test"},
                timeout=30,
            )
            assert res.status_code == 200, res.text
            await load

        asyncio.run(drive())
        wait_for(lambda: service(base)["replicas"]["current"] == 1, timeout=30, what="the scale-down to finish")
    finally:
        assert proc.stop(signal.SIGTERM, timeout=30) == 0
    offered = sum(s.offered for s in gen.seconds)
    assert offered > 200
    assert sum(s.errors + s.shed for s in gen.seconds) == 0
    assert sum(s.ok for s in gen.seconds) == offered


def run_demo(data: Path, duration: str, peak: str) -> str:
    """``scalepilot demo`` to its end on a free port; its output, whitespace folded."""
    args = ["demo", "--duration", duration, "--peak", peak, "--port", str(free_port()), "--data-dir", str(data)]
    res = subprocess.run(
        [*SCALEPILOT, *args],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "COLUMNS": "150"},
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return " ".join(res.stdout.split())


def event_kinds(data: Path, *kinds: str) -> list[dict[str, Any]]:
    """The recorded events of these kinds, oldest first."""
    args = [a for k in kinds for a in ("-k", k)]
    done = subprocess.run(
        [*SCALEPILOT, "events", "--data-dir", str(data), *args, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return list(reversed(json.loads(done.stdout)))


def test_short_demo(tmp_path: Path, no_leftovers: None) -> None:
    out = run_demo(tmp_path / "demo", "45s", "220")
    assert "summary (all measured in this run)" in out
    events = event_kinds(tmp_path / "demo", "scaled")
    assert any(e["details"]["to"] > e["details"]["from"] for e in events), out[-3000:]
    # Its last quiet phase (13.5 s) is too short for a rollout, and the summary says so.
    assert "not made: the last quiet phase is shorter than 40 s" in out


def test_the_demo_rolls_version_2_out(tmp_path: Path, no_leftovers: None) -> None:
    """At 2m20s the last quiet phase lasts 42 s: the demo edits its config to version 2
    and reloads, and the canary goes 25 % → 50 % → 100 % and is promoted."""
    data = tmp_path / "demo"
    out = run_demo(data, "140s", "150")
    assert "version 2 promoted after" in out, out[-3000:]
    assert 'SHOP_VERSION: "2"' in (data / "demo.yaml").read_text()
    kinds = [e["kind"] for e in event_kinds(data, "rollout_step", "rollout_promoted")]
    assert kinds[-1] == "rollout_promoted" and kinds.count("rollout_step") >= 2, kinds
