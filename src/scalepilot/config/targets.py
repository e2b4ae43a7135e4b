"""Settings of a service's scale target: ``target:`` in a service, one model per kind.

``type`` picks the kind (a discriminated union, so an error names the fields of the kind
you meant, not of every kind):

- ``local`` runs the replicas as child processes of scalepilot (the zero-setup default);
- ``command`` scales anything a command can scale (``kubectl scale``, a cloud CLI, a
  script).

Commands are argv lists, never shell strings: no quoting surprises, no injection through
a placeholder. Placeholders are replaced where they appear inside an item: ``{port}`` and
``{replica}`` for a local replica, ``{replicas}`` for a scale command. Any other text in
braces is left alone (``jsonpath={.status.readyReplicas}`` passes through); only the
placeholders of the *other* kind are rejected, since they are the likely typo.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scalepilot.config.base import Model
from scalepilot.config.durations import ByteSize, Duration, PositiveDuration

LOCAL_PLACEHOLDERS = ("{port}", "{replica}")
COMMAND_PLACEHOLDERS = ("{replicas}",)
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_argv(argv: list[str], wrong: tuple[str, ...], hint: str) -> list[str]:
    if not argv or not argv[0]:
        raise PydanticCustomError("argv", "must name a program: a non-empty list such as [python, app.py]")
    for i, item in enumerate(argv):
        for placeholder in wrong:
            if placeholder in item:
                raise PydanticCustomError(
                    "placeholder",
                    "item {i} uses {p}, which is not replaced here ({hint})",
                    {"i": i, "p": placeholder, "hint": hint},
                )
    return argv


# --- shared ----------------------------------------------------------------------------
class BackoffSettings(Model):
    """Exponential backoff: ``initial``, then × ``multiplier`` per consecutive failure, at
    most ``max``."""

    initial: PositiveDuration = Field(
        1.0, description="Wait before the first retry, in seconds. 1s: a quick second chance for a blip."
    )
    max: PositiveDuration = Field(
        60.0,
        description="Longest wait between retries, in seconds. 60s keeps a broken replica from burning "
        "CPU while still recovering within a minute once its cause is fixed.",
    )
    multiplier: float = Field(
        2.0, ge=1.0, le=10.0, description="Growth of the wait per consecutive failure. 2 doubles it, as Kubernetes."
    )

    @model_validator(mode="after")
    def _max_covers_initial(self) -> BackoffSettings:
        if self.max < self.initial:
            raise PydanticCustomError("backoff", "max must not be shorter than initial")
        return self


# --- local -----------------------------------------------------------------------------
class HTTPReadiness(Model):
    type: Literal["http"]
    path: str = Field("/healthz", description="Path requested on the replica's port; any 2xx means ready.")
    interval: PositiveDuration = Field(
        1.0, description="Seconds between two checks. 1s: a new replica gets traffic within a second of being ready."
    )
    timeout: PositiveDuration = Field(1.0, description="A check not answered within this many seconds fails.")
    failure_threshold: int = Field(
        3,
        ge=1,
        description="Consecutive failed checks after which a ready replica stops getting traffic (it keeps "
        "running and is checked on). 3 rides out one slow answer without flapping.",
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise PydanticCustomError("path", "must start with /, e.g. /healthz")
        return v


class TCPReadiness(Model):
    type: Literal["tcp"]
    interval: PositiveDuration = Field(1.0, description="Seconds between two checks (see http).")
    timeout: PositiveDuration = Field(1.0, description="A connection not accepted within this many seconds fails.")
    failure_threshold: int = Field(3, ge=1, description="Consecutive failed checks before traffic stops (see http).")


Readiness = Annotated[HTTPReadiness | TCPReadiness, Field(discriminator="type")]


class CrashLoopSettings(Model):
    restarts: int = Field(
        3, ge=1, description="This many crashes within `within` are a crash loop (an event, and an alert later)."
    )
    within: PositiveDuration = Field(
        300.0,
        description="The crash-loop window, in seconds. It also resets the restart backoff: a replica that "
        "ran this long without crashing starts afresh at `restart_backoff.initial`. 5m, as Kubernetes' "
        "backoff reset is of that order.",
    )


class ResourceSettings(Model):
    """The share of the machine one replica is meant to use. Not enforced: it is what
    ``cpu%`` and ``memory%`` metrics are relative to, and what right-sizing compares with."""

    cpu: float | None = Field(None, gt=0, description="CPU cores (1.0 = one core). Unset: percentages are of one core.")
    memory: ByteSize | None = Field(
        None, description="Memory in bytes (e.g. 256MiB). Unset: percentages are of the host's memory."
    )


class LocalTargetSettings(Model):
    """Replicas as child processes of scalepilot, each on its own loopback port."""

    type: Literal["local"]
    command: list[str] = Field(
        description="The program and its arguments, one item each (never a shell string). {port} and "
        "{replica} (the slot number, 0, 1, ...) are replaced. The environment also carries PORT."
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Added to scalepilot's own environment; values may use {port} and {replica}.",
    )
    cwd: Path = Field(Path(), description="Working directory; relative paths are against the config file.")
    replicas: int = Field(
        1,
        ge=0,
        description="Replicas started at start-up: the count when autoscaling is off, or until its first "
        "decision. 1: a declared service should run.",
    )
    readiness: Readiness = Field(
        default_factory=lambda: HTTPReadiness(type="http"),
        description="When a replica gets traffic: only after this check passes.",
    )
    grace_period: Duration = Field(
        30.0,
        description="Scale-down drains: the replica gets no new requests and its in-flight ones have this "
        "many seconds to finish before SIGTERM. 30s, Kubernetes' terminationGracePeriodSeconds.",
    )
    stop_timeout: PositiveDuration = Field(
        10.0,
        description="Seconds from SIGTERM to SIGKILL. 10s, Docker's default: enough to close connections "
        "and flush, short enough that a hung replica does not hold up a scale-down.",
    )
    restart_backoff: BackoffSettings = Field(
        default_factory=BackoffSettings, description="Wait before restarting a replica that exited."
    )
    crash_loop: CrashLoopSettings = Field(
        default_factory=CrashLoopSettings, description="When repeated crashes are reported as a crash loop."
    )
    resources: ResourceSettings = Field(
        default_factory=ResourceSettings,
        description="One replica's CPU and memory share: what cpu% and memory% are relative to (not enforced).",
    )
    metrics_path: str | None = Field(
        "/metrics",
        description="Path of each ready replica's metrics page, scraped by scalepilot; null disables it.",
    )
    log_max_size: ByteSize = Field(
        10 * 1024 * 1024,
        description="A replica's log file (stdout and stderr) is rotated to `.1` past this many bytes, so "
        "its logs use at most twice this on disk; 0 never rotates. 10MiB holds hours of a typical "
        "service's output.",
    )

    @field_validator("command")
    @classmethod
    def _command(cls, v: list[str]) -> list[str]:
        return _check_argv(v, COMMAND_PLACEHOLDERS, "a replica gets {port} and {replica}")

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not _ENV_NAME_RE.fullmatch(name):
                raise PydanticCustomError("env_name", "'{name}' is not an environment variable name", {"name": name})
            if name.startswith("SCALEPILOT_"):
                raise PydanticCustomError("env_reserved", "'{name}': SCALEPILOT_* is set by scalepilot", {"name": name})
            if "{replicas}" in value:
                raise PydanticCustomError(
                    "placeholder",
                    "{name} uses {replicas}, which is not replaced here (a replica gets {port} and {replica})",
                    {"name": name},
                )
        return v

    @field_validator("metrics_path")
    @classmethod
    def _metrics_path(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("/"):
            raise PydanticCustomError("path", "must start with /, e.g. /metrics")
        return v


def template_revision(settings: LocalTargetSettings) -> str:
    """A short, stable id (10 hex chars of a sha256) of what a replica's process is made from:
    command, env, cwd — what, when it changes, must be rolled out as new processes. Not the
    counts or timings.

    Canonical JSON (sorted keys), so the id does not depend on the order ``env`` was written
    in, and is the same in every run of scalepilot for the same template."""
    doc = {"command": settings.command, "env": settings.env, "cwd": settings.cwd.as_posix()}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


# --- command ---------------------------------------------------------------------------
def _command_backoff() -> BackoffSettings:
    return BackoffSettings(initial=2.0, max=300.0)


class CommandTargetSettings(Model):
    """Scale anything through a command: scalepilot runs ``scale`` with the replica count
    and, if given, ``status`` to read the current count back."""

    type: Literal["command"]
    scale: list[str] = Field(
        description="Program and arguments that set the replica count; {replicas} is replaced. Exit code 0 "
        "means done. Example: [kubectl, scale, deployment/shop, --replicas={replicas}]."
    )
    status: list[str] | None = Field(
        None,
        description="Optional program that prints the current replicas, or `CURRENT READY`, on stdout "
        "(empty output counts as 0, as kubectl's jsonpath prints nothing for a zero field). Without it the "
        "current count is the last one applied.",
    )
    replicas: int | None = Field(
        None,
        ge=0,
        description="If set, applied at start-up: the count when autoscaling is off, or until its first "
        "decision. Unset: scalepilot leaves the service as it finds it.",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Added to scalepilot's own environment.")
    cwd: Path = Field(Path(), description="Working directory; relative paths are against the config file.")
    timeout: PositiveDuration = Field(
        30.0,
        description="A command running longer is killed (its whole process group) and counts as failed. "
        "30s covers a kubectl call to a slow API server.",
    )
    retry_backoff: BackoffSettings = Field(
        default_factory=_command_backoff,
        description="Wait before retrying a failed scale command. 2s up to 5m: patient with a platform "
        "that is down, without hammering it.",
    )

    @field_validator("scale")
    @classmethod
    def _scale(cls, v: list[str]) -> list[str]:
        _check_argv(v, LOCAL_PLACEHOLDERS, "the scale command gets {replicas}")
        if not any("{replicas}" in item for item in v):
            raise PydanticCustomError("placeholder", "must contain {replicas} somewhere, e.g. --replicas={replicas}")
        return v

    @field_validator("status")
    @classmethod
    def _status(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            _check_argv(v, (*LOCAL_PLACEHOLDERS, *COMMAND_PLACEHOLDERS), "the status command gets no placeholders")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not _ENV_NAME_RE.fullmatch(name):
                raise PydanticCustomError("env_name", "'{name}' is not an environment variable name", {"name": name})
        return v


TargetSettings = Annotated[LocalTargetSettings | CommandTargetSettings, Field(discriminator="type")]
"""What ``target:`` of a service holds; ``type`` picks the model."""
