"""The built-in rule pack: ordinary Prometheus alerting rules, generated per service.

The pack is written out as a Prometheus rule file (``scalepilot rules builtin`` prints
it) and loaded through the same loader as users' files, so it can be read, copied,
tested with ``scalepilot rules test`` or ``promtool test rules``, and switched off rule
by rule in ``alert_rules.builtin``. Every rule carries ``severity`` (``warning`` /
``critical``), ``service`` and ``source: builtin``.

The expressions read the series scalepilot records itself:

=================  ================================================================
latency            ``scalepilot_lb_request_duration_seconds_bucket`` (the balancer's
                   histogram; ``histogram_quantile`` over its ``rate``)
error rate         ``scalepilot_lb_requests_total{code=~"5.."}`` / all requests
cpu                ``rate(scalepilot_process_cpu_seconds_total)`` per replica, as % of
                   the replica's CPU limit (one core without a limit)
memory             ``scalepilot_process_resident_memory_bytes`` per replica, as % of
                   its memory limit (no rule without a limit: no "100 %" to compare to)
target down        ``up == 0`` of the service's scrape targets
crash loop         ``scalepilot_service_crash_loops``: crash-loop events of the
                   service's replicas in the last ``window`` (written by the rule
                   engine from the event log before each evaluation)
capacity           ``scalepilot_service_replicas_desired >=
                   scalepilot_service_replicas_max`` (written likewise; only for
                   services with autoscaling)
=================  ================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from scalepilot.config.rules import BuiltinPack, BuiltinRules, format_prom_duration

BUILTIN_FILE = "<builtin>"
CRASH_LOOPS = "scalepilot_service_crash_loops"
REPLICAS_DESIRED = "scalepilot_service_replicas_desired"
REPLICAS_MAX = "scalepilot_service_replicas_max"


@dataclass(frozen=True, slots=True)
class ServiceShape:
    """What the pack needs to know of a service."""

    name: str
    cpu_limit_cores: float | None = None
    memory_limit_bytes: int | None = None
    autoscaling: bool = False
    scraped: bool = True
    balanced: bool = True
    """Has scalepilot's balancer in front (latency and error-rate series exist)."""
    replicas: bool = True
    """Runs local replicas (process and crash-loop series exist)."""


def _dur(seconds: float) -> str:
    return format_prom_duration(round(seconds * 1000))


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _num(v: float) -> str:
    return repr(float(v)).removesuffix(".0") if float(v).is_integer() else repr(float(v))


