"""The webhook channel end to end: the notification service on a real store, a real
loopback HTTP receiver, the real clock.

Covers:
- an alert handed to the sink arrives after group_wait as Alertmanager's v4 JSON, field
  for field, with the notification id in X-Scalepilot-Notification-Id and
  Idempotency-Key, the User-Agent and the bearer token read from a file;
- the resolved notification follows (send_resolved), endsAt now a real time;
- a receiver answering 500 is retried with backoff until it accepts, with the same id on
  every attempt; the item ends done in the outbox;
- a 400 dead-letters at once, recorded as a notification_dead event without the token;
- consecutive failures open the circuit (an event), sends pause for the cool-down, one
  probe then closes it (an event) and the queue drains;
- /status-style output holds no URL and no secret;
- the Slack channel posts its attachment to an incoming-webhook URL read from a file.
"""

from __future__ import annotations

import json
from pathlib import Path

from scalepilot.domain.store import OutboxState
from tests.integration.test_notify_support import (
    FAST_DELIVERY,
    Receiver,
    Running,
    firing,
    open_store,
    resolved,
    service,
    wait_until,
)


def _config(receiver: Receiver, **extra: str) -> str:
    return f"""
route: {{receiver: team, group_by: [alertname, service], group_wait: 1s, group_interval: 1s}}
receivers:
  - name: team
    webhook_configs:
      - url: {receiver.url}
        http_config: {{authorization: {{credentials_file: token}}}}
{FAST_DELIVERY}
"""


async def test_v4_payload_arrives_after_group_wait(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cr3t-token\n")
    receiver = Receiver().start()
    store = open_store(tmp_path / "data")
    try:
        svc = service(_config(receiver), store, tmp_path)
        async with Running(svc):
            alert = firing(service="shop", severity="critical")
            svc.send([alert])
            (req,) = await wait_until(receiver.received, timeout=10, what="the firing notification")
            body = req.json()
            assert req.path == "/hook"
            assert req.headers["Authorization"] == "Bearer s3cr3t-token"
            assert req.headers["Content-Type"] == "application/json"
            assert req.headers["User-Agent"].startswith("scalepilot/")
            note_id = req.headers["X-Scalepilot-Notification-Id"]
            assert req.headers["Idempotency-Key"] == note_id and len(note_id) == 32
            assert set(body) == {
                "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
                "commonLabels", "commonAnnotations", "externalURL", "alerts",
            }  # fmt: skip
            assert body["version"] == "4"
            assert body["groupKey"] == '{}:{alertname="HighLatency", service="shop"}'
            assert body["truncatedAlerts"] == 0
            assert body["status"] == "firing"
            assert body["receiver"] == "team"
            assert body["groupLabels"] == {"alertname": "HighLatency", "service": "shop"}
            assert body["commonLabels"] == {"alertname": "HighLatency", "service": "shop", "severity": "critical"}
            assert body["commonAnnotations"] == {"summary": "HighLatency on shop"}
            assert body["externalURL"] == "http://sp:8420"
            (a,) = body["alerts"]
            assert set(a) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
            assert a["status"] == "firing" and a["labels"] == body["commonLabels"]
            assert a["annotations"] == {"summary": "HighLatency on shop"}
            assert a["startsAt"].endswith("Z") and a["endsAt"] == "0001-01-01T00:00:00Z"
            assert a["generatorURL"] == "http://sp:8420/graph" and a["fingerprint"] == alert.fingerprint

            svc.send([resolved(alert)])
            await wait_until(lambda: len(receiver.received()) >= 2, timeout=10, what="the resolved notification")
            done = receiver.received()[1].json()
            assert done["status"] == "resolved" and done["alerts"][0]["status"] == "resolved"
            assert done["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
            status = json.dumps(svc.status())
            assert "s3cr3t" not in status and receiver.url not in status
        items = store.outbox_items()
        assert [i.state for i in items] == [OutboxState.DONE, OutboxState.DONE]
    finally:
        store.close()
        receiver.stop()


async def test_retries_until_accepted_with_the_same_id(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    receiver = Receiver().start()
    receiver.answer = lambda n: 503 if n <= 2 else 200
    store = open_store(tmp_path / "data")
    try:
        svc = service(_config(receiver), store, tmp_path)
        async with Running(svc):
            svc.send([firing(service="shop")])
            (req,) = await wait_until(receiver.received, timeout=10, what="delivery after two 503s")
        assert receiver.attempts == 3
        (item,) = store.outbox_items()
        assert item.state is OutboxState.DONE and item.attempts == 3 and item.id == req.headers["Idempotency-Key"]
        assert "HTTP 503" in item.last_error
    finally:
        store.close()
        receiver.stop()


async def test_a_400_is_dead_lettered_as_an_event(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cr3t-token")
    receiver = Receiver().start()
    receiver.answer = lambda n: 400
    store = open_store(tmp_path / "data")
    try:
        svc = service(_config(receiver), store, tmp_path)
        async with Running(svc):
            svc.send([firing(service="shop")])
            (event,) = await wait_until(
                lambda: store.events(kinds=["notification_dead"]), timeout=10, what="the dead-letter event"
            )
        assert receiver.attempts == 1
        assert "HTTP 400" in event.message and event.details["receiver"] == "team"
        assert "s3cr3t" not in json.dumps(event.details) + event.message
        (item,) = store.outbox_items()
        assert item.state is OutboxState.DEAD
    finally:
        store.close()
        receiver.stop()


async def test_circuit_opens_pauses_and_closes(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    receiver = Receiver().start()
    healthy = False
    receiver.answer = lambda n: 200 if healthy else 503
    store = open_store(tmp_path / "data")
    try:
        svc = service(_config(receiver), store, tmp_path)
        async with Running(svc):
            svc.send([firing(service=s) for s in ("a", "b", "c", "d", "e")])
            await wait_until(
                lambda: store.events(kinds=["notification_circuit_opened"]), timeout=10, what="the circuit to open"
            )
            (entry,) = svc.status()["receivers"]
            assert entry["circuit"] in ("open", "half_open")
            healthy = True
            await wait_until(lambda: len(receiver.received()) >= 5, timeout=10, what="all five after the probe")
            await wait_until(
                lambda: store.events(kinds=["notification_circuit_closed"]), timeout=10, what="the circuit to close"
            )
        assert {r.json()["groupLabels"]["service"] for r in receiver.received()} == {"a", "b", "c", "d", "e"}
    finally:
        store.close()
        receiver.stop()


async def test_slack_incoming_webhook_receives_an_attachment(tmp_path: Path) -> None:
    receiver = Receiver().start()
    (tmp_path / "slack_url").write_text(receiver.url + "\n")
    config = f"""
route: {{receiver: chat, group_by: [alertname], group_wait: 200ms}}
receivers:
  - name: chat
    slack_configs: [{{api_url_file: slack_url, channel: "#ops", username: scalepilot}}]
{FAST_DELIVERY}
"""
    store = open_store(tmp_path / "data")
    try:
        svc = service(config, store, tmp_path)
        async with Running(svc):
            svc.send([firing(service="shop", severity="warning")])
            (req,) = await wait_until(receiver.received, timeout=10, what="the Slack message")
        body = req.json()
        assert body["channel"] == "#ops" and body["username"] == "scalepilot"
        (att,) = body["attachments"]
        assert att["title"] == "[FIRING:1] HighLatency (shop warning)" and att["color"] == "warning"
        assert "HighLatency on shop" in att["text"]
        assert [i.state for i in store.outbox_items()] == [OutboxState.DONE]
    finally:
        store.close()
        receiver.stop()
