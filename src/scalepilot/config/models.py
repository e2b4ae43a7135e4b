"""The typed, grouped models of ``scalepilot.yaml``.

Every field says its unit and why its default is what it is; the descriptions become the
JSON Schema (``scalepilot schema``) that editors use for completion. Unknown keys are
errors everywhere, because a misspelt key silently ignored is a 3 a.m. surprise.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scalepilot.config.alertmanager import AlertingSettings
from scalepilot.config.balancer import BalancerSettings
from scalepilot.config.base import Model
from scalepilot.config.durations import ByteSize, PositiveDuration
from scalepilot.config.metrics_source import EmbeddedSourceSettings, MetricsSourceSettings
from scalepilot.config.rollout import RolloutSettings
from scalepilot.config.rules import AlertRuleSettings
from scalepilot.config.scaling import AutoscalingSettings
from scalepilot.config.targets import LocalTargetSettings, TargetSettings
from scalepilot.domain.auth import is_loopback

_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SERVICE_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9_]*[a-z0-9])?")
# Labels scalepilot attaches itself; letting users set them would make series ambiguous.
RESERVED_LABELS = frozenset({"job", "instance", "service", "__name__"})


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for name in labels:
        if not _LABEL_NAME_RE.fullmatch(name) or name.startswith("__"):
            raise PydanticCustomError(
                "label_name",
                "invalid label name '{name}': use letters, digits and _, not starting with a digit or __",
                {"name": name},
            )
        if name in RESERVED_LABELS:
            raise PydanticCustomError("label_reserved", "label '{name}' is set by scalepilot", {"name": name})
    return labels


def _check_host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PydanticCustomError("address", "must be host:port, e.g. 127.0.0.1:8420")
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("url", "must be an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise PydanticCustomError("url", "has an invalid port") from None
    return value


def _unique(names: list[str], what: str) -> None:
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise PydanticCustomError(
                "duplicate",
                "{what} name '{n}' is used twice (items {a} and {b})",
                {"what": what, "n": name, "a": first[name], "b": i},
            )
        first[name] = i


Labels = Annotated[dict[str, str], Field(description="Extra labels attached to every series.")]


class AuthSettings(Model):
    """API tokens (``scalepilot token create``); see docs/security.md."""

    enabled: Literal["auto"] | bool = Field(
        "auto",
        description="Require an API token (Authorization: Bearer) with a role. auto: off on a loopback "
        "address, on anywhere else. false is refused on a non-loopback address: the API scales services.",
    )
    public_metrics: bool = Field(
        False,
        description="Serve /metrics without a token even when auth is on, for a Prometheus that cannot send "
        "one. Off: a scraper needs a viewer token (bearer_token in its scrape config).",
    )
    failures_per_minute: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Failed authentications allowed per client address and minute (a token bucket) before "
        "answering 429. 10: plenty for a typo, nothing for guessing.",
    )


class ServerSettings(Model):
    address: str = Field(
        "127.0.0.1:8420",
        description="host:port of the HTTP server (/health, /ready, /metrics, /status, API). "
        "Loopback by default: nothing is exposed to the network unless you say so.",
    )
    auth: AuthSettings = Field(default_factory=AuthSettings)

    _v = field_validator("address")(classmethod(lambda cls, v: _check_host_port(v)))

    @field_validator("auth")
    @classmethod
    def _auth_off_the_network(cls, auth: AuthSettings, info: ValidationInfo) -> AuthSettings:
        address = info.data.get("address")
        if auth.enabled is False and address and not is_loopback(address.rpartition(":")[0]):
            raise PydanticCustomError(
                "auth_required",
                "server.auth.enabled is false on the non-loopback address {address}: anyone who reaches it "
                "could scale your services. Create tokens (scalepilot token create --role admin) and set "
                "enabled: true or auto, or bind to 127.0.0.1",
                {"address": address},
            )
        return auth

    @property
    def auth_enabled(self) -> bool:
        """``auth.enabled`` resolved: ``auto`` is on unless the address is loopback."""
        if self.auth.enabled == "auto":
            return not is_loopback(self.host)
        return bool(self.auth.enabled)

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])


class RetentionSettings(Model):
    raw: PositiveDuration = Field(
        15 * 86400.0, description="How long raw samples are kept. 15d, as Prometheus's default."
    )
    rollup_1m: PositiveDuration = Field(
        90 * 86400.0,
        description="How long 1-minute rollups (min/max/sum/count/last) are kept: long enough for "
        "a quarter of capacity trends at a 60th of the raw size.",
    )
    rollup_5m: PositiveDuration = Field(
        400 * 86400.0,
        description="How long 5-minute rollups are kept: a year and a bit, for year-on-year peaks.",
    )


class StorageSettings(Model):
    data_dir: Path = Field(
        Path(".scalepilot"),
        description="Directory of the embedded store (SQLite in WAL mode). Relative paths are "
        "resolved against the config file's directory.",
    )
    flush_interval: PositiveDuration = Field(
        1.0,
        description="Appended samples become durable at most this long after they arrive; a crash "
        "loses at most this much. 1s balances fsync cost against data at risk.",
    )
    head_window: PositiveDuration = Field(
        1800.0,
        description="Samples stay in the in-memory head (and its write-ahead batches) this long "
        "before being compressed into per-series chunks. 30m gives 120 samples per chunk at a "
        "15s scrape interval, Prometheus's chunk size, and bounds head memory.",
    )
    maintenance_interval: PositiveDuration = Field(
        60.0,
        description="How often compaction, rollups and retention run in the background.",
    )
    retention: RetentionSettings = Field(default_factory=RetentionSettings)


class ScrapeDefaults(Model):
    interval: PositiveDuration = Field(
        15.0, description="Time between scrapes of one endpoint. 15s is the Prometheus convention."
    )
    timeout: PositiveDuration = Field(
        10.0, description="A scrape taking longer is abandoned and the endpoint marked down."
    )
    body_size_limit: ByteSize = Field(
        16 * 1024 * 1024,
        description="Uncompressed bytes read from one metrics page before it is refused; protects "
        "memory against a runaway exporter. 0 means no limit.",
    )
    sample_limit: int = Field(0, ge=0, description="A page with more samples than this is refused (0 = no limit).")

    @model_validator(mode="after")
    def _timeout_fits(self) -> ScrapeDefaults:
        if self.timeout > self.interval:
            raise PydanticCustomError("timeout", "timeout must not exceed interval")
        return self


class ProbeDefaults(Model):
    interval: PositiveDuration = Field(15.0, description="Time between two runs of one probe.")
    timeout: PositiveDuration = Field(5.0, description="A probe not answered within this fails.")


class HostStatsSettings(Model):
    enabled: bool = Field(True, description="Record host CPU and memory use.")
    interval: PositiveDuration = Field(15.0, description="Time between two readings.")


class Endpoint(Model):
    url: str = Field(description="URL of a Prometheus text or OpenMetrics page.")
    replica: str | None = Field(
        None, description="Value of the `replica` label; defaults to the endpoint's index in the list."
    )
    labels: Labels = Field(default_factory=dict)

    _u = field_validator("url")(classmethod(lambda cls, v: _check_http_url(v)))
    _l = field_validator("labels")(classmethod(lambda cls, v: _check_labels(v)))


class ServiceScrape(Model):
    interval: PositiveDuration | None = Field(None, description="Overrides scrape.interval.")
    timeout: PositiveDuration | None = Field(None, description="Overrides scrape.timeout.")
    endpoints: list[Endpoint] = Field(default_factory=list, description="Metrics pages of the replicas.")


class HTTPProbe(Model):
    type: Literal["http"]
    name: str = Field(description="Unique within the service; becomes the `probe` label.")
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    expect_status: list[int] = Field(
        default_factory=lambda: list(range(200, 300)),
        description="Status codes that count as success; default any 2xx.",
    )
    body_regex: str | None = Field(None, description="If set, the body must contain a match.")
    headers: dict[str, str] = Field(default_factory=dict)
    replica: str | None = None
    interval: PositiveDuration | None = Field(None, description="Overrides probe.interval.")
    timeout: PositiveDuration | None = Field(None, description="Overrides probe.timeout.")

    _u = field_validator("url")(classmethod(lambda cls, v: _check_http_url(v)))

    @field_validator("body_regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise PydanticCustomError("regex", "invalid regular expression: {e}", {"e": str(exc)}) from None
        return v

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, v: list[int]) -> list[int]:
        if not v:
            raise PydanticCustomError("status", "must list at least one status code")
        for code in v:
            if not 100 <= code <= 599:
                raise PydanticCustomError("status", "{code} is not an HTTP status code", {"code": code})
        return v


class TCPProbe(Model):
    type: Literal["tcp"]
    name: str
    address: str = Field(description="host:port that must accept a TCP connection.")
    replica: str | None = None
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None

    _a = field_validator("address")(classmethod(lambda cls, v: _check_host_port(v)))


Probe = Annotated[HTTPProbe | TCPProbe, Field(discriminator="type")]


class ProcessWatch(Model):
    """One process whose CPU and memory are recorded. Give exactly one of pid, pid_file,
    cmdline."""

    pid: int | None = Field(None, gt=0)
    pid_file: Path | None = None
    cmdline: str | None = Field(None, description="Regular expression matched against the joined command line.")
    replica: str | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> ProcessWatch:
        given = [n for n in ("pid", "pid_file", "cmdline") if getattr(self, n) is not None]
        if len(given) != 1:
            raise PydanticCustomError("process", "give exactly one of pid, pid_file, cmdline")
        if self.cmdline is not None:
            try:
                re.compile(self.cmdline)
            except re.error as exc:
                raise PydanticCustomError("regex", "invalid regular expression: {e}", {"e": str(exc)}) from None
        return self


_METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


class Signals(Model):
    """Which of the service's own series the dashboard reads for load, latency and errors.

    Unset fields follow what the service has: with scalepilot's balancer in front, its
    ``scalepilot_lb_*`` series (measured at the balancer, so every service gets them);
    otherwise the common client-library names below."""

    requests_counter: str | None = Field(
        None,
        description="A counter of requests served, with a status-code label (default: scalepilot_lb_requests_total "
        "behind the balancer, else http_requests_total).",
    )
    status_label: str | None = Field(
        None, description="The label of requests_counter holding the HTTP status (default: code)."
    )
    latency_histogram: str | None = Field(
        None,
        description="A histogram of request latency in seconds, without _bucket (default: "
        "scalepilot_lb_request_duration_seconds behind the balancer, else http_request_duration_seconds).",
    )

    @field_validator("requests_counter", "latency_histogram")
    @classmethod
    def _metric(cls, v: str | None) -> str | None:
        if v is not None and not _METRIC_NAME_RE.fullmatch(v):
            raise PydanticCustomError("metric_name", "not a metric name: letters, digits, _ and :")
        return v

    @field_validator("status_label")
    @classmethod
    def _label(cls, v: str | None) -> str | None:
        if v is not None and not _LABEL_NAME_RE.fullmatch(v):
            raise PydanticCustomError("label_name", "not a label name: letters, digits and _")
        return v


class DashboardSettings(Model):
    refresh: PositiveDuration = Field(
        5.0,
        description="How often the overview (and the live stream the dashboard reads) is recomputed; serving it "
        "costs nothing more however many browsers ask.",
    )


class Service(Model):
    name: str = Field(description="Lower-case name; becomes the `service` and `job` labels.")
    labels: Labels = Field(default_factory=dict)
    scrape: ServiceScrape = Field(default_factory=ServiceScrape)
    probes: list[Probe] = Field(default_factory=list)
    processes: list[ProcessWatch] = Field(default_factory=list)
    target: TargetSettings | None = Field(
        None,
        description="What runs the service's replicas: local child processes behind a built-in balancer, "
        "or a command that scales it elsewhere. Unset: scalepilot only watches the service.",
    )
    balancer: BalancerSettings | None = Field(
        None,
        description="The built-in load balancer in front of a local target's replicas. Unset with a local "
        "target: one on a free loopback port (see /status for its address).",
    )
    autoscaling: AutoscalingSettings | None = Field(
        None, description="Scale the target automatically. Unset: replicas change only when asked."
    )
    signals: Signals = Field(
        default_factory=Signals, description="The series the dashboard shows as load, latency and error rate."
    )
    rollout: RolloutSettings | None = Field(
        None,
        description="How a changed local target (command, env, cwd) is rolled out on reload: canary steps or "
        "blue-green, with analysis. Unset: the new version starts in full beside the old and takes all "
        "traffic once ready (a canary without steps).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SERVICE_NAME_RE.fullmatch(v):
            raise PydanticCustomError("service_name", "must be lower-case letters, digits, - and _, e.g. checkout-api")
        return v

    _l = field_validator("labels")(classmethod(lambda cls, v: _check_labels(v)))

    @model_validator(mode="after")
    def _scaling_needs_a_target(self) -> Service:
        if self.autoscaling is not None and self.target is None:
            raise PydanticCustomError("target", "autoscaling needs a target: what should it scale?")
        if self.balancer is not None and not isinstance(self.target, LocalTargetSettings):
            raise PydanticCustomError("balancer", "a balancer needs a local target (its replicas are the backends)")
        if self.rollout is not None and not isinstance(self.target, LocalTargetSettings):
            raise PydanticCustomError(
                "rollout", "a rollout needs a local target: its balancer is what moves traffic to the new version"
            )
        if self.autoscaling is not None:
            for metric in self.autoscaling.metrics:
                if (
                    metric.type == "memory"
                    and isinstance(self.target, LocalTargetSettings)
                    and not self.target.resources.memory
                ):
                    raise PydanticCustomError(
                        "metric", "a memory metric is a % of the memory limit: set target.resources.memory"
                    )
        if self.autoscaling is not None and not isinstance(self.target, LocalTargetSettings):
            for metric in self.autoscaling.metrics:
                if metric.type in ("cpu", "memory", "rps", "in_flight", "latency"):
                    raise PydanticCustomError(
                        "metric",
                        "metric type '{t}' is measured by scalepilot's own balancer and process stats, which "
                        "only a local target has; use a series metric with your own query",
                        {"t": metric.type},
                    )
        return self

    @field_validator("probes")
    @classmethod
    def _unique_probes(cls, probes: list[HTTPProbe | TCPProbe]) -> list[HTTPProbe | TCPProbe]:
        _unique([p.name for p in probes], "probe")
        return probes


class Config(Model):
    """The whole of ``scalepilot.yaml``."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    scrape: ScrapeDefaults = Field(default_factory=ScrapeDefaults)
    probe: ProbeDefaults = Field(default_factory=ProbeDefaults)
    host_stats: HostStatsSettings = Field(default_factory=HostStatsSettings)
    metrics_source: MetricsSourceSettings = Field(
        default_factory=lambda: EmbeddedSourceSettings(type="embedded"),
        description="Where scaling's series metrics are read from: the embedded store (default: nothing else "
        "to run) or an external Prometheus. The metric kinds scalepilot measures itself always read the "
        "embedded store.",
    )
    services: list[Service] = Field(default_factory=list)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    alerting: AlertingSettings | None = Field(
        None,
        description="Notification routing: Alertmanager's route, receivers, inhibit_rules and time_intervals, "
        "plus scalepilot's maintenance windows, escalations and delivery. Unset: nobody is notified.",
    )
    rule_files: list[str] = Field(
        default_factory=list,
        description="Prometheus rule files (globs, relative to this file) to evaluate: alerting and recording "
        "rules in Prometheus's format, loaded unchanged.",
    )
    evaluation_interval: PositiveDuration = Field(
        60.0,
        description="How often rule groups without their own interval are evaluated, in seconds "
        "(Prometheus's global.evaluation_interval; 1m as there).",
    )
    alert_rules: AlertRuleSettings = Field(
        default_factory=AlertRuleSettings,
        description="The rule engine: resend delay, for-grace period, external labels and the built-in rule "
        "pack generated for every service.",
    )

    @field_validator("services")
    @classmethod
    def _unique_services(cls, services: list[Service]) -> list[Service]:
        _unique([s.name for s in services], "service")
        return services
