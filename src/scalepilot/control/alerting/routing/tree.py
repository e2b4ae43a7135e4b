"""Alertmanager's routing tree: which routes an alert takes, and the group it joins.

A route matches an alert when all its matchers do; then its children are tried in order,
depth first, and the first child that matches ends the search unless it says
``continue``. When no child matches, the route itself is the match. Options
(receiver, ``group_by``, the three timers) are inherited from the parent; time intervals
are not, as in Alertmanager.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scalepilot.config.alertmanager import RouteConfig
from scalepilot.domain.labels import Labels
from scalepilot.domain.matchers import Matcher

DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class RouteOpts:
    receiver: str
    group_by: tuple[str, ...] = ()
    group_by_all: bool = False
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL
    repeat_interval: float = DEFAULT_REPEAT_INTERVAL
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


@dataclass(eq=False, slots=True)
class Route:
    opts: RouteOpts
    matchers: tuple[Matcher, ...]
    continue_: bool
    key: str
    """Alertmanager's route key (``{}/{severity="critical"}``), the first half of a group key."""
    id: str
    """The key plus the position among siblings: unique within the tree."""
    routes: list[Route] = field(default_factory=list)

    def match(self, labels: Labels) -> list[Route]:
        if not all(m.matches(labels) for m in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found += hits
            if hits and not child.continue_:
                break
        return found or [self]

    def walk(self) -> list[Route]:
        out = [self]
        for child in self.routes:
            out += child.walk()
        return out

    def group_labels(self, labels: Labels) -> Labels:
        if self.opts.group_by_all:
            return labels
        wanted = set(self.opts.group_by)
        return tuple((k, v) for k, v in labels if k in wanted)


def quote(value: str) -> str:
    """Go's ``strconv.Quote`` for the characters label values hold in practice."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def format_matchers(matchers: tuple[Matcher, ...]) -> str:
    return "{" + ",".join(f"{m.name}{m.op.value}{quote(m.value)}" for m in matchers) + "}"


def format_label_set(labels: Labels) -> str:
    """Prometheus's ``LabelSet.String()``: ``{a="1", b="2"}``."""
    return "{" + ", ".join(f"{k}={quote(v)}" for k, v in labels) + "}"


def build_route(cfg: RouteConfig, parent: Route | None = None, position: int | None = None) -> Route:
    base = parent.opts if parent is not None else RouteOpts(receiver="")
    group_by, group_by_all = base.group_by, base.group_by_all
    if cfg.group_by is not None:
        group_by_all = cfg.group_by == ["..."]
        group_by = () if group_by_all else tuple(sorted(cfg.group_by))
    opts = RouteOpts(
        receiver=cfg.receiver if cfg.receiver is not None else base.receiver,
        group_by=group_by,
        group_by_all=group_by_all,
        group_wait=cfg.group_wait if cfg.group_wait is not None else base.group_wait,
        group_interval=cfg.group_interval if cfg.group_interval is not None else base.group_interval,
        repeat_interval=cfg.repeat_interval if cfg.repeat_interval is not None else base.repeat_interval,
        mute_time_intervals=tuple(cfg.mute_time_intervals),
        active_time_intervals=tuple(cfg.active_time_intervals),
    )
    matchers = tuple(sorted(cfg.all_matchers(), key=lambda m: (m.name, m.value, m.op.value)))
    key = (parent.key + "/" if parent is not None else "") + format_matchers(matchers)
    route = Route(
        opts=opts,
        matchers=matchers,
        continue_=cfg.continue_,
        key=key,
        # A parent's id (not key) prefixes the child's, so two siblings with equal
        # matchers keep apart all the way down.
        id=key if parent is None else f"{parent.id}/{format_matchers(matchers)}/{position}",
    )
    route.routes = [build_route(child, route, i) for i, child in enumerate(cfg.routes)]
    return route
