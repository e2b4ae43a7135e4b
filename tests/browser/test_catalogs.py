"""The dashboard's string catalogs (no browser needed).

Covers: en.json and tr.json have exactly the same keys, none empty, with the same
``{placeholders}``; every key the scripts name literally (``t("...")``, ``data-i18n``)
exists; the Turkish catalog is Turkish (its own letters, not a copy of the English);
every event kind has an ``event.msg.*`` template (with its variants) or is listed as
falling back to the server's message on purpose, and the templates name only details the
emitting code puts in the event (a table kept by hand, checked against those files).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from scalepilot.domain.events import EventKind
from scalepilot.faces.web import STATIC_DIR

CATALOGS = {
    lang: json.loads((STATIC_DIR / "i18n" / f"{lang}.json").read_text(encoding="utf-8")) for lang in ("en", "tr")
}


def test_same_keys_and_none_empty() -> None:
    en, tr = CATALOGS["en"], CATALOGS["tr"]
    assert sorted(en) == sorted(tr), {"only en": set(en) - set(tr), "only tr": set(tr) - set(en)}
    for lang, catalog in CATALOGS.items():
        empty = [k for k, v in catalog.items() if not isinstance(v, str) or not v.strip()]
        assert not empty, f"{lang}: empty strings for {empty}"


def test_placeholders_match() -> None:
    names = re.compile(r"\{(\w+)\}")
    for key, text in CATALOGS["en"].items():
        assert set(names.findall(text)) == set(names.findall(CATALOGS["tr"][key])), key


def test_every_literal_key_used_exists() -> None:
    used: set[str] = set()
    for path in [*STATIC_DIR.glob("js/**/*.js"), STATIC_DIR / "index.html"]:
        text = Path(path).read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\("([\w.]+)"', text))
        used |= set(re.findall(r'data-i18n(?:-aria)?="([\w.]+)"', text))
    missing = sorted(used - set(CATALOGS["en"]))
    assert not missing, missing


def test_turkish_is_turkish() -> None:
    tr = CATALOGS["tr"]
    assert tr["nav.overview"] == "Genel bakış"
    assert tr["nav.alerts"] == "Uyarılar"
    assert tr["status.healthy"] == "Sağlıklı"
    letters = set("".join(tr.values()))
    assert set("çğıİöşü") <= letters | {"İ"}, set("çğıİöşü") - letters
    same = [k for k, v in tr.items() if v == CATALOGS["en"][k] and re.search(r"[a-z]{4,}", v)]
    assert len(same) < 15, same


# Event messages (js/events_text.js): ``event.msg.<kind>`` and ``event.msg.<kind>.<variant>``
# are filled from the event's details (and its service). What each emit site really puts
# in ``details``, read off the code named here; ``service`` where the event carries one.
# The test below checks every key still appears in that file, so the table cannot drift
# far from the code without failing.
SRC = Path(__file__).resolve().parents[2] / "src" / "scalepilot"
EMITTED: dict[str, tuple[str, set[str]]] = {
    "started": ("service/runtime.py", {"version", "config", "config_revision", "config_sha256"}),
    "stopped": ("service/runtime.py", set()),
    "target_up": ("service/scraping.py", {"service", "url", "instance", "replica", "error"}),
    "target_down": ("service/scraping.py", {"service", "url", "instance", "replica", "error"}),
    "probe_up": ("service/probing.py", {"service", "probe", "instance", "error", "status"}),
    "probe_down": ("service/probing.py", {"service", "probe", "instance", "error", "status"}),
    "scaled": ("service/controller.py", {"service", "from", "to", "actor", "reason"}),
    "scale_failed": ("service/controller.py", {"service", "replicas", "error", "transient", "retry_in_seconds"}),
    "manual_scale": ("service/controller.py", {"service", "from", "to", "actor", "reason", "autoscaling_paused_until"}),
    "autoscaling_paused": ("service/controller.py", {"service", "actor", "reason", "seconds"}),
    "autoscaling_resumed": ("service/controller.py", {"service", "actor"}),
    "replica_started": ("adapters/targets/local/supervisor.py", {"service", "replica", "pid", "port", "restarts"}),
    "replica_start_failed": (
        "adapters/targets/local/supervisor.py",
        {"service", "replica", "reason", "restarts", "restart_in_s", "last_lines"},
    ),
    "replica_ready": ("adapters/targets/local/supervisor.py", {"service", "replica", "pid", "port", "startup_s"}),
    "replica_not_ready": ("adapters/targets/local/supervisor.py", {"service", "replica", "pid", "failures"}),
    "replica_exited": (
        "adapters/targets/local/supervisor.py",
        {"service", "replica", "reason", "restarts", "restart_in_s", "last_lines", "pid", "port", "exit_code"},
    ),
    "replica_crash_loop": (
        "adapters/targets/local/supervisor.py",
        {"service", "replica", "crashes", "within_s", "reason", "restart_in_s", "last_lines"},
    ),
    "replica_stopped": (
        "adapters/targets/local/supervisor.py",
        {"service", "replica", "reason", "pid", "signal", "port", "drained", "drain_s", "exit"},
    ),
    "replica_orphan_stopped": (
        "adapters/targets/local/target.py",
        {"service", "replica", "pid", "found_by", "outcome", "cmdline"},
    ),
    "scale_command_succeeded": (
        "adapters/targets/command.py",
        {"service", "replicas", "previous", "attempt", "duration_s", "stdout"},
    ),
    "scale_command_failed": (
        "adapters/targets/command.py",
        {"service", "replicas", "attempt", "error", "transient", "command", "exit_code", "stderr", "retry_in_s"},
    ),
    "metric_source_down": ("service/metric_source.py", {"source", "error"}),
    "metric_source_up": ("service/metric_source.py", {"source"}),
    "notification_dead": (
        "service/notifications.py",
        {"receiver", "integration", "notification", "group", "attempts", "error"},
    ),
    "notification_circuit_opened": (
        "service/notifications.py",
        {"receiver", "integration", "notification", "group", "attempts", "failures", "cooldown_s", "error"},
    ),
    "notification_circuit_closed": (
        "service/notifications.py",
        {"receiver", "integration", "notification", "group", "attempts"},
    ),
    "token_created": ("service/tokens.py", {"actor", "token", "role", "expires"}),
    "token_revoked": ("service/tokens.py", {"actor", "token", "role"}),
    "alerts_acknowledged": ("faces/api/alerts.py", {"actor", "fingerprints", "comment"}),
    "silence_added": ("faces/api/alerts.py", {"actor", "silence", "matchers", "comment"}),
    "silence_expired": ("faces/api/alerts.py", {"actor", "silence"}),
    "config_reloaded": ("service/runtime.py", {"actor", "applied", "restart_needed", "problems"}),
    "rollout_started": ("service/rollouts.py", {"service", "revision", "stable_revision", "actor", "strategy"}),
    "rollout_step": (
        "control/rollout/machine.py",
        {"service", "revision", "stable_revision", "stage", "stages", "stage_label", "weight", "canary_replicas"},
    ),
    "rollout_paused": ("control/rollout/machine.py", {"service", "revision", "stable_revision", "reason", "actor"}),
    "rollout_resumed": ("control/rollout/machine.py", {"service", "revision", "stable_revision", "actor"}),
    "rollout_analysis_failed": (
        "control/rollout/machine.py",
        {"service", "revision", "stable_revision", "failures", "measurement"},
    ),
    "rollout_promoted": ("control/rollout/machine.py", {"service", "revision", "stable_revision", "reason", "actor"}),
    "rollout_aborted": ("control/rollout/machine.py", {"service", "revision", "stable_revision", "reason", "actor"}),
}
# Kinds no longer recorded, whose templates stay for the events older versions stored:
# their details, as EMITTED has them.
RETIRED = {
    # one per rule reload, before config_reloaded (which covers the rule files too).
    "rules_reloaded": {"actor", "problems"},
}
# Values events_text.js works out from a detail (DERIVED there), by the detail they need.
DERIVED = {"count": "fingerprints", "applied_keys": "applied", "restart_keys": "restart_needed"}
# Kinds shown with the server's English message on purpose.
FALLS_BACK = {
    # "<service>: <reason>": nothing but the autoscaler's reason text, left as it is.
    "scaling_decision",
}
# The templates besides the plain one, by kind: the names events_text.js's VARIANT picks.
VARIANTS = {
    "autoscaling_paused": {"indefinitely"},
    "autoscaling_resumed": {"expired"},
    "replica_exited": {"code"},
    "replica_orphan_stopped": {"unknown"},
    "replica_stopped": {"scale_down", "shutdown", "cancelled"},
    "rules_reloaded": {"refused"},
    "config_reloaded": {"restart", "restart_only", "unchanged", "refused"},
    "scale_command_failed": {"permanent"},
}
EVENTS_TEXT = (STATIC_DIR / "js" / "events_text.js").read_text(encoding="utf-8")


def test_every_event_kind_has_a_message_template_or_falls_back_on_purpose() -> None:
    kinds = {str(k) for k in EventKind}
    assert set(EMITTED) | set(RETIRED) | FALLS_BACK == kinds and not set(EMITTED) & FALLS_BACK
    templates = {k.removeprefix("event.msg.") for k in CATALOGS["en"] if k.startswith("event.msg.")}
    expected = set(EMITTED) | set(RETIRED) | {f"{kind}.{v}" for kind, names in VARIANTS.items() for v in names}
    assert templates == expected, {"missing": expected - templates, "unexpected": templates - expected}
    for names in VARIANTS.values():
        for name in names:
            assert f'"{name}"' in EVENTS_TEXT, f"events_text.js never picks the variant {name!r}"


def test_event_templates_name_only_details_the_code_provides() -> None:
    for key, text in CATALOGS["en"].items():
        if not key.startswith("event.msg."):
            continue
        kind = key.removeprefix("event.msg.").split(".")[0]
        provided = EMITTED[kind][1] if kind in EMITTED else RETIRED[kind]
        for name in re.findall(r"\{(\w+)\}", text):
            assert name in provided or DERIVED.get(name) in provided, f"{key}: no detail {name!r}"
            if name in DERIVED:
                assert f"{name}: (d) =>" in EVENTS_TEXT, f"events_text.js does not derive {name!r}"


def test_the_emitted_details_table_matches_the_emit_sites() -> None:
    for kind, (path, keys) in EMITTED.items():
        code = (SRC / path).read_text(encoding="utf-8")
        assert f"EventKind.{kind.upper()}" in code, (kind, path)
        for key in keys - {"service"}:
            assert f'"{key}"' in code or f"{key}=" in code, f"{kind}: {path} never sets {key!r}"


def test_event_outcomes_are_ones_the_code_names() -> None:
    code = (SRC / "adapters" / "targets" / "local" / "leftovers.py").read_text(encoding="utf-8")
    for key in CATALOGS["en"]:
        if key.startswith("event.outcome."):
            assert f'"{key.removeprefix("event.outcome.")}"' in code, key
