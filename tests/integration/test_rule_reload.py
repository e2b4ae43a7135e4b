"""Reloading rule files in a running scalepilot, as Prometheus does.

Covers: SIGHUP picks up an edited rule file (a new group runs, a removed rule's series
goes stale at once); ``POST /-/reload`` with a broken file is refused with the problem
as file:line:column, the running rules are kept and
``scalepilot_rules_last_reload_successful`` drops to 0; a later good reload restores it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support import free_port, instant_query, start, wait_for

SCALEPILOT = [sys.executable, "-m", "scalepilot"]

FIRST = """
groups:
  - name: first
    interval: 1s
    rules:
      - record: reload:first
        expr: vector(1)
"""

SECOND = """
groups:
  - name: second
    interval: 1s
    rules:
      - record: reload:second
        expr: vector(2)
"""

BROKEN = """
groups:
  - name: second
    interval: 1s
    rules:
      - record: reload:second
        expr: vector(2) +
"""


def rule_names(base: str) -> set[str]:
    body: dict[str, Any] = httpx.get(f"{base}/status", timeout=5).json()
    return {r["name"] for g in body["rules"]["groups"] for r in g["rules"] if g["file"] != "<builtin>"}


def test_sighup_and_reload_endpoint(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(FIRST)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "scalepilot.yaml"
    config.write_text(
        f"server: {{address: '127.0.0.1:{port}'}}\n"
        "storage: {data_dir: data, flush_interval: 200ms}\n"
        "host_stats: {enabled: false}\n"
        "rule_files: [rules.yml]\n"
        "services: []\n"
    )
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        proc.wait_line("scalepilot", timeout=20)
        wait_for(lambda: bool(instant_query(base, "reload:first")), timeout=15, what="the first rule's series")
        assert rule_names(base) >= {"reload:first"}

        rules.write_text(SECOND)
        os.kill(proc.pid, signal.SIGHUP)
        wait_for(lambda: bool(instant_query(base, "reload:second")), timeout=15, what="the reloaded rule's series")
        assert "reload:first" not in rule_names(base)
        # The removed rule's series got a stale marker: it is gone from instant queries
        # at once, not after the 5-minute lookback.
        assert instant_query(base, "reload:first") == []

        rules.write_text(BROKEN)
        res = httpx.post(f"{base}/-/reload", timeout=10)
        assert res.status_code == 422
        problems = res.json()["problems"]
        assert problems and problems[0].startswith(f"{rules}:7:"), problems
        assert "reload:second" in rule_names(base)  # the running rules are kept
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert "scalepilot_rules_last_reload_successful 0.0" in metrics

        rules.write_text(FIRST)
        res = httpx.post(f"{base}/-/reload", timeout=10)
        assert res.status_code == 200, res.text
        assert "reload:first" in rule_names(base) and "reload:second" not in rule_names(base)
        assert "scalepilot_rules_last_reload_successful 1.0" in httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        assert proc.stop(signal.SIGTERM) == 0
