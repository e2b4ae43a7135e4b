"""Errors of the target boundary.

::

    ScalepilotError
    └── TargetError                   a target could not do what was asked   (domain)
        ├── TargetClosed              used before start() or after stop()     (permanent)
        ├── InvalidReplicas           a negative replica count                (permanent)
        ├── ReplicasUnknown           no status command and nothing applied   (transient)
        └── CommandError              a scale or status command failed
            ├── CommandNotRunnable    executable or cwd missing, not executable (permanent)
            ├── CommandFailed         non-zero exit; exit code + stderr excerpt (transient)
            ├── CommandTimeout        no exit within the timeout; group killed  (transient)
            └── StatusOutputError     status printed something unparseable      (permanent)

*Transient* errors may succeed on a retry (a busy API server, a network blip); the
command target retries them itself with exponential backoff. *Permanent* ones need a
person (install the executable, fix the status command) and are not retried for the same
request. A local replica that cannot be started is not an error here: it is treated as a
crash (backoff, restart, crash-loop event), because the supervisor owns that retry.

The output of user commands is untrusted and may be huge: errors carry an excerpt of
at most :data:`EXCERPT_CHARS` characters.
"""

from __future__ import annotations

from scalepilot.domain.targets import TargetError

EXCERPT_CHARS = 500


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The last ``limit`` characters of ``text`` (the end of a log says why it failed)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1) :]


class TargetClosed(TargetError):
    """The target is not running: ``start()`` was not called, or ``stop()`` was."""


class InvalidReplicas(TargetError):
    def __init__(self, replicas: int) -> None:
        self.replicas = replicas
        super().__init__(f"cannot scale to {replicas} replicas: the count must be 0 or more")


class ReplicasUnknown(TargetError):
    """Without a status command the command target only knows what it applied; before
    the first success it knows nothing. Transient: the next successful scale fixes it."""

    transient = True


class CommandError(TargetError):
    """A user command (``scale`` or ``status``) failed. ``argv`` is what was run."""

    def __init__(self, message: str, argv: tuple[str, ...]) -> None:
        self.argv = argv
        super().__init__(message)


class CommandNotRunnable(CommandError):
    """The executable or the working directory does not exist, or is not executable.
    Retrying cannot help until someone installs or fixes it."""


class CommandFailed(CommandError):
    transient = True

    def __init__(self, argv: tuple[str, ...], exit_code: int, stderr: str) -> None:
        self.exit_code = exit_code
        self.stderr = excerpt(stderr)
        how = f"exit code {exit_code}" if exit_code >= 0 else f"killed by signal {-exit_code}"
        tail = f": {self.stderr}" if self.stderr else ""
        super().__init__(f"{argv[0]} failed with {how}{tail}", argv)


class CommandTimeout(CommandError):
    transient = True

    def __init__(self, argv: tuple[str, ...], timeout_s: float, stderr: str = "") -> None:
        self.timeout_s = timeout_s
        self.stderr = excerpt(stderr)
        super().__init__(f"{argv[0]} did not finish within {timeout_s:g}s and was killed", argv)


class StatusOutputError(CommandError):
    """The status command printed something that is not ``CURRENT`` or ``CURRENT READY``.
    Carries the offending text (truncated)."""

    def __init__(self, argv: tuple[str, ...], output: str, reason: str) -> None:
        self.output = excerpt(output, 200)
        super().__init__(f"cannot read replicas from the output of {argv[0]}: {reason} (got {self.output!r})", argv)
