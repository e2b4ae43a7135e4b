"""Notifications inside ``scalepilot run``: a real process, a real loopback webhook.

Covers:
- an alert from a rule file reaches the webhook; ``scalepilot alerts`` lists it firing
  with its age and labels, and an alert still in its ``for`` as pending; ``silence add``
  suppresses it, ``silence list`` shows the silence, ``silence expire`` ends it;
  ``alerts ack`` records who acknowledged it;
- the API answers bad requests with 4xx and the reason (a bad matcher, an unknown state,
  an unknown silence, an ack naming nothing, a bad time), and the CLI prints the reason;
- at least once across ``kill -9``: a notification queued while the receiver is down is
  delivered, with the same id, by the restarted scalepilot once the receiver is up.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.store import OutboxState
from tests.integration.test_notify_support import Receiver
from tests.support import Proc, free_port, start, wait_for

SCALEPILOT = [sys.executable, "-m", "scalepilot"]

RULES = """
groups:
  - name: always
    interval: 1s
    rules:
      - alert: AlwaysOn
        expr: vector(1)
        labels: {service: shop, severity: warning}
        annotations: {summary: "always on"}
      - alert: NotYet
        expr: vector(2)
        for: 1h
        labels: {service: shop}
"""


def write_config(tmp_path: Path, server_port: int, hook: str) -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "always.yml").write_text(RULES)
    path = tmp_path / "scalepilot.yaml"
    path.write_text(
        f"""
server: {{address: '127.0.0.1:{server_port}'}}
storage: {{data_dir: data, flush_interval: 200ms}}
host_stats: {{enabled: false}}
rule_files: ['rules/*.yml']
evaluation_interval: 1s
alerting:
  route: {{receiver: hook, group_by: [alertname], group_wait: 500ms, group_interval: 1s}}
  receivers:
    - name: hook
      webhook_configs: [{{url: '{hook}'}}]
  delivery:
    retry: {{initial: 100ms, max: 500ms}}
    max_attempts: 1000
