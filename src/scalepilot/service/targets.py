"""What to scrape, probe and watch, derived from the config at start and on each reload."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scalepilot.config.models import Config, HTTPProbe, ProcessWatch, TCPProbe
from scalepilot.domain.labels import Labels, make_labels


@dataclass(frozen=True, slots=True)
class ScrapeTarget:
    service: str
    url: str
    instance: str
    replica: str
    interval_s: float
    timeout_s: float
    body_size_limit: int
    sample_limit: int
    labels: Labels
    """Target labels attached to every series: job, instance, service, replica and the
    user's service and endpoint labels."""

    @property
    def key(self) -> str:
        return f"{self.service}/{self.url}"

    def offset_s(self) -> float:
        """A stable per-target phase within the interval, as Prometheus spreads scrapes: a
        restart keeps each target on the same beat and targets don't all fire at once."""
        return (zlib.crc32(self.key.encode()) % 1_000_000) / 1_000_000 * self.interval_s


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    service: str
    spec: HTTPProbe | TCPProbe
    replica: str
    interval_s: float
    timeout_s: float
    labels: Labels
    body_regex: re.Pattern[str] | None

    @property
    def key(self) -> str:
        return f"{self.service}/{self.spec.name}"

    @property
    def instance(self) -> str:
        return self.spec.url if isinstance(self.spec, HTTPProbe) else self.spec.address

    def offset_s(self) -> float:
        return (zlib.crc32(self.key.encode()) % 1_000_000) / 1_000_000 * self.interval_s


@dataclass(frozen=True, slots=True)
class WatchedProcess:
    service: str
    replica: str
    pid: int | None = None
    pid_file: Path | None = None
    cmdline: re.Pattern[str] | None = None


def instance_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        return f"{host}:{parts.port}"
    # Prometheus's instance label always carries a port: the scheme's default.
    return f"{host}:{443 if parts.scheme == 'https' else 80}"


def scrape_targets(config: Config) -> list[ScrapeTarget]:
    out = []
    for svc in config.services:
        interval = svc.scrape.interval or config.scrape.interval
        timeout = min(svc.scrape.timeout or config.scrape.timeout, interval)
        for i, ep in enumerate(svc.scrape.endpoints):
            replica = ep.replica if ep.replica is not None else str(i)
            instance = instance_of(ep.url)
            labels = make_labels(
                None,
                {
                    **svc.labels,
                    **ep.labels,
                    "job": svc.name,
                    "instance": instance,
                    "service": svc.name,
                    "replica": replica,
                },
            )
            out.append(
                ScrapeTarget(
                    svc.name,
                    ep.url,
                    instance,
                    replica,
                    interval,
                    timeout,
                    config.scrape.body_size_limit,
                    config.scrape.sample_limit,
                    labels,
                )
            )
    return out


def probe_targets(config: Config) -> list[ProbeTarget]:
    out = []
    for svc in config.services:
        for probe in svc.probes:
            interval = probe.interval or config.probe.interval
            timeout = min(probe.timeout or config.probe.timeout, interval)
            replica = probe.replica or ""
            instance = probe.url if isinstance(probe, HTTPProbe) else probe.address
            labels = make_labels(
                None,
                {
                    **svc.labels,
                    "job": svc.name,
                    "service": svc.name,
                    "probe": probe.name,
                    "instance": instance,
                    "replica": replica,
                },
            )
            regex = re.compile(probe.body_regex) if isinstance(probe, HTTPProbe) and probe.body_regex else None
            out.append(ProbeTarget(svc.name, probe, replica, interval, timeout, labels, regex))
    return out


def watched_processes(config: Config, base_dir: Path) -> list[WatchedProcess]:
    out = []
    for svc in config.services:
        for i, proc in enumerate(svc.processes):
            out.append(_watch(svc.name, i, proc, base_dir))
    return out


def _watch(service: str, index: int, proc: ProcessWatch, base_dir: Path) -> WatchedProcess:
    replica = proc.replica if proc.replica is not None else str(index)
    pid_file = proc.pid_file if proc.pid_file is None or proc.pid_file.is_absolute() else base_dir / proc.pid_file
    pattern = re.compile(proc.cmdline) if proc.cmdline else None
    return WatchedProcess(service, replica, proc.pid, pid_file, pattern)
