"""What changed between the running config and the file read again, and what of it a
reload (``SIGHUP``, ``POST /-/reload``) applies while scalepilot runs.

Applied live, as Prometheus applies a changed scrape config:

* each service's ``autoscaling`` block, for a service that has a target before and
  after: its autoscaler keeps its state and takes the new policy at its next tick;
* each service's ``signals`` (what the dashboard charts as load, latency and errors);
* services without a target (watched only): added, removed, or changed in their
  scrape endpoints, probes, labels or signals: scrape and probe loops start, stop (their
  series marked stale at once) or restart on the new settings;
* services with a target added (its replicas start, its autoscaler runs) or removed
  (its replicas are drained and stopped, as at shutdown);
* a local target's *template* (``command``, ``env``, ``cwd``): the new version is rolled
  out beside the running one by the service's ``rollout`` strategy, with the rest of the
  new target's settings; and the ``rollout`` block itself (the next rollout uses it);
* the ``scrape`` and ``probe`` defaults, and ``rule_files``.

Everything else (a service's balancer or watched processes, a command target, other
keys of a local target without a template change, storage, the server, alerting
routes) is built once at start: a reload names each such key as needing a restart
rather than pretending it took effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scalepilot.config.models import Config, Service, Signals
from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.config.targets import LocalTargetSettings

_DEPTH = 3
"""How deep a changed key is named: ``scrape.interval``, ``services.shop.target.command``;
below that the enclosing key is named (a list, a receiver)."""

_LIVE_TOP = ("scrape", "probe", "rule_files")
"""Top-level keys a reload applies."""

_TEMPLATE = ("command", "env", "cwd")
"""A local target's keys whose change makes new processes: a rollout."""

_RESTART_WATCHED = ("processes",)
"""Keys of a service without a target that only a restart applies (the stats loop's
process list is built at start)."""


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    autoscaling: dict[str, AutoscalingSettings | None]
    """Services with a target whose ``autoscaling`` changed (``None``: removed)."""
    signals: dict[str, Signals]
    """Services with a target whose ``signals`` changed."""
    watched: dict[str, Service | None]
    """Services without a target that were added or changed (``None``: removed)."""
    scaled: dict[str, Service | None]
    """Services with a target that were added (``None``: removed)."""
    rollouts: dict[str, Service]
    """Services whose local target's template changed: the new service, to roll out."""
    rollout: dict[str, Service]
    """Services with a target whose ``rollout`` block changed: the new service."""
    top: list[str]
    """Top-level keys among ``scrape``, ``probe`` and ``rule_files`` that changed."""
    applied: list[str]
    """Every changed key a reload applies, as dotted keys."""
    restart_needed: list[str]
    """Dotted keys that changed but take effect only when scalepilot restarts."""


