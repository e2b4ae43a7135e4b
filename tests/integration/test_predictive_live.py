"""Predictive scaling live: a ServiceController forecasting from a real SQLiteStore.

Covers: the request rate's history read from the store's 1 m rollups of the balancer's
``scalepilot_lb_requests_total`` counters (counter increases per minute, summed over the
``code`` series, a counter reset counted from zero), and incrementally (a second update
reads only the new minutes and agrees with a fresh read); a controller whose policy has
``predictive`` scales up a few minutes *before* a daily ramp seen on the two previous
days, the decision naming the forecast (limit ``predictive``, reason ``forecast ... req/s
at 08:01``) and the forecast shown in the service's description, while the same policy
without ``predictive`` stays where it is; with less history than ``min_history`` the
decision is reactive and says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scalepilot.adapters.probes import HTTPProber
from scalepilot.adapters.scrape.http import Fetcher
from scalepilot.adapters.scrape.parser import ACCEPT_HEADER
from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.loader import load_text
from scalepilot.config.models import StorageSettings
from scalepilot.domain.clock import VirtualClock
from scalepilot.domain.labels import make_labels
from scalepilot.domain.scaling import LimitKind
from scalepilot.domain.targets import TargetStatus
from scalepilot.service.controller import ServiceController
from scalepilot.service.metric_source import EmbeddedMetricSource
from scalepilot.service.readings import RateHistory
from scalepilot.service.selfmetrics import SelfMetrics

DAY = 86_400
START = 1_750_000_000 // DAY * DAY  # a UTC midnight
NOW = START + 2 * DAY + 7 * 3600 + 58 * 60  # day 3, 07:58 UTC: two minutes before the ramp


def rate_at(t: np.ndarray) -> np.ndarray:
    """20 req/s at night, 200 req/s from 08:00 to 20:00 UTC, every day."""
    hour = (t % DAY) / 3600.0
    return np.where((hour >= 8.0) & (hour < 20.0), 200.0, 20.0)


def backfill(store: SQLiteStore, until: float, *, reset_at: float | None = None) -> None:
    """The balancer's counters every 15 s from START to ``until``: 99 % code 200, 1 % 500."""
    ts = np.arange(START, until, 15.0)
    per_step = rate_at(ts) * 15.0
    for code, share in (("200", 0.99), ("500", 0.01)):
        counts = np.cumsum(per_step * share)
        if reset_at is not None:  # the balancer restarted: counting from zero again
            cut = int(np.searchsorted(ts, reset_at))
            counts[cut:] -= counts[cut - 1]
        (sid,) = store.series_ids([make_labels("scalepilot_lb_requests_total", {"service": "w", "code": code})])
        for lo in range(0, ts.size, 5000):
            chunk = slice(lo, lo + 5000)
            store.append([sid] * len(ts[chunk]), [int(t * 1000) for t in ts[chunk]], counts[chunk].tolist())
    store.flush()


