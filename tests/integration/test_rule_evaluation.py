"""Rules inside ``scalepilot run``: a real process, real exporters on loopback.

Covers: a user's Prometheus rule file evaluated on its interval (a recording rule's
series and ``ALERTS`` readable through ``/api/v1/query``); the built-in ``TargetDown``
rule firing for a target that answers 500; rule-evaluation metrics in ``/metrics``; and
a restart that keeps the alert's ``for`` timer (``ALERTS_FOR_STATE`` keeps its
``active_at``) instead of starting it over.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_notify_support import Receiver
from tests.support import Proc, free_port, start, start_exporter, wait_for

SCALEPILOT = [sys.executable, "-m", "scalepilot"]

RULES = """
groups:
  - name: demo
    interval: 1s
    rules:
      - record: service:up:sum
        expr: sum by (service) (up)
      - alert: DemoUp
        expr: up{replica="healthy"} == 1
        for: 3s
        labels: {severity: info}
        annotations: {summary: "{{ $labels.instance }} is up ({{ $value }})"}
"""


@pytest.fixture
def exporters() -> Iterator[dict[str, int]]:
    procs = {mode: start_exporter(mode) for mode in ("healthy", "error")}
    yield {mode: port for mode, (_, port) in procs.items()}
    for proc, _ in procs.values():
        proc.stop(signal.SIGKILL)


def write_config(tmp_path: Path, ports: dict[str, int], server_port: int, hook: str) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "demo.yml").write_text(RULES)
    endpoints = "\n".join(
        f"        - {{url: 'http://127.0.0.1:{port}/metrics', replica: '{name}'}}" for name, port in ports.items()
    )
    text = f"""
server: {{address: '127.0.0.1:{server_port}'}}
storage: {{data_dir: data, flush_interval: 200ms}}
scrape: {{interval: 1s, timeout: 500ms}}
host_stats: {{enabled: false}}
rule_files: ['rules/*.yml']
evaluation_interval: 1s
alert_rules:
  builtin:
    target_down: {{for: 2s}}
alerting:
  route: {{receiver: hook, group_by: [alertname], group_wait: 1s, group_interval: 1s}}
  receivers:
    - name: hook
      webhook_configs: [{{url: '{hook}'}}]