def _rule(
    name: str, expr: str, severity: str, svc: str, settings: Any, summary: str, description: str
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if settings.for_ > 0:
        rule["for"] = _dur(settings.for_)
    if settings.keep_firing_for > 0:
        rule["keep_firing_for"] = _dur(settings.keep_firing_for)
    rule["labels"] = {"severity": severity, "service": svc, "source": "builtin"}
    rule["annotations"] = {"summary": summary, "description": description}
    return rule


def service_rules(shape: ServiceShape, pack: BuiltinPack) -> list[dict[str, Any]]:
    """The pack's rules for one service, as rule-file mappings."""
    svc = shape.name
    sel = f"service={_q(svc)}"
    out: list[dict[str, Any]] = []
    levels = ("warning", "critical")

    lat = pack.latency
    if lat.enabled and shape.balanced:
        window = _dur(lat.window)
        for level in levels:
            threshold = getattr(lat, level)
            if threshold is None:
                continue
            q = _num(lat.quantile)
            expr = (
                f"histogram_quantile({q}, sum by (service, le) "
                f"(rate(scalepilot_lb_request_duration_seconds_bucket{{{sel}}}[{window}]))) > {_num(threshold)}"
            )
            pct = round(lat.quantile * 100)
            out.append(
                _rule(
                    "ServiceLatencyHigh",
                    expr,
                    level,
                    svc,
                    lat,
                    f"{svc}: p{pct} latency {{{{ humanizeDuration $value }}}}",
                    f"p{pct} request latency of {svc} is above {_dur(threshold)} ({level}).",
                )
            )
    err = pack.error_rate
    if err.enabled and shape.balanced:
        window = _dur(err.window)
        for level in levels:
            threshold = getattr(err, level)
            if threshold is None:
                continue
            expr = (
                f'sum by (service) (rate(scalepilot_lb_requests_total{{{sel}, code=~"5.."}}[{window}])) '
                f"/ sum by (service) (rate(scalepilot_lb_requests_total{{{sel}}}[{window}])) > {_num(threshold / 100)}"
            )
            out.append(
                _rule(
                    "ServiceErrorRateHigh",
                    expr,
                    level,
                    svc,
                    err,
                    f"{svc}: {{{{ humanizePercentage $value }}}} of requests fail",
                    f"More than {_num(threshold)}% of {svc}'s requests got a 5xx answer ({level}).",
                )
            )
    if shape.replicas and pack.cpu.enabled:
        cores = shape.cpu_limit_cores or 1.0
        window = _dur(pack.cpu.window)
        for level in levels:
            threshold = getattr(pack.cpu, level)
            if threshold is None:
                continue
            expr = (
                f"sum by (service, replica) (rate(scalepilot_process_cpu_seconds_total{{{sel}}}[{window}])) "
                f"* 100 / {_num(cores)} > {_num(threshold)}"
            )
            out.append(
                _rule(
                    "ReplicaCPUHigh",
                    expr,
                    level,
                    svc,
                    pack.cpu,
                    f'{svc} replica {{{{ $labels.replica }}}}: CPU at {{{{ printf "%.0f" $value }}}}% of its limit',
                    f"A replica of {svc} uses more than {_num(threshold)}% of its CPU limit ({level}).",
                )
            )
    if shape.replicas and pack.memory.enabled and shape.memory_limit_bytes:
        for level in levels:
            threshold = getattr(pack.memory, level)
            if threshold is None:
                continue
            expr = (
                f"sum by (service, replica) (scalepilot_process_resident_memory_bytes{{{sel}}}) "
                f"* 100 / {shape.memory_limit_bytes} > {_num(threshold)}"
            )
            out.append(
                _rule(
                    "ReplicaMemoryHigh",
                    expr,
                    level,
                    svc,
                    pack.memory,
                    f'{svc} replica {{{{ $labels.replica }}}}: memory at {{{{ printf "%.0f" $value }}}}% of its limit',
                    f"A replica of {svc} uses more than {_num(threshold)}% of its memory limit ({level}).",
                )
            )
    if shape.scraped and pack.target_down.enabled:
        out.append(
            _rule(
                "TargetDown",
                f"up{{{sel}}} == 0",
                "critical",
                svc,
                pack.target_down,
                f"{svc}: {{{{ $labels.instance }}}} is down",
                f"Scraping {{{{ $labels.instance }}}} of {svc} has failed for {_dur(pack.target_down.for_)}.",
            )
        )
    if shape.replicas and pack.crash_loop.enabled:
        out.append(
            _rule(
                "ReplicaCrashLooping",
                f"{CRASH_LOOPS}{{{sel}}} > 0",
                "critical",
                svc,
                pack.crash_loop,
                f"{svc}: replicas are crash-looping",
                f"Replicas of {svc} crashed repeatedly within the last {_dur(pack.crash_loop.window)}; see "
                f"`scalepilot events --service {svc}`.",
            )
        )
    if shape.autoscaling and pack.capacity_exhausted.enabled:
        out.append(
            _rule(
                "AutoscalerAtMaxReplicas",
                f"{REPLICAS_DESIRED}{{{sel}}} >= on (service) {REPLICAS_MAX}{{{sel}}}",
                "warning",
                svc,
                pack.capacity_exhausted,
                f"{svc}: pinned at max_replicas ({{{{ $value }}}})",
                f"The autoscaler of {svc} has wanted max_replicas for {_dur(pack.capacity_exhausted.for_)}: "
                "the ceiling, not the load, now decides its health.",
            )
        )
    return out


def builtin_rule_file(shapes: list[ServiceShape], settings: BuiltinRules, interval_s: float | None = None) -> str:
    """The whole pack as the text of a Prometheus rule file (one group per service)."""
    groups = []
    if settings.enabled:
        for shape in shapes:
            rules = service_rules(shape, settings.for_service(shape.name))
            if rules:
                group: dict[str, Any] = {"name": f"scalepilot-builtin:{shape.name}"}
                if interval_s is not None:
                    group["interval"] = _dur(interval_s)
                group["rules"] = rules
                groups.append(group)
    return yaml.safe_dump({"groups": groups}, sort_keys=False, allow_unicode=True, width=200)
