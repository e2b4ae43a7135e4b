"""Prometheus rule files, read unchanged, and the rule engine's settings in scalepilot.yaml.

**Rule files** are Prometheus's format (``groups:`` of ``name``, ``interval``, ``limit``,
``rules:`` with ``alert``/``record``, ``expr``, ``for``, ``keep_firing_for``, ``labels``,
``annotations``), so a team's existing files and CI checks carry over. They are checked as
Prometheus 2.42's ``rulefmt`` checks them — the same problems, in the same order, worded
the same way — but every problem names ``file:line:column``, and all problems of a file
are reported in one pass. Unknown keys are errors, as in Prometheus. One addition is
scalepilot's own: an alerting rule may carry ``anomaly:`` instead of ``expr:`` (see
:mod:`scalepilot.control.alerting.rules.anomaly`); a file using it is no longer a valid
Prometheus file, which is why it is a separate key rather than a new meaning of an old one.

What is checked here is the file's shape. Templates are parsed, and rules compiled, by
:mod:`scalepilot.control.alerting.rules.compile`, which adds its problems to the same list.

**Settings** (``rule_files``, ``evaluation_interval``, ``alert_rules``) are pydantic models
like the rest of ``scalepilot.yaml``; their fields document units and defaults.

Errors (one tree, rooted in :class:`~scalepilot.domain.errors.ScalepilotError`)::

    RuleFileError        a rule or unit-test file cannot be used; ``issues`` lists every
                         problem (permanent: fix the file)
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from scalepilot.config.base import Model
from scalepilot.config.durations import Duration, PositiveDuration
from scalepilot.config.scaling import Percent
from scalepilot.domain.errors import ScalepilotError

# --- Prometheus durations -------------------------------------------------------------------
_PROM_DURATION_RE = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?",
)
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def parse_prom_duration_ms(text: str) -> int:
    """Milliseconds in a Prometheus duration (``1h30m``, ``0``); no bare numbers, no
    negatives — exactly what ``model.ParseDuration`` accepts."""
    if text == "0":
        return 0
    if text == "":
        raise ValueError("empty duration string")
    m = _PROM_DURATION_RE.fullmatch(text)
    if m is None or not any(m.groups()):
        raise ValueError(f'not a valid duration string: "{text}"')
    total = sum(int(g) * unit for g, unit in zip(m.groups(), _UNIT_MS, strict=True) if g)
    if total >= 2**63 // 1_000_000:
        raise ValueError("duration out of range")
    return total


def parse_prom_duration(text: str) -> float:
    """Seconds in a Prometheus duration."""
    return parse_prom_duration_ms(text) / 1000.0


def format_prom_duration(ms: int) -> str:
    """Prometheus's spelling (``model.Duration.String``): ``1h30m``, ``0s``."""
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000)):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    for unit, size in (("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


# --- problems -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RuleIssue:
    """One problem in a rule or test file. ``order`` sorts problems as promtool lists
    them (group, rule, check)."""

    file: str
    line: int
    column: int
    message: str
    group: str | None = None
    rule: int | None = None
    """1-based index of the rule within its group."""
    rule_name: str = ""
    order: tuple[int, int, int] = (0, 0, 0)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        if self.group is not None and self.rule is not None:
            return f'{where}: group "{self.group}", rule {self.rule}, "{self.rule_name}": {self.message}'
        return f"{where}: {self.message}"


class RuleFileError(ScalepilotError):
    """A rule file (or rule unit-test file) cannot be used; ``issues`` lists every problem."""

    transient = False

    def __init__(self, issues: list[RuleIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


# --- what a rule file holds -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class AnomalySpec:
    """``anomaly:`` of an alerting rule (scalepilot's own; see the anomaly module)."""

    expr: str
    seasonality: str = "auto"
    k: float = 3.0
    window_ms: int = 30 * 60_000
    history_ms: int = 28 * 86_400_000
    min_seasons: int = 3
    direction: str = "both"
    min_deviation: float = 0.0
    min_deviation_ratio: float = 0.05


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule as written. ``positions`` maps each key present to its value's position."""

    index: int
    kind: Literal["alert", "record"]
    name: str
    expr: str
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    anomaly: AnomalySpec | None = None
    position: Position = Position(1, 1)
    positions: dict[str, Position] = field(default_factory=dict)

    def at(self, key: str) -> Position:
        return self.positions.get(key, self.position)


@dataclass(frozen=True, slots=True)
class GroupSpec:
    name: str
    file: str
    rules: tuple[RuleSpec, ...]
    interval_ms: int | None = None
    """None: the global ``evaluation_interval``."""
    limit: int = 0
    position: Position = Position(1, 1)
    index: int = 0
    query_offset_ms: int = 0
    """Prometheus 2.53's ``query_offset``: rules query this far in the past (data that
    arrives late is then complete) but write at the evaluation time."""


@dataclass(frozen=True, slots=True)
class RuleFileSpec:
    file: str
    groups: tuple[GroupSpec, ...]

    @property
    def rule_count(self) -> int:
        return sum(len(g.rules) for g in self.groups)


# --- YAML with positions ---------------------------------------------------------------------
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_GROUP_KEYS = ("name", "interval", "limit", "query_offset", "rules")
_RULE_KEYS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations", "anomaly")
_ANOMALY_KEYS = (
    "expr",
    "seasonality",
    "k",
    "window",
    "history",
    "min_seasons",
    "direction",
    "min_deviation",
    "min_deviation_ratio",
)


def _pos(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class _Reader:
    """Turns the composed YAML tree into specs, collecting every problem on the way."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[RuleIssue] = []

    def issue(
        self,
        at: Position,
        message: str,
        *,
        group: str | None = None,
        rule: RuleSpec | None = None,
        rule_index: int | None = None,
        rule_name: str = "",
        order: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        self.issues.append(
            RuleIssue(
                self.file,
                at.line,
                at.column,
                message,
                group,
                rule.index if rule is not None else rule_index,
                rule.name if rule is not None else rule_name,
                order,
            )
        )

    def mapping(self, node: yaml.Node, allowed: tuple[str, ...], what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.issue(_pos(node), f"{what} must be a mapping, not {_kind(node)}")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                self.issue(_pos(key_node), f"{what}: keys must be plain strings")
                continue
            if key in out:
                self.issue(_pos(key_node), f"{what}: key {key!r} is repeated")
                continue
            if key not in allowed:
                self.issue(_pos(key_node), f"{what}: unknown key {key!r} (allowed: {', '.join(allowed)})")
                continue
            out[key] = (key_node, value_node)
        return out

    def string(self, node: yaml.Node, what: str) -> str | None:
        """A scalar as Go's yaml decodes it into a string: the text as written."""
        if not isinstance(node, yaml.ScalarNode):
            self.issue(_pos(node), f"{what} must be a string, not {_kind(node)}")
            return None
        if node.tag == "tag:yaml.org,2002:null" or (node.style is None and node.value in ("~", "null", "Null", "NULL")):
            return ""
        return str(node.value)

    def duration(self, node: yaml.Node, what: str) -> int | None:
        text = self.string(node, what)
        if text is None:
            return None
        try:
            return parse_prom_duration_ms(text)
        except ValueError as exc:
            self.issue(_pos(node), f"{what}: {exc}")
            return None

    def integer(self, node: yaml.Node, what: str) -> int | None:
        text = self.string(node, what)
        if text is None:
            return None
        try:
            return int(text, 0) if text.lower().startswith(("0x", "0o", "0b")) else int(text)
        except ValueError:
            self.issue(_pos(node), f"{what} must be an integer, not {text!r}")
            return None

    def number(self, node: yaml.Node, what: str) -> float | None:
        text = self.string(node, what)
        if text is None:
            return None
        try:
            return float(text)
        except ValueError:
            self.issue(_pos(node), f"{what} must be a number, not {text!r}")
            return None

    def string_map(self, node: yaml.Node, what: str) -> tuple[tuple[str, str], ...]:
        if isinstance(node, yaml.ScalarNode) and self.string(node, what) == "":
            return ()
        if not isinstance(node, yaml.MappingNode):
            self.issue(_pos(node), f"{what} must be a mapping of names to strings, not {_kind(node)}")
            return ()
        out: dict[str, str] = {}
        for key_node, value_node in node.value:
            key = self.string(key_node, f"{what} name")
            value = self.string(value_node, f"{what} {key!r}")
            if key is None or value is None:
                continue
            if key in out:
                self.issue(_pos(key_node), f"{what}: {key!r} is repeated")
                continue
            out[key] = value
        return tuple(out.items())

    # --- the file ------------------------------------------------------------------------
    def read(self, root: yaml.Node | None) -> RuleFileSpec:
        if root is None:
            return RuleFileSpec(self.file, ())
        top = self.mapping(root, ("groups",), "the rule file")
        groups: list[GroupSpec] = []
        if "groups" in top:
            node = top["groups"][1]
            if isinstance(node, yaml.SequenceNode):
                seen: set[str] = set()
                for gi, group_node in enumerate(node.value):
                    group = self.group(group_node, gi, seen)
                    if group is not None:
                        groups.append(group)
            elif not (isinstance(node, yaml.ScalarNode) and self.string(node, "groups") == ""):
                self.issue(_pos(node), f"groups must be a list, not {_kind(node)}")
        return RuleFileSpec(self.file, tuple(groups))

    def group(self, node: yaml.Node, gi: int, seen: set[str]) -> GroupSpec | None:
        keys = self.mapping(node, _GROUP_KEYS, f"group {gi + 1}")
        if not isinstance(node, yaml.MappingNode):
            return None
        name = ""
        if "name" in keys:
            name = self.string(keys["name"][1], "group name") or ""
        where = _pos(node)
        if not name:
            self.issue(where, "Groupname must not be empty", order=(gi, 0, 0))
        elif name in seen:
            self.issue(where, f'groupname: "{name}" is repeated in the same file', order=(gi, 0, 1))
        seen.add(name)
        interval = self.duration(keys["interval"][1], "interval") if "interval" in keys else None
        limit = (self.integer(keys["limit"][1], "limit") or 0) if "limit" in keys else 0
        if limit < 0:
            self.issue(_pos(keys["limit"][1]), "limit must not be negative", order=(gi, 0, 2))
            limit = 0
        offset = (self.duration(keys["query_offset"][1], "query_offset") or 0) if "query_offset" in keys else 0
        rules: list[RuleSpec] = []
        if "rules" in keys:
            rules_node = keys["rules"][1]
            if isinstance(rules_node, yaml.SequenceNode):
                for ri, rule_node in enumerate(rules_node.value):
                    rule = self.rule(rule_node, name, gi, ri)
                    if rule is not None:
                        rules.append(rule)
            elif not (isinstance(rules_node, yaml.ScalarNode) and self.string(rules_node, "rules") == ""):
                self.issue(_pos(rules_node), f"rules must be a list, not {_kind(rules_node)}")
        return GroupSpec(name, self.file, tuple(rules), interval or None, limit, where, gi, offset)

    def rule(self, node: yaml.Node, group: str, gi: int, ri: int) -> RuleSpec | None:
        keys = self.mapping(node, _RULE_KEYS, f'group "{group}", rule {ri + 1}')
        if not isinstance(node, yaml.MappingNode):
            return None
        positions = {k: _pos(v) for k, (_, v) in keys.items()}
        values = {k: self.string(v, k) for k, (_, v) in keys.items() if k in ("record", "alert", "expr")}
        record, alert, expr = values.get("record") or "", values.get("alert") or "", values.get("expr") or ""
        for_ms = self.duration(keys["for"][1], "for") if "for" in keys else 0
        kff_ms = self.duration(keys["keep_firing_for"][1], "keep_firing_for") if "keep_firing_for" in keys else 0
        labels = self.string_map(keys["labels"][1], "labels") if "labels" in keys else ()
        annotations = self.string_map(keys["annotations"][1], "annotations") if "annotations" in keys else ()
        anomaly = self.anomaly(keys["anomaly"][1]) if "anomaly" in keys else None
        spec = RuleSpec(
            index=ri + 1,
            kind="record" if record and not alert else "alert",
            name=alert or record,
            expr=anomaly.expr if anomaly is not None else expr,
            for_ms=for_ms or 0,
            keep_firing_for_ms=kff_ms or 0,
            labels=labels,
            annotations=annotations,
            anomaly=anomaly,
            position=_pos(node),
            positions=positions,
        )
        self.validate(spec, group, gi, record, alert, expr, "anomaly" in keys)
        return spec

    def anomaly(self, node: yaml.Node) -> AnomalySpec | None:
        keys = self.mapping(node, _ANOMALY_KEYS, "anomaly")
        if not isinstance(node, yaml.MappingNode):
            return None
        base = AnomalySpec(expr="")
        expr = self.string(keys["expr"][1], "anomaly.expr") if "expr" in keys else None
        if not expr:
            self.issue(_pos(node), "anomaly: field 'expr' must be set")
            return None
        values: dict[str, object] = {"expr": expr}
        for key, choices in (("seasonality", ("auto", "daily", "weekly")), ("direction", ("both", "above", "below"))):
            if key in keys:
                text = self.string(keys[key][1], f"anomaly.{key}")
                if text is not None and text not in choices:
                    self.issue(_pos(keys[key][1]), f"anomaly.{key} must be one of {', '.join(choices)}, not {text!r}")
                elif text is not None:
                    values[key] = text
        for key, attr in (("window", "window_ms"), ("history", "history_ms")):
            if key in keys:
                ms = self.duration(keys[key][1], f"anomaly.{key}")
                if ms is not None and ms <= 0:
                    self.issue(_pos(keys[key][1]), f"anomaly.{key} must be greater than 0")
                elif ms is not None:
                    values[attr] = ms
        for key in ("k", "min_deviation", "min_deviation_ratio"):
            if key in keys:
                number = self.number(keys[key][1], f"anomaly.{key}")
                if number is not None and (number < 0 or (key == "k" and number == 0)):
                    self.issue(
                        _pos(keys[key][1]), f"anomaly.{key} must be {'greater than 0' if key == 'k' else '0 or more'}"
                    )
                elif number is not None:
                    values[key] = number
        if "min_seasons" in keys:
            count = self.integer(keys["min_seasons"][1], "anomaly.min_seasons")
            if count is not None and count < 1:
                self.issue(_pos(keys["min_seasons"][1]), "anomaly.min_seasons must be 1 or more")
            elif count is not None:
                values["min_seasons"] = count
        merged = {f: getattr(base, f) for f in base.__dataclass_fields__}
        merged.update(values)
        return AnomalySpec(**merged)

    def validate(self, r: RuleSpec, group: str, gi: int, record: str, alert: str, expr: str, anomaly: bool) -> None:
        n = 0

        def add(at: Position, message: str) -> None:
            nonlocal n
            n += 1
            self.issue(at, message, group=group, rule=r, order=(gi, r.index, n))

        if record and alert:
            add(r.at("record"), "only one of 'record' and 'alert' must be set")
        if not record and not alert:
            add(r.position, "one of 'record' or 'alert' must be set")
        if anomaly:
            if expr:
                add(r.at("expr"), "an anomaly rule takes its expression under anomaly.expr, not expr")
            if record:
                add(r.at("anomaly"), "invalid field 'anomaly' in recording rule")
        # The expression itself is parsed by the rule compiler, with scalepilot's own
        # PromQL parser (whose messages and positions match Prometheus's).
        if not r.expr and not anomaly:
            add(r.at("expr"), "field 'expr' must be set in rule")
        if record:
            if r.annotations:
                add(r.at("record"), "invalid field 'annotations' in recording rule")
            if r.for_ms:
                add(r.at("record"), "invalid field 'for' in recording rule")
            if r.keep_firing_for_ms:
                add(r.at("record"), "invalid field 'keep_firing_for' in recording rule")
            if not _METRIC_NAME_RE.fullmatch(record):
                add(r.at("record"), f"invalid recording rule name: {record}")
        for name, _ in r.labels:
            if not _LABEL_NAME_RE.fullmatch(name) or name == "__name__":
                add(r.at("labels"), f"invalid label name: {name}")
        for name, _ in r.annotations:
            if not _LABEL_NAME_RE.fullmatch(name):
                add(r.at("annotations"), f"invalid annotation name: {name}")


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the scalar {node.value!r}"


def compose(text: str, file: str) -> tuple[yaml.Node | None, list[RuleIssue]]:
    """The YAML node tree of ``text``, or the syntax error as an issue."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), []
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(p for p in (exc.context, exc.problem) if p)
        return None, [RuleIssue(file, line, col, f"invalid YAML: {reason}")]
    except yaml.YAMLError as exc:
        return None, [RuleIssue(file, 1, 1, f"invalid YAML: {exc}")]


def load_rule_text(text: str, file: str) -> tuple[RuleFileSpec, list[RuleIssue]]:
    """Parse a rule file's text: the groups found and every problem (possibly both: the
    problems say which rules are unusable)."""
    root, issues = compose(text, file)
    if issues:
        return RuleFileSpec(file, ()), issues
    reader = _Reader(file)
    spec = reader.read(root)
    return spec, sorted(reader.issues, key=lambda i: (i.order, i.line, i.column))


def load_rule_file(path: Path, display: str | None = None) -> tuple[RuleFileSpec, list[RuleIssue]]:
    """Read and parse one rule file (``display`` is the name problems carry)."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return RuleFileSpec(name, ()), [RuleIssue(name, 1, 1, f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        return RuleFileSpec(name, ()), [RuleIssue(name, 1, 1, f"not UTF-8 text: {exc.reason}")]
    return load_rule_text(text, name)


def expand_rule_files(patterns: list[str], base_dir: Path) -> tuple[list[Path], list[str]]:
    """Paths matching ``patterns`` (globs, relative to ``base_dir``), sorted and
    de-duplicated, and a warning for each pattern that matches nothing — as Prometheus
    does, a pattern matching nothing is not an error (the directory may fill later)."""
    found: list[Path] = []
    warnings: list[str] = []
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(base_dir / pattern)
        matches = sorted(glob.glob(full))  # noqa: PTH207 - patterns may be absolute; Path.glob takes relative ones
        if not matches:
            warnings.append(f"no file matches rule_files pattern {pattern!r}")
        for m in matches:
            p = Path(m)
            if p not in found:
                found.append(p)
    return found, warnings


# --- scalepilot.yaml: the rule engine and its built-in pack ----------------------------------------
class _Alert(Model):
    enabled: bool = Field(True, description="Generate this rule. false: not generated at all.")
    for_: Duration = Field(
        300.0,
        alias="for",
        description="How long the condition must hold before the alert fires, in seconds. 5m rides out a "
        "spike without waiting long enough to miss an outage.",
    )
    keep_firing_for: Duration = Field(
        0.0, description="Keep firing this long after the condition clears (damps flapping); 0: resolve at once."
    )


class LatencyAlert(_Alert):
    quantile: float = Field(0.95, gt=0, lt=1, description="Which latency quantile is compared: p95 by default.")
    warning: PositiveDuration | None = Field(
        0.2, description="p95 above this (seconds, e.g. 200ms) is a warning. The seed teams' response-time goal."
    )
    critical: PositiveDuration | None = Field(0.5, description="p95 above this is critical (e.g. 500ms).")
    window: PositiveDuration = Field(
        300.0, description="Rate window of the histogram, in seconds. 5m: enough requests for a stable p95."
    )


class ErrorRateAlert(_Alert):
    warning: Percent | None = Field(0.5, description="5xx share of requests above this (e.g. 0.5%) is a warning.")
    critical: Percent | None = Field(1.0, description="5xx share above this (e.g. 1%) is critical.")
    window: PositiveDuration = Field(300.0, description="Rate window, in seconds.")


class UsageAlert(_Alert):
    warning: Percent | None = Field(80.0, description="Use above this % of the replica's limit is a warning.")
    critical: Percent | None = Field(90.0, description="Use above this % of the limit is critical.")
    window: PositiveDuration = Field(300.0, description="Rate window of CPU seconds, in seconds (CPU only).")


class TargetDownAlert(_Alert):
    for_: Duration = Field(
        60.0, alias="for", description="A scrape target down this long fires (critical). 1m: four failed scrapes."
    )


class CrashLoopAlert(_Alert):
    for_: Duration = Field(0.0, alias="for", description="A crash loop is already a pattern: fire at once.")
    window: PositiveDuration = Field(
        900.0,
        description="The alert stays firing this long after the last crash-loop event (seconds). 15m: long "
        "enough to be seen, short enough to clear once the replica is fixed.",
    )


class CapacityAlert(_Alert):
    for_: Duration = Field(
        600.0,
        alias="for",
        description="The autoscaler pinned at max_replicas this long fires (warning): the ceiling, not the "
        "load, now decides the service's health.",
    )


class BuiltinPack(Model):
    """The rules scalepilot generates for each service (see ``scalepilot rules builtin``)."""

    latency: LatencyAlert = Field(default_factory=LatencyAlert)
    error_rate: ErrorRateAlert = Field(default_factory=ErrorRateAlert)
    cpu: UsageAlert = Field(default_factory=UsageAlert)
    memory: UsageAlert = Field(default_factory=UsageAlert)
    target_down: TargetDownAlert = Field(default_factory=TargetDownAlert)
    crash_loop: CrashLoopAlert = Field(default_factory=CrashLoopAlert)
    capacity_exhausted: CapacityAlert = Field(default_factory=CapacityAlert)


class BuiltinRules(BuiltinPack):
    enabled: bool = Field(True, description="Generate the built-in rules for every service. false: none at all.")
    services: dict[str, BuiltinPack] = Field(
        default_factory=dict,
        description="Per-service replacements, by service name: a section given here replaces the global one "
        "for that service, e.g. {checkout: {latency: {warning: 300ms, critical: 1s}}}.",
    )

    def for_service(self, name: str) -> BuiltinPack:
        override = self.services.get(name)
        if override is None:
            return self
        fields = {f: getattr(override if f in override.model_fields_set else self, f) for f in BuiltinPack.model_fields}
        return BuiltinPack.model_validate({k: v.model_dump(by_alias=True) for k, v in fields.items()})


class AlertRuleSettings(Model):
    """How alerting rules behave (``alert_rules:``)."""

    resend_delay: PositiveDuration = Field(
        60.0,
        description="A firing alert is handed to notification routing again this often (seconds), with endsAt "
        "4 x this ahead, so a receiver that missed a send still sees it: Prometheus's --rules.alert.resend-delay.",
    )
    for_grace_period: Duration = Field(
        600.0,
        description="After a restart, a pending alert is given at least this long before it may fire, so a "
        "restart never fires an alert whose `for` was not really met: Prometheus's "
        "--rules.alert.for-grace-period.",
    )
    external_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels templates see as $externalLabels (Prometheus's external_labels)."
    )
    builtin: BuiltinRules = Field(default_factory=BuiltinRules)

    @model_validator(mode="after")
    def _labels(self) -> AlertRuleSettings:
        for name in self.external_labels:
            if not _LABEL_NAME_RE.fullmatch(name):
                raise PydanticCustomError("label_name", "invalid label name {n!r}", {"n": name})
        return self
