"""Scale targets: local child processes, a user command.

:class:`LocalTarget` runs a service's replicas as supervised child processes;
:class:`CommandTarget` scales anything through a user's command. Both implement
:class:`~scalepilot.domain.targets.ScaleTarget`; their settings are in
:mod:`scalepilot.config.targets`.
"""

from scalepilot.adapters.targets.command import CommandTarget
from scalepilot.adapters.targets.errors import (
    CommandError,
    CommandFailed,
    CommandNotRunnable,
    CommandTimeout,
    InvalidReplicas,
    ReplicasUnknown,
    StatusOutputError,
    TargetClosed,
)
from scalepilot.adapters.targets.local.target import LocalTarget
from scalepilot.domain.targets import TargetError

__all__ = [
    "CommandError",
    "CommandFailed",
    "CommandNotRunnable",
    "CommandTarget",
    "CommandTimeout",
    "InvalidReplicas",
    "LocalTarget",
    "ReplicasUnknown",
    "StatusOutputError",
    "TargetClosed",
    "TargetError",
]
