"""Delivery decisions for the outbox: when to retry, when to stop trying a receiver for a
while, when to give up on a notification. Pure: the clock and the random draw are
arguments, so the delivery worker's behaviour is tested under virtual time.

- **Backoff**: the wait before retry *n* is ``initial × multiplier^(n-1)`` capped at
  ``max``, then shortened by a random fraction of at most ``jitter`` — so it lies in
  ``[d × (1 - jitter), d]``. Jitter spreads notifications that failed together (one
  receiver down) so they do not all retry in the same instant when it comes back.
- **Circuit breaker** per receiver integration: *closed* while sends succeed; *open*
  after ``failures`` consecutive failures (nothing is sent, items wait); after
  ``cooldown`` one probe send is let through (*half-open*): success closes the circuit,
  failure opens it for another cooldown. A receiver that is down costs one attempt per
  cooldown instead of one per queued notification.
- **Dead letter**: a notification that failed ``max_attempts`` times, is older than
  ``max_age``, or failed permanently (a 4xx: retrying sends the same bad request) is
  given up and recorded as an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scalepilot.config.alertmanager import BreakerSettings, DeliverySettings, RetrySettings


def backoff_delay(settings: RetrySettings, attempt: int, draw: float) -> float:
    """Seconds before retrying after failed attempt number ``attempt`` (1-based);
    ``draw`` is uniform in [0, 1)."""
    exponent = min(max(attempt - 1, 0), 64)
    full = min(settings.max, settings.initial * settings.multiplier**exponent)
    return float(full * (1.0 - settings.jitter * draw))


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, settings: BreakerSettings) -> None:
        self._settings = settings
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False

    def state(self, now: float) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if now - self.opened_at >= self._settings.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self, now: float) -> bool:
        """May a send start now? In half-open, only one (the probe) until it reports."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def reopen_at(self) -> float | None:
        """When an open circuit lets its probe through."""
        return None if self.opened_at is None else self.opened_at + self._settings.cooldown

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._probing = False

    def failure(self, now: float) -> bool:
        """Count a failure; True if it opened (or re-opened) the circuit."""
        self.failures += 1
        was_probe = self._probing
        self._probing = False
        if was_probe or (self.opened_at is None and self.failures >= self._settings.failures):
            self.opened_at = now
            return True
        return False

    def release(self) -> None:
        """A probe that ended without a verdict (cancelled): let another one through."""
        self._probing = False


class Verdict(StrEnum):
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    next_at: float | None
    reason: str


def after_failure(
    settings: DeliverySettings,
    *,
    attempts: int,
    created_at: float,
    now: float,
    transient: bool,
    draw: float,
) -> Outcome:
    """What to do with a notification whose attempt number ``attempts`` just failed."""
    if not transient:
        return Outcome(Verdict.DEAD, None, "permanent failure")
    if attempts >= settings.max_attempts:
        return Outcome(Verdict.DEAD, None, f"{attempts} attempts failed")
    next_at = now + backoff_delay(settings.retry, attempts, draw)
    if next_at - created_at > settings.max_age:
        return Outcome(Verdict.DEAD, None, f"not delivered within {settings.max_age:g}s")
    return Outcome(Verdict.RETRY, next_at, "will retry")
