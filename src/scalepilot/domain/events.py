"""Typed events: everything scalepilot notices or does, with a human-readable message
and machine-readable details."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """Every kind of event scalepilot records, in one place: the API, the CLI filters and
    the tests refer to these names instead of repeating literals. Details are JSON-able
    dicts; replica events carry ``replica`` (its id)."""

    # scalepilot itself
    STARTED = "started"
    STOPPED = "stopped"
    CONFIG_RELOADED = "config_reloaded"
    """The config file was read again (``SIGHUP``, ``POST /-/reload``): what was applied,
    what needs a restart, or why it was refused."""
    # collection
    TARGET_UP = "target_up"
    TARGET_DOWN = "target_down"
    PROBE_UP = "probe_up"
    PROBE_DOWN = "probe_down"
    # the autoscaler
    SCALING_DECISION = "scaling_decision"
    """An evaluation that changed the count, or whose reason differs from the last one."""
    SCALED = "scaled"
    """The autoscaler changed the replica count."""
    SCALE_FAILED = "scale_failed"
    MANUAL_SCALE = "manual_scale"
    AUTOSCALING_PAUSED = "autoscaling_paused"
    AUTOSCALING_RESUMED = "autoscaling_resumed"
    # replicas of a local target
    REPLICA_STARTED = "replica_started"
    """A replica's process was started (first start or restart)."""
    REPLICA_START_FAILED = "replica_start_failed"
    """Its process could not be started (missing executable or cwd); retried with backoff."""
    REPLICA_READY = "replica_ready"
    """It passed its readiness check and is routed to."""
    REPLICA_NOT_READY = "replica_not_ready"
    """A ready replica failed ``failure_threshold`` checks in a row; no longer routed."""
    REPLICA_EXITED = "replica_exited"
    """Its process ended without being asked to; a restart follows after a backoff."""
    REPLICA_CRASH_LOOP = "replica_crash_loop"
    """``crash_loop.restarts`` crashes within ``crash_loop.within``; once per loop."""
    REPLICA_STOPPED = "replica_stopped"
    """It was removed (scale-down or shutdown): drained, terminated, gone."""
    REPLICA_ORPHAN_STOPPED = "replica_orphan_stopped"
    """A process an earlier run left behind was found at start-up and stopped."""
    # rollouts of a local target (details: revision, stable_revision, stage, stages,
    # stage_label, weight; and actor, reason where a person or a failure ended it)
    ROLLOUT_STARTED = "rollout_started"
    """A reload changed a local target's template: its new version is being rolled out."""
    ROLLOUT_STEP = "rollout_step"
    """A stage was reached: its new replicas ready, its traffic weight applied."""
    ROLLOUT_PAUSED = "rollout_paused"
    ROLLOUT_RESUMED = "rollout_resumed"
    ROLLOUT_ANALYSIS_FAILED = "rollout_analysis_failed"
    """A measurement of the canary failed, within ``failure_limit``."""
    ROLLOUT_PROMOTED = "rollout_promoted"
    """The new version is the stable one; the old replicas drain and stop."""
    ROLLOUT_ABORTED = "rollout_aborted"
    """All traffic back on the stable version; the new replicas stop."""
    # a command target
    SCALE_COMMAND_SUCCEEDED = "scale_command_succeeded"
    SCALE_COMMAND_FAILED = "scale_command_failed"
    # an external metric source (metrics_source: prometheus)
    METRIC_SOURCE_DOWN = "metric_source_down"
    """Queries to it failed after their retries; ``series`` readings are missing."""
    METRIC_SOURCE_UP = "metric_source_up"
    """It answered again after being down (not recorded for the first answer)."""
    # notification delivery (service.notifications)
    NOTIFICATION_DEAD = "notification_dead"
    """A notification given up (dead letter): a permanent refusal or too many attempts."""
    NOTIFICATION_CIRCUIT_OPENED = "notification_circuit_opened"
    NOTIFICATION_CIRCUIT_CLOSED = "notification_circuit_closed"
    # writes through the API (details carry ``actor``: ``token:<name>`` when auth is on)
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
    ALERTS_ACKNOWLEDGED = "alerts_acknowledged"
    SILENCE_ADDED = "silence_added"
    SILENCE_EXPIRED = "silence_expired"
    RULES_RELOADED = "rules_reloaded"
    """Recorded by earlier versions for a rule reload; ``config_reloaded`` covers it now."""


@dataclass(frozen=True, slots=True)
class Event:
    timestamp_ms: int
    kind: str
    message: str
    service: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
