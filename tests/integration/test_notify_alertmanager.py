"""Forwarding to a real Alertmanager (Debian's ``prometheus-alertmanager`` on loopback).

Covers: a firing alert forwarded through ``alertmanager_configs`` shows up in the
Alertmanager's ``GET /api/v2/alerts`` with its labels, annotations, ``startsAt`` and
``generatorURL``, active; the resolved alert, forwarded with its ``endsAt`` in the past,
makes Alertmanager drop it from the active alerts (resolved at once, as with Prometheus);
and the "typical alertmanager.yml" the config tests load passes ``amtool check-config``.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from scalepilot.domain.store import OutboxState
from tests.integration.test_notify_support import (
    FAST_DELIVERY,
    Running,
    firing,
    open_store,
    resolved,
    service,
    wait_until,
)
from tests.support import free_port, require_binary, start, wait_for
from tests.unit.test_notify_config import AM

AM_CONFIG = """
route: {receiver: blackhole}
receivers: [{name: blackhole}]
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    (tmp_path / "am.yml").write_text(AM_CONFIG)
    proc = start(
        [
            binary,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, timeout=20, what="Alertmanager to be ready")
        yield base
    finally:
        proc.stop(signal.SIGTERM)


def _am_alerts(base: str, **params: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{base}/api/v2/alerts", params={"active": "true", **params}, timeout=5)
    resp.raise_for_status()
    found: list[dict[str, Any]] = resp.json()
    return [a for a in found if a["labels"].get("alertname") == "DiskFull"]


async def test_forwarded_alerts_fire_and_resolve_in_alertmanager(tmp_path: Path, alertmanager: str) -> None:
    config = f"""
route: {{receiver: am, group_by: [alertname], group_wait: 100ms, group_interval: 200ms}}
receivers: [{{name: am, alertmanager_configs: [{{url: "{alertmanager}"}}]}}]
{FAST_DELIVERY}
"""
    store = open_store(tmp_path / "data")
    try:
        svc = service(config, store, tmp_path)
        async with Running(svc):
            alert = firing("DiskFull", service="db", severity="warning")
            svc.send([alert])
            (got,) = await wait_until(lambda: _am_alerts(alertmanager), timeout=15, what="the alert in Alertmanager")
            assert got["labels"] == {"alertname": "DiskFull", "service": "db", "severity": "warning"}
            assert got["annotations"] == {"summary": "DiskFull on db"}
            assert got["generatorURL"] == "http://sp:8420/graph"
            assert got["status"]["state"] == "active"
            assert got["startsAt"].startswith(_rfc3339_prefix(alert.starts_at_ms))
            assert got["fingerprint"]  # Alertmanager's own, not ours

            svc.send([resolved(alert)])
            await wait_until(lambda: not _am_alerts(alertmanager), timeout=15, what="Alertmanager to resolve the alert")
        assert store.outbox_items() and all(i.state is OutboxState.DONE for i in store.outbox_items())
    finally:
        store.close()


def _rfc3339_prefix(ms: int) -> str:
    """The seconds part of an RFC 3339 UTC time (Alertmanager re-formats the fraction)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_the_typical_config_is_one_alertmanager_accepts_too(tmp_path: Path) -> None:
    """The config scalepilot's own tests load as 'a typical alertmanager.yml' really is
    one: Alertmanager's amtool accepts it unchanged."""
    amtool = require_binary("amtool")
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(yaml.safe_load(AM)["alerting"]))
    done = subprocess.run(
        [amtool, "check-config", str(tmp_path / "alertmanager.yml")], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 receivers" in done.stdout and "2 inhibit rules" in done.stdout