services:
  - name: demo
    scrape:
      endpoints:
{endpoints}
"""
    path = tmp_path / "scalepilot.yaml"
    path.write_text(text)
    return path


def query(base: str, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def run(config: Path, base: str) -> Proc:
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    proc.wait_line("scalepilot", timeout=20)

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout=15, what="/ready")
    return proc


@pytest.mark.slow
def test_rules_run_inside_scalepilot_and_survive_a_restart(tmp_path: Path, exporters: dict[str, int]) -> None:
    server_port = free_port()
    receiver = Receiver().start()
    config = write_config(tmp_path, exporters, server_port, receiver.url)
    base = f"http://127.0.0.1:{server_port}"
    proc = run(config, base)
    try:
        # Healthy up, error down: 1 once both targets have been scraped (until then the
        # rule may have seen only one of them).
        def recorded() -> list[dict[str, Any]] | None:
            found = query(base, 'service:up:sum{service="demo"}')
            return found if found and float(found[0]["value"][1]) == 1.0 else None

        wait_for(recorded, timeout=15, what="the recorded series at 1")

        firing = wait_for(
            lambda: query(base, 'ALERTS{alertname="DemoUp", alertstate="firing"}') or None,
            timeout=20,
            what="DemoUp to fire after its 3s `for`",
        )
        assert firing[0]["metric"]["severity"] == "info"
        down = wait_for(
            lambda: query(base, 'ALERTS{alertname="TargetDown", alertstate="firing"}') or None,
            timeout=20,
            what="the built-in TargetDown to fire for the target answering 500",
        )
        assert {d["metric"]["replica"] for d in down} == {"error"}
        assert all(d["metric"]["source"] == "builtin" and d["metric"]["severity"] == "critical" for d in down)

        # Handed to notification routing: the webhook receives DemoUp with its templated
        # annotation.
        def demo_up_delivered() -> dict[str, Any] | None:
            for req in receiver.received():
                for a in req.json()["alerts"]:
                    if a["labels"]["alertname"] == "DemoUp":
                        return dict(a)
            return None

        delivered = wait_for(demo_up_delivered, timeout=20, what="DemoUp at the webhook")
        assert delivered["status"] == "firing"
        assert delivered["annotations"]["summary"] == f"127.0.0.1:{exporters['healthy']} is up (1)"

        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert 'scalepilot_rule_evaluations_total{rule_group="' in metrics
        assert "scalepilot_rule_evaluation_duration_seconds_count" in metrics
        assert "scalepilot_rule_group_last_duration_seconds" in metrics
        status = httpx.get(f"{base}/status", timeout=5).json()["rules"]
        demo = next(g for g in status["groups"] if g["name"] == "demo")
        assert [r["health"] for r in demo["rules"]] == ["ok", "ok"]

        active_at = float(query(base, 'ALERTS_FOR_STATE{alertname="DemoUp"}')[0]["value"][1])
    finally:
        assert proc.stop(signal.SIGTERM) == 0

    restarted = time.time()
    proc = run(config, base)
    try:
        # The first sample written after the restart carries the original active_at:
        # the `for` timer was restored, not restarted (nor the alert re-made pending).
        def fresh() -> list[dict[str, Any]] | None:
            written = query(base, 'timestamp(ALERTS_FOR_STATE{alertname="DemoUp"})')
            return written if written and float(written[0]["value"][1]) > restarted else None

        wait_for(fresh, timeout=20, what="DemoUp evaluated after the restart")
        after = query(base, 'ALERTS_FOR_STATE{alertname="DemoUp"}')
        assert float(after[0]["value"][1]) == active_at
        assert query(base, 'ALERTS{alertname="DemoUp", alertstate="firing"}')
    finally:
        assert proc.stop(signal.SIGTERM) == 0
        receiver.stop()


def test_builtin_crash_loop_and_capacity_rules_read_the_facts_the_engine_writes(tmp_path: Path) -> None:
    """The built-in crash-loop and capacity rules over a real store: the rule engine
    writes the series they read (crash-loop events, desired and max replicas) itself."""
    from scalepilot.adapters.store import SQLiteStore
    from scalepilot.config.loader import load_text
    from scalepilot.config.models import StorageSettings
    from scalepilot.control.query.engine import Engine
    from scalepilot.domain.alerts import AlertState
    from scalepilot.domain.events import Event, EventKind
    from scalepilot.service.rule_evaluation import RuleEvaluation, ServiceFacts
    from scalepilot.service.selfmetrics import SelfMetrics

    cfg = load_text(
        """
services:
  - name: web
    target: {type: local, command: [app]}
    autoscaling: {max_replicas: 5, metrics: [{type: cpu, target: 50}]}
"""
    )
    now_ms = 1_700_000_000_000
    store = SQLiteStore.open(tmp_path / "data", StorageSettings())
    try:
        store.add_event(Event(now_ms - 60_000, EventKind.REPLICA_CRASH_LOOP, "crash loop", service="web"))

        class Clock:
            def now(self) -> float:
                return now_ms / 1000

            async def sleep(self, seconds: float) -> None:  # pragma: no cover - unused
                pass

        facts = {"web": ServiceFacts(desired_replicas=5, max_replicas=5)}
        rules = RuleEvaluation(
            cfg,
            store=store,
            querier=Engine(store),
            clock=Clock(),
            metrics=SelfMetrics(),
            base_dir=tmp_path,
            service_facts=lambda: facts,
        )
        rules.load()
        (ev,) = rules.evaluators
        sent = []
        for minute in range(0, 11):
            sent += rules.evaluate(ev, now_ms + minute * 60_000).to_send

        def state(name: str) -> AlertState | None:
            found = [a.state for r, a in ev.alerts() if r.name == name and a.resolved_at_ms is None]
            return found[0] if found else None

        # The crash loop happened 1 min before; the window is 15 min: still firing.
        assert state("ReplicaCrashLooping") is AlertState.FIRING
        # Pinned at max for 10 min: fires on the 10-minute mark.
        assert state("AutoscalerAtMaxReplicas") is AlertState.FIRING
        assert {a.name for a in sent} == {"ReplicaCrashLooping", "AutoscalerAtMaxReplicas"}
        # No longer pinned: resolves at the next evaluation.
        facts["web"] = ServiceFacts(desired_replicas=3, max_replicas=5)
        resolved = rules.evaluate(ev, now_ms + 11 * 60_000).to_send
        assert [(a.name, a.resolved) for a in resolved if a.name == "AutoscalerAtMaxReplicas"] == [
            ("AutoscalerAtMaxReplicas", True)
        ]
    finally:
        store.close()
