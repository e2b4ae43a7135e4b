"""Notification latency: from an alert handed over as firing to the webhook receiving it.

The notification service runs in this process as in ``scalepilot run`` (the router, the
outbox in a real SQLite store in a temporary directory, the delivery worker, the webhook
channel) against a loopback HTTP receiver. Each trial hands one new firing alert (its
own group) to the sink, as the rule engine does when an alert becomes firing, and times
its arrival at the receiver. Routing holds it for ``group_wait`` on purpose, so the
figure reported is the time *beyond* group_wait (goal: at most 1 s).

Reference, measured in the same run against the same receiver: a bare HTTP POST round
trip of the same payload size with httpx (what the delivery itself cannot beat).

    .venv/bin/python bench/bench_notify.py              # 20 trials, group_wait 1s
    .venv/bin/python bench/bench_notify.py --quick      # 5 trials
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.alertmanager import AlertingSettings
from scalepilot.config.models import StorageSettings
from scalepilot.domain.alerts import Alert
from scalepilot.domain.clock import SystemClock
from scalepilot.domain.labels import make_labels
from scalepilot.service.notifications import Notifications


class Receiver:
    """Records the arrival time of every POST, by the ``trial`` group label."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.perf_counter()
                trial = ""
                if body.startswith(b"{") and b"groupLabels" in body:
                    trial = json.loads(body)["groupLabels"].get("trial", "")
                with owner.cond:
                    owner.arrivals.setdefault(trial, now)
                    owner.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def config(url: str, group_wait: str) -> AlertingSettings:
    return AlertingSettings.model_validate(
        yaml.safe_load(
            f"""
route: {{receiver: hook, group_by: [alertname, trial], group_wait: {group_wait}}}
receivers: [{{name: hook, webhook_configs: [{{url: "{url}"}}]}}]
"""
        )
    )


async def wait_arrival(receiver: Receiver, trial: str, within: float) -> float:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with receiver.cond:
            if trial in receiver.arrivals:
                return receiver.arrivals[trial]
        await asyncio.sleep(0.002)
    raise TimeoutError(f"trial {trial} never arrived")


async def measure(trials: int, group_wait_s: float) -> tuple[list[float], list[float]]:
    receiver = Receiver()
    beyond: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore.open(Path(tmp) / "data", StorageSettings())
        svc = Notifications(
            config(receiver.url, f"{round(group_wait_s * 1000)}ms"),
            store=store,
            clock=SystemClock(),
            base_dir=Path(tmp),
            external_url="http://127.0.0.1:8420",
        )
        stop = asyncio.Event()
        task = asyncio.create_task(svc.run(stop))
        try:
            for i in range(trials):
                now = time.time()
                alert = Alert(
                    make_labels(None, {"alertname": "BenchAlert", "trial": str(i), "service": "shop"}),
                    (("summary", "bench"),),
                    int(now * 1000),
                    int((now + 240) * 1000),
                )
                t0 = time.perf_counter()
                svc.send([alert])
                arrived = await wait_arrival(receiver, str(i), within=group_wait_s + 30)
                beyond.append(arrived - t0 - group_wait_s)
        finally:
            stop.set()
            await task
            await svc.aclose()
            store.close()

    # Reference: the same receiver, a bare POST of a payload of the same kind of size.
    payload = b'{"groupLabels": {"trial": "ref"}, "alerts": [' + b'{"x": "' + b"y" * 900 + b'"}]}'
    reference: list[float] = []
    async with httpx.AsyncClient() as client:
        for _ in range(trials):
            t0 = time.perf_counter()
            resp = await client.post(receiver.url, content=payload, headers={"Content-Type": "application/json"})
            reference.append(time.perf_counter() - t0)
            resp.raise_for_status()
    receiver.stop()
    return beyond, reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--group-wait", type=float, default=1.0, help="group_wait in seconds (default 1)")
    parser.add_argument("--quick", action="store_true", help="5 trials")
    args = parser.parse_args()
    trials = 5 if args.quick else args.trials
    beyond, reference = asyncio.run(measure(trials, args.group_wait))
    med, ref = statistics.median(beyond), statistics.median(reference)
    print(f"trials: {trials}, group_wait {args.group_wait:g} s")
    print(
        f"firing -> webhook, beyond group_wait: median {med * 1000:.1f} ms, "
        f"min {min(beyond) * 1000:.1f} ms, max {max(beyond) * 1000:.1f} ms (goal <= 1000 ms)"
    )
    print(f"reference, bare HTTP POST round trip: median {ref * 1000:.2f} ms")
    print(f"ratio (beyond group_wait / bare POST): {med / ref:.1f}x")
    print("goal met" if max(beyond) <= 1.0 else "goal NOT met")


if __name__ == "__main__":
    main()