services: []
"""
    )
    return path


def run(config: Path, base: str) -> Proc:
    proc = start([*SCALEPILOT, "run", "-c", str(config)])

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout=30, what="/ready")
    return proc


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCALEPILOT, *args], check=False, capture_output=True, text=True, timeout=60)


def cli_json(*args: str) -> Any:
    done = cli(*args, "-o", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def always_on(base: str) -> dict[str, Any] | None:
    found = cli_json("alerts", "--url", base)
    return next((a for a in found if a["name"] == "AlwaysOn"), None)


@pytest.mark.slow
def test_alerts_silences_and_acks_through_the_cli_and_api(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver = Receiver().start()
    config = write_config(tmp_path, port, receiver.url)
    proc = run(config, base)
    try:
        req = wait_for(
            lambda: next((r for r in receiver.received() if r.json()["groupLabels"]["alertname"] == "AlwaysOn"), None),
            timeout=20,
            what="the notification at the webhook",
        )
        (sent,) = req.json()["alerts"]
        assert sent["labels"] == {"alertname": "AlwaysOn", "service": "shop", "severity": "warning"}

        alert = wait_for(lambda: always_on(base), timeout=10, what="AlwaysOn in scalepilot alerts")
        assert alert["state"] == "firing" and alert["receivers"] == ["hook"]
        assert alert["labels"]["service"] == "shop" and alert["age_seconds"] >= 0
        table = cli("alerts", "--url", base)
        assert table.returncode == 0 and "AlwaysOn" in table.stdout and 'service="shop"' in table.stdout
        pending = cli_json("alerts", "-s", "pending", "--url", base)
        assert [(a["name"], a["state"], a["labels"]["service"]) for a in pending] == [("NotYet", "pending", "shop")]

        # Bad requests: 4xx with the reason.
        bad = httpx.post(
            f"{base}/api/v1/silences", json={"matchers": ['service=~"("'], "duration": "1h", "comment": "x"}
        )
        assert bad.status_code == 422 and "(" in bad.json()["detail"]
        assert (
            httpx.post(f"{base}/api/v1/silences", json={"matchers": ["service=shop"], "duration": "soon"})
            .json()["detail"]
            .startswith("duration:")
        )
        unknown_state = httpx.get(f"{base}/api/v1/alerts", params={"state": "burning"})
        assert unknown_state.status_code == 422 and "burning" in unknown_state.json()["detail"]
        assert httpx.delete(f"{base}/api/v1/silences/nope").status_code == 404
        assert httpx.post(f"{base}/api/v1/alerts/ack", json={}).status_code == 422
        late = httpx.post(f"{base}/api/v1/alerts/ack", json={"matchers": ["service=shop"], "until": "yesterday"})
        assert late.status_code == 422 and "yesterday" in late.json()["detail"]
        refused = cli("silence", "add", "service=~'('", "--for", "1h", "--comment", "x", "--url", base)
        assert refused.returncode == 1 and "error:" in refused.stderr

        added = cli("silence", "add", 'alertname="AlwaysOn"', "--for", "1h", "--comment", "load test", "--url", base)
        assert added.returncode == 0, added.stderr
        (silence,) = cli_json("silence", "list", "--url", base)
        assert silence["state"] == "active" and silence["matchers"] == ['alertname="AlwaysOn"']
        assert silence["comment"] == "load test" and silence["created_by"].startswith("cli")
        muted = always_on(base)
        assert muted is not None and muted["state"] == "suppressed" and muted["silenced_by"] == [silence["id"]]

        expired = cli("silence", "expire", silence["id"], "--url", base)
        assert expired.returncode == 0, expired.stderr
        assert cli_json("silence", "list", "--url", base) == []
        assert [s["state"] for s in cli_json("silence", "list", "--all", "--url", base)] == ["expired"]
        again = always_on(base)
        assert again is not None and again["state"] == "firing" and again["silenced_by"] == []

        acked = cli("alerts", "ack", again["fingerprint"][:6], "--comment", "on it", "--url", base)
        assert acked.returncode == 0 and "acknowledged AlwaysOn" in acked.stdout, acked.stderr
        after = always_on(base)
        assert after is not None and after["acknowledged"]["by"].startswith("cli")
        assert after["acknowledged"]["until"] is None

        # Every write is an event naming who made it (the CLI, without auth on loopback).
        kinds = ("silence_added", "silence_expired", "alerts_acknowledged")

        def write_events() -> list[dict[str, Any]] | None:
            args = [arg for k in kinds for arg in ("-k", k)]
            found: list[dict[str, Any]] = cli_json("events", "-c", str(config), *args, "-o", "json")
            return found if {e["kind"] for e in found} == set(kinds) else None

        events = wait_for(write_events, timeout=10, what="the silence and ack events")
        assert all(e["details"]["actor"].startswith("cli") for e in events), [e["details"] for e in events]
    finally:
        assert proc.stop(signal.SIGTERM) == 0
        receiver.stop()


@pytest.mark.slow
def test_a_notification_survives_kill_9_while_the_receiver_is_down(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver = Receiver()  # not started: the receiver is down
    config = write_config(tmp_path, port, receiver.url)
    proc = run(config, base)
    try:

        def failing() -> bool:
            status = httpx.get(f"{base}/status", timeout=5).json()["notifications"]
            return bool(status["failed_attempts"] >= 2)

        wait_for(failing, timeout=20, what="delivery attempts failing against the down receiver")
    finally:
        proc.stop(signal.SIGKILL)

    store = SQLiteStore.open(tmp_path / "data", StorageSettings(), read_only=True)
    try:
        queued = [i for i in store.outbox_items() if i.state is not OutboxState.DONE]
    finally:
        store.close()
    assert queued and all(i.attempts >= 1 for i in queued)

    receiver.start()
    proc = run(config, base)
    try:
        ids = {i.id for i in queued}
        wait_for(
            lambda: ids <= {r.headers["X-Scalepilot-Notification-Id"] for r in receiver.received()},
            timeout=30,
            what="the notifications queued before kill -9",
        )
        delivered = [r for r in receiver.received() if r.headers["X-Scalepilot-Notification-Id"] in ids]
        assert any(r.json()["groupLabels"] == {"alertname": "AlwaysOn"} for r in delivered)
    finally:
        assert proc.stop(signal.SIGTERM) == 0
        receiver.stop()
