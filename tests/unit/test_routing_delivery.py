"""Delivery decisions under virtual time: backoff with jitter, circuit breaker, dead letter.

Covers:
- backoff grows by the multiplier up to max, and jitter keeps each wait within
  [d × (1 - jitter), d] for any draw;
- the breaker opens after N consecutive failures, lets one probe through after the
  cool-down (half-open), closes on success and re-opens for another cool-down on failure;
  a success before N resets the count;
- dead letter after max_attempts, after max_age, and at once on a permanent failure.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scalepilot.config.alertmanager import BreakerSettings, DeliverySettings, RetrySettings
from scalepilot.control.alerting.routing import BreakerState, CircuitBreaker, Verdict, after_failure
from scalepilot.control.alerting.routing.delivery import backoff_delay

RETRY = RetrySettings(initial=1.0, max=300.0, multiplier=2.0, jitter=0.2)


def test_backoff_grows_to_its_cap() -> None:
    assert [backoff_delay(RETRY, n, 0.0) for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert backoff_delay(RETRY, 10_000, 0.0) == 300


@given(st.integers(min_value=1, max_value=200), st.floats(min_value=0.0, max_value=0.999999))
def test_jitter_stays_within_bounds(attempt: int, draw: float) -> None:
    full = backoff_delay(RETRY, attempt, 0.0)
    delay = backoff_delay(RETRY, attempt, draw)
    assert full * 0.8 - 1e-9 <= delay <= full


def test_breaker_states() -> None:
    b = CircuitBreaker(BreakerSettings(failures=3, cooldown=30.0))
    t = 1000.0
    assert b.allow(t) and not b.failure(t) and not b.failure(t)
    b.success()  # a success resets the count
    assert not b.failure(t) and not b.failure(t)
    assert b.failure(t)  # the third in a row opens it
    assert b.state(t + 29) is BreakerState.OPEN and not b.allow(t + 29)
    assert b.state(t + 30) is BreakerState.HALF_OPEN
    assert b.allow(t + 30) and not b.allow(t + 30)  # one probe only
    assert b.failure(t + 31)  # the probe failed: open for another cool-down
    assert b.state(t + 60) is BreakerState.OPEN and b.reopen_at() == t + 61
    assert b.allow(t + 61)
    b.success()
    assert b.state(t + 61) is BreakerState.CLOSED and b.allow(t + 61) and b.allow(t + 61)


def test_dead_letter_bounds() -> None:
    s = DeliverySettings(max_attempts=5, max_age=3600.0, retry=RETRY)
    ok = after_failure(s, attempts=4, created_at=0.0, now=100.0, transient=True, draw=0.5)
    assert ok.verdict is Verdict.RETRY and ok.next_at is not None and 100 + 8 * 0.9 <= ok.next_at <= 108
    assert after_failure(s, attempts=5, created_at=0.0, now=100.0, transient=True, draw=0.5).verdict is Verdict.DEAD
    old = after_failure(s, attempts=2, created_at=0.0, now=3599.0, transient=True, draw=0.0)
    assert old.verdict is Verdict.DEAD and "3600" in old.reason
    bad = after_failure(s, attempts=1, created_at=0.0, now=1.0, transient=False, draw=0.0)
    assert bad.verdict is Verdict.DEAD and bad.reason == "permanent failure"
