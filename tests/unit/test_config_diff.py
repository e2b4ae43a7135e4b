"""What a config reload applies live and what it names as needing a restart.

Covers: an edited ``autoscaling`` block of a service with a target is applied (also
added or removed); on a service without a target it needs a restart (no autoscaler
runs there); ``rule_files`` is applied; every other changed key is named at its depth
(``scrape.interval``, ``services.web.target``), services added or removed too; the
merged config takes only the applied keys; identical configs differ in nothing.
"""

from __future__ import annotations

from scalepilot.config.diff import diff, merge
from scalepilot.config.loader import load_text

BASE = """
scrape: {interval: 15s}
rule_files: [a.yml]
services:
  - name: web
    target: {type: command, scale: [echo, '{replicas}'], status: [echo, '2']}
    autoscaling:
      max_replicas: 5
      metrics: [{type: series, name: load, query: 'vector(1)', target_type: value, target: 10}]
  - name: watched
    scrape: {endpoints: [{url: 'http://127.0.0.1:9000/metrics'}]}
"""


def test_identical_configs_differ_in_nothing() -> None:
    changes = diff(load_text(BASE), load_text(BASE))
    assert changes.applied == [] and changes.restart_needed == []


def test_autoscaling_and_rule_files_apply_the_rest_waits() -> None:
    new = (
        BASE.replace("max_replicas: 5", "max_replicas: 9")
        .replace("interval: 15s", "interval: 30s")
        .replace("[a.yml]", "[a.yml, b.yml]")
        .replace("'2']", "'3']")
        + "  - name: extra\n"
    )
    running, loaded = load_text(BASE), load_text(new)
    changes = diff(running, loaded)
    assert changes.applied == ["services.web.autoscaling", "rule_files"]
    assert changes.restart_needed == ["scrape.interval", "services.extra (added)", "services.web.target"]
    merged = merge(running, loaded, changes)
    web = next(s for s in merged.services if s.name == "web")
    assert web.autoscaling is not None and web.autoscaling.max_replicas == 9
    assert web.target == running.services[0].target  # the target waits for a restart
    assert merged.scrape.interval == 15.0 and merged.rule_files == ["a.yml", "b.yml"]
    assert [s.name for s in merged.services] == ["web", "watched"]


def test_autoscaling_removed_is_applied_and_a_removed_service_waits() -> None:
    new = BASE[: BASE.index("    autoscaling:")]
    changes = diff(load_text(BASE), load_text(new))
    assert changes.autoscaling == {"web": None}
    assert changes.restart_needed == ["services.watched (removed)"]


def test_autoscaling_without_a_target_needs_a_restart() -> None:
    new = BASE.replace("    target: {type: command, scale: [echo, '{replicas}'], status: [echo, '2']}\n", "")
    new = new.replace(
        "  - name: web\n", "  - name: web\n    scrape: {endpoints: [{url: 'http://127.0.0.1:9001/metrics'}]}\n"
    )
    new = (
        new[: new.index("    autoscaling:")]
        + "  - name: watched\n    scrape: {endpoints: [{url: 'http://127.0.0.1:9000/metrics'}]}\n"
    )
    changes = diff(load_text(BASE), load_text(new))
    assert changes.autoscaling == {}
    assert changes.restart_needed == ["services.web.autoscaling", "services.web.scrape", "services.web.target"]
