"""At-least-once delivery across a restart of the delivery worker.

Covers: notifications queued while the receiver is down survive closing the store and
the service (their attempts and errors recorded); a new store object on the same data
directory and a new service pick them up (claims of the old worker released), do not
re-notify from routing (the router's log was saved), and deliver every one of them once
the receiver comes back.
"""

from __future__ import annotations

from pathlib import Path

from scalepilot.domain.store import OutboxState
from tests.integration.test_notify_support import (
    FAST_DELIVERY,
    Receiver,
    Running,
    firing,
    open_store,
    service,
    wait_until,
)

SERVICES = [f"svc{i}" for i in range(12)]


async def test_nothing_is_lost_when_the_worker_restarts_while_the_receiver_is_down(tmp_path: Path) -> None:
    receiver = Receiver()  # not started: the receiver is down
    config = f"""
route: {{receiver: team, group_by: [service], group_wait: 200ms}}
receivers: [{{name: team, webhook_configs: [{{url: "{receiver.url}"}}]}}]
{FAST_DELIVERY}
"""
    data = tmp_path / "data"
    store = open_store(data)
    try:
        svc = service(config, store, tmp_path)
        async with Running(svc):
            svc.send([firing(service=s) for s in SERVICES])
            await wait_until(
                lambda: [i for i in store.outbox_items() if i.last_error] if len(store.outbox_items()) == 12 else None,
                timeout=15,
                what="all twelve queued and failing",
            )
    finally:
        store.close()
    store = open_store(data)  # a new store object on the same data directory
    try:
        before = store.outbox_items()
        assert len(before) == 12 and all(i.state in (OutboxState.PENDING, OutboxState.SENDING) for i in before)
        # Some were tried (and failed); the rest waited behind the open circuit.
        tried = [i for i in before if i.last_error]
        assert tried and all("connection refused" in i.last_error and i.attempts >= 1 for i in tried)
        svc = service(config, store, tmp_path)
        async with Running(svc):
            receiver.start()
            await wait_until(
                lambda: {r.json()["groupLabels"]["service"] for r in receiver.received()} == set(SERVICES),
                timeout=20,
                what="every notification after the receiver came back",
            )
            await wait_until(
                lambda: all(i.state is OutboxState.DONE for i in store.outbox_items()),
                timeout=10,
                what="every outbox item done",
            )
        assert len(store.outbox_items()) == 12  # routing did not notify again after the restart
        ids = {r.headers["X-Scalepilot-Notification-Id"] for r in receiver.received()}
        assert ids == {i.id for i in before}
    finally:
        store.close()
        receiver.stop()