CONFIG = """
services:
  - name: w
    target: {{type: command, scale: [echo, '{{replicas}}'], status: [echo, '2']}}
    autoscaling:
      max_replicas: 40
      metrics:
        - type: series
          name: requests
          query: sum(rate(scalepilot_lb_requests_total{{service="w"}}[1m]))
          target_type: average_value
          unit: req/s
          target: 10
      predictive: {{enabled: {enabled}, replica_rps: 10, horizon: 3m, min_history: {min_history}}}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.open(tmp_path / "data", StorageSettings(), clock=lambda: float(NOW)) as s:
        yield s


def _controller(store: SQLiteStore, tmp_path: Path, *, enabled: bool, min_history: str = "1d") -> ServiceController:
    config = load_text(CONFIG.format(enabled=str(enabled).lower(), min_history=min_history))
    controller = ServiceController(
        config.services[0],
        config,
        store=store,
        metric_source=EmbeddedMetricSource(store),
        clock=VirtualClock(float(NOW)),
        metrics=SelfMetrics(),
        fetcher=Fetcher(ACCEPT_HEADER),
        prober=HTTPProber(),
        base_dir=tmp_path,
        data_dir=tmp_path,
        on_crash=lambda name, exc: None,
    )
    controller.paused_until = float("inf")  # a paused autoscaler still decides, and acts on nothing
    return controller


async def _decide(store: SQLiteStore, tmp_path: Path, *, enabled: bool, min_history: str = "1d") -> ServiceController:
    controller = _controller(store, tmp_path, enabled=enabled, min_history=min_history)
    await controller._tick(float(NOW))
    return controller


def test_history_per_minute_from_rollups_and_incremental(store: SQLiteStore) -> None:
    backfill(store, NOW, reset_at=START + DAY + 3600)
    history = RateHistory("w", None)
    first_read, first = history.update(store, (NOW - 600) * 1000)
    assert first >= START * 1000
    minutes = (first + 60_000 * np.arange(first_read.size)) / 1000
    np.testing.assert_allclose(first_read, rate_at(minutes), rtol=1e-6)
    again, _ = history.update(store, NOW * 1000)
    fresh, fresh_first = RateHistory("w", None).update(store, NOW * 1000)
    assert again.size == first_read.size + 10 and fresh_first == first
    np.testing.assert_allclose(again, fresh)
    np.testing.assert_allclose(again[-10:], 20.0)


async def test_a_predictive_controller_scales_up_before_the_daily_ramp(store: SQLiteStore, tmp_path: Path) -> None:
    backfill(store, NOW)
    reactive = await _decide(store, tmp_path, enabled=False)
    assert reactive.last_decision is not None
    assert reactive.last_decision.replicas == 2  # 20 req/s at 10 per replica: nothing to do yet

    predictive = await _decide(store, tmp_path, enabled=True)
    decision = predictive.last_decision
    assert decision is not None
    assert decision.replicas > 2, decision.reason
    (limit,) = [lim for lim in decision.limits if lim.kind is LimitKind.PREDICTIVE]
    assert limit.before == 2 and limit.after > 2
    assert "forecast" in decision.reason and "req/s at 08:01 (+3m)" in decision.reason
    described = predictive.describe()["autoscaling"]["forecast"]
    assert described["rps"] > 40 and described["history"] >= 2 * DAY - 600


async def test_short_history_is_reactive_and_says_so(store: SQLiteStore, tmp_path: Path) -> None:
    backfill(store, NOW)
    controller = await _decide(store, tmp_path, enabled=True, min_history="30d")
    decision = controller.last_decision
    assert decision is not None and decision.replicas == 2
    assert not [lim for lim in decision.limits if lim.kind is LimitKind.PREDICTIVE]
    assert "forecast not used" in decision.reason and "min_history 30d" in decision.reason


async def test_a_reload_during_a_tick_leaves_that_tick_on_its_policy(store: SQLiteStore, tmp_path: Path) -> None:
    """A reload that removes the policy (and its rate history) while a tick awaits the
    target's status: the tick finishes on the policy it started with, and the next one
    does nothing."""
    backfill(store, NOW)
    controller = _controller(store, tmp_path, enabled=True)
    status = controller.target.status
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_status() -> TargetStatus:
        entered.set()
        await release.wait()
        return await status()

    controller.target.status = slow_status  # type: ignore[method-assign]
    tick = asyncio.create_task(controller._tick(float(NOW)))
    await entered.wait()
    controller.apply_autoscaling(None)
    release.set()
    await tick
    decision = controller.last_decision
    assert decision is not None and any(lim.kind is LimitKind.PREDICTIVE for lim in decision.limits)
    assert controller.policy is None and controller.describe()["autoscaling"] is None
    entered.clear()
    await controller._tick(float(NOW) + 15)
    assert not entered.is_set() and controller.last_decision is decision
