"""What changed between the running config and the file read again, and what of it a
reload (``SIGHUP``, ``POST /-/reload``) applies while scalepilot runs.

Applied live: each service's ``autoscaling`` block (for a service that has a target
before and after: its autoscaler keeps its state and takes the new policy at its next
tick) and ``rule_files``. Everything else (targets, balancers, scrape and probe
settings, storage, the server, alerting routes, services added or removed) is built
once at start: a reload names each such key as needing a restart rather than
pretending it took effect. Restarting a local target's service would stop its
replicas, which is why the policy, the part people tune most, is the part that does
not need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scalepilot.config.models import Config
from scalepilot.config.scaling import AutoscalingSettings

_DEPTH = 3
"""How deep a changed key is named: ``scrape.interval``, ``services.shop.target.command``;
below that the enclosing key is named (a list, a receiver)."""


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    autoscaling: dict[str, AutoscalingSettings | None]
    """Services whose ``autoscaling`` changed (``None``: removed), applied live."""
    rule_files: bool
    """Whether ``rule_files`` changed (applied live: the rule files are re-read anyway)."""
    restart_needed: list[str]
    """Dotted keys that changed but take effect only when scalepilot restarts."""

    @property
    def applied(self) -> list[str]:
        """The changed keys a reload applies, as dotted keys."""
        keys = [f"services.{name}.autoscaling" for name in self.autoscaling]
        return [*keys, "rule_files"] if self.rule_files else keys


def diff(running: Config, new: Config) -> ConfigDiff:
    """Compare ``running`` with ``new`` (both valid)."""
    old_services = {s.name: s for s in running.services}
    new_services = {s.name: s for s in new.services}
    autoscaling: dict[str, AutoscalingSettings | None] = {}
    restart: list[str] = []
    for name in old_services.keys() - new_services.keys():
        restart.append(f"services.{name} (removed)")
    for name in new_services.keys() - old_services.keys():
        restart.append(f"services.{name} (added)")
    for name in sorted(old_services.keys() & new_services.keys()):
        old = old_services[name].model_dump(mode="json")
        now = new_services[name].model_dump(mode="json")
        live = old["target"] is not None and now["target"] is not None
        if old["autoscaling"] != now["autoscaling"]:
            if live:
                autoscaling[name] = new_services[name].autoscaling
            else:
                restart.append(f"services.{name}.autoscaling")
        restart.extend(_changed(_without(old, "autoscaling"), _without(now, "autoscaling"), f"services.{name}", 2))
    old_top = running.model_dump(mode="json", exclude={"services", "rule_files"})
    new_top = new.model_dump(mode="json", exclude={"services", "rule_files"})
    restart.extend(_changed(old_top, new_top, "", 0))
    return ConfigDiff(autoscaling, list(running.rule_files) != list(new.rule_files), sorted(restart))


def merge(running: Config, new: Config, changes: ConfigDiff) -> Config:
    """``running`` with the changes a reload applies taken from ``new``: the config
    scalepilot runs after the reload (the rest waits for a restart)."""
    services = [
        s.model_copy(update={"autoscaling": changes.autoscaling[s.name]}) if s.name in changes.autoscaling else s
        for s in running.services
    ]
    update: dict[str, Any] = {"services": services}
    if changes.rule_files:
        update["rule_files"] = list(new.rule_files)
    return running.model_copy(update=update)


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def _changed(old: Any, new: Any, path: str, depth: int) -> list[str]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict) and depth < _DEPTH:
        out = []
        for key in sorted(old.keys() | new.keys(), key=str):
            out.extend(_changed(old.get(key), new.get(key), f"{path}.{key}" if path else str(key), depth + 1))
        return out
    return [path]
