"""What a config reload applies live and what it names as needing a restart.

Covers: an edited ``autoscaling`` block of a service with a target is applied (also
added or removed), and so are its ``signals``; when the target itself changes it needs a restart; services without
a target are applied when added, removed or edited, except their watched processes;
``scrape``, ``probe`` and ``rule_files`` are applied; every other changed key is named
at its depth (``services.web.target``, ``storage.retention.raw``); the merged config
takes only the applied keys; services with a target are added and removed;
identical configs differ in nothing.
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


def test_autoscaling_scrape_and_rule_files_apply_the_rest_waits() -> None:
    new = (
        BASE.replace("max_replicas: 5", "max_replicas: 9")
        .replace("interval: 15s", "interval: 30s")
        .replace("[a.yml]", "[a.yml, b.yml]")
        .replace("'2']", "'3']")
        + "  - name: extra\n"
        + "storage: {retention: {raw: 2d}}\n"
    )
    running, loaded = load_text(BASE), load_text(new)
    changes = diff(running, loaded)
    assert changes.applied == ["services.extra (added)", "services.web.autoscaling", "scrape.interval", "rule_files"]
    assert changes.restart_needed == ["services.web.target", "storage.retention.raw"]
    merged = merge(running, loaded, changes)
    web = next(s for s in merged.services if s.name == "web")
    assert web.autoscaling is not None and web.autoscaling.max_replicas == 9
    assert web.target == running.services[0].target  # the target waits for a restart
    assert merged.scrape.interval == 30.0 and merged.rule_files == ["a.yml", "b.yml"]
    assert merged.storage == running.storage
    assert [s.name for s in merged.services] == ["web", "watched", "extra"]


def test_autoscaling_removed_and_a_watched_service_removed_apply() -> None:
    new = BASE[: BASE.index("    autoscaling:")]
    changes = diff(load_text(BASE), load_text(new))
    assert changes.autoscaling == {"web": None} and changes.watched == {"watched": None}
    assert changes.applied == ["services.watched (removed)", "services.web.autoscaling"]
    assert changes.restart_needed == []
    assert [s.name for s in merge(load_text(BASE), load_text(new), changes).services] == ["web"]


def test_a_watched_service_applies_all_but_its_processes() -> None:
    new = BASE.replace("9000/metrics'}]}", "9002/metrics'}]}\n    labels: {team: a}\n    processes: [{pid: 1}]")
    running, loaded = load_text(BASE), load_text(new)
    changes = diff(running, loaded)
    assert changes.applied == ["services.watched.labels", "services.watched.scrape"]
    assert changes.restart_needed == ["services.watched.processes"]
    watched = merge(running, loaded, changes).services[1]
    assert watched.labels == {"team": "a"} and watched.processes == []


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


def test_signals_apply_on_a_service_with_a_target() -> None:
    signals = "    signals: {requests_counter: http_requests_total}\n"
    new = BASE.replace("  - name: watched\n", signals + "  - name: watched\n")
    running, loaded = load_text(BASE), load_text(new)
    changes = diff(running, loaded)
    assert changes.applied == ["services.web.signals"] and changes.restart_needed == []
    web = merge(running, loaded, changes).services[0]
    assert web.signals.requests_counter == "http_requests_total" and web.autoscaling == running.services[0].autoscaling


def test_services_with_a_target_are_added_and_removed() -> None:
    api = "  - name: api\n    target: {type: command, scale: [echo, '{replicas}'], status: [echo, '1']}\n"
    without_web = BASE[: BASE.index("  - name: web")] + BASE[BASE.index("  - name: watched") :]
    running, loaded = load_text(BASE), load_text(without_web + api)
    changes = diff(running, loaded)
    assert changes.applied == ["services.web (removed)", "services.api (added)"]
    assert changes.restart_needed == [] and changes.watched == {}
    assert changes.scaled == {"web": None, "api": loaded.services[1]}
    assert [s.name for s in merge(running, loaded, changes).services] == ["watched", "api"]


LOCAL = """
services:
  - name: shop
    target: {type: local, command: [python, app.py, v1], env: {A: '1'}, grace_period: 5s}
    rollout: {steps: [{weight: 10}, {pause: 1m}]}
"""


def test_a_local_targets_template_is_rolled_out_with_its_other_keys_but_the_start_count() -> None:
    new = LOCAL.replace("v1]", "v2]").replace("grace_period: 5s", "grace_period: 9s, replicas: 3")
    running, loaded = load_text(LOCAL), load_text(new)
    changes = diff(running, loaded)
    assert changes.applied == ["services.shop.target (rolled out)"]
    assert changes.restart_needed == ["services.shop.target.replicas"]
    assert changes.rollouts == {"shop": loaded.services[0]}
    target = merge(running, loaded, changes).services[0].target
    assert target is not None and target.type == "local"
    assert (target.command[-1], target.grace_period, target.replicas) == ("v2", 9.0, 1)


def test_other_local_target_keys_alone_wait_for_a_restart_and_the_rollout_block_applies() -> None:
    new = LOCAL.replace("grace_period: 5s", "grace_period: 9s").replace("{pause: 1m}", "{pause: 2m}")
    running, loaded = load_text(LOCAL), load_text(new)
    changes = diff(running, loaded)
    assert changes.rollouts == {}
    assert changes.applied == ["services.shop.rollout"]
    assert changes.restart_needed == ["services.shop.target"]
    merged = merge(running, loaded, changes).services[0]
    assert merged.rollout == loaded.services[0].rollout and merged.target == running.services[0].target