def diff(running: Config, new: Config) -> ConfigDiff:
    """Compare ``running`` with ``new`` (both valid)."""
    old_services = {s.name: s for s in running.services}
    new_services = {s.name: s for s in new.services}
    autoscaling: dict[str, AutoscalingSettings | None] = {}
    signals: dict[str, Signals] = {}
    watched: dict[str, Service | None] = {}
    scaled: dict[str, Service | None] = {}
    rollouts: dict[str, Service] = {}
    rollout: dict[str, Service] = {}
    applied: list[str] = []
    restart: list[str] = []
    for name in sorted(old_services.keys() - new_services.keys()):
        (watched if old_services[name].target is None else scaled)[name] = None
        applied.append(f"services.{name} (removed)")
        if old_services[name].processes:
            restart.append(f"services.{name}.processes")
    for name in sorted(new_services.keys() - old_services.keys()):
        (watched if new_services[name].target is None else scaled)[name] = new_services[name]
        applied.append(f"services.{name} (added)")
        if new_services[name].processes:
            restart.append(f"services.{name}.processes")
    for name in sorted(old_services.keys() & new_services.keys()):
        old = old_services[name].model_dump(mode="json")
        now = new_services[name].model_dump(mode="json")
        if old == now:
            continue
        path = f"services.{name}"
        if old["target"] is None and now["target"] is None:
            waits = {k: old[k] for k in _RESTART_WATCHED}, {k: now[k] for k in _RESTART_WATCHED}
            restart.extend(_changed(*waits, path, 2))
            changed = _changed(_without(old, *_RESTART_WATCHED), _without(now, *_RESTART_WATCHED), path, 2)
            if changed:
                watched[name] = new_services[name]
                applied.extend(changed)
            continue
        if old["autoscaling"] != now["autoscaling"]:
            if old["target"] is not None and now["target"] is not None:
                autoscaling[name] = new_services[name].autoscaling
                applied.append(f"{path}.autoscaling")
            else:
                restart.append(f"{path}.autoscaling")
        if old["signals"] != now["signals"]:
            signals[name] = new_services[name].signals
            applied.append(f"{path}.signals")
        if old["rollout"] != now["rollout"]:
            rollout[name] = new_services[name]
            applied.append(f"{path}.rollout")
        live = ["autoscaling", "signals", "rollout"]
        before, after = old["target"], now["target"]
        if (
            before is not None
            and after is not None
            and before["type"] == after["type"] == "local"
            and any(before[k] != after[k] for k in _TEMPLATE)
        ):
            # The new processes take every key of the new target but the start count.
            rollouts[name] = new_services[name]
            applied.append(f"{path}.target (rolled out)")
            restart.extend(_changed(before["replicas"], after["replicas"], f"{path}.target.replicas", _DEPTH))
            live.append("target")
        restart.extend(_changed(_without(old, *live), _without(now, *live), path, 2))
    top: list[str] = []
    for key in _LIVE_TOP:
        changed = _changed(_dump(running, key), _dump(new, key), key, 1)
        if changed:
            top.append(key)
            applied.extend(changed)
    skip = {"services", *_LIVE_TOP}
    restart.extend(
        _changed(running.model_dump(mode="json", exclude=skip), new.model_dump(mode="json", exclude=skip), "", 0)
    )
    return ConfigDiff(autoscaling, signals, watched, scaled, rollouts, rollout, top, applied, sorted(restart))


def merge(running: Config, new: Config, changes: ConfigDiff) -> Config:
    """``running`` with the changes a reload applies taken from ``new``: the config
    scalepilot runs after the reload (the rest waits for a restart)."""
    services: list[Service] = []
    for s in running.services:
        if s.name in changes.scaled:
            continue  # removed (an added one is not in ``running``)
        if s.name in changes.watched:
            replacement = changes.watched[s.name]
            if replacement is not None:
                services.append(replacement.model_copy(update={"processes": s.processes}))
        else:
            update: dict[str, Any] = {}
            if s.name in changes.autoscaling:
                update["autoscaling"] = changes.autoscaling[s.name]
            if s.name in changes.signals:
                update["signals"] = changes.signals[s.name]
            if s.name in changes.rollout:
                update["rollout"] = changes.rollout[s.name].rollout
            if s.name in changes.rollouts:
                # The target scalepilot is moving to (the stable one is the controller's),
                # with the start count it started with: that one waits for a restart.
                before, after = s.target, changes.rollouts[s.name].target
                assert isinstance(before, LocalTargetSettings) and isinstance(after, LocalTargetSettings)
                update["target"] = after.model_copy(update={"replicas": before.replicas})
            services.append(s.model_copy(update=update) if update else s)
    known = {s.name for s in running.services}
    # The stats loop's process list is built at start: an added service's processes wait.
    added = [*changes.watched.items(), *changes.scaled.items()]
    services.extend(s.model_copy(update={"processes": []}) for name, s in added if s is not None and name not in known)
    top: dict[str, Any] = {"services": services}
    for key in changes.top:
        top[key] = getattr(new, key)
    return running.model_copy(update=top)


def _dump(config: Config, key: str) -> Any:
    return config.model_dump(mode="json", include={key})[key]


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def _changed(old: Any, new: Any, path: str, depth: int) -> list[str]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict) and depth < _DEPTH:
        out = []
        for key in sorted(old.keys() | new.keys(), key=str):
            out.extend(_changed(old.get(key), new.get(key), f"{path}.{key}" if path else str(key), depth + 1))
        return out
    return [path]
