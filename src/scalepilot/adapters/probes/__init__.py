"""Health and readiness probes: HTTP (status set, body regex) and TCP connect."""

from scalepilot.adapters.probes.http import HTTPProber
from scalepilot.adapters.probes.result import ProbeResult
from scalepilot.adapters.probes.tcp import probe_tcp

__all__ = ["HTTPProber", "ProbeResult", "probe_tcp"]
