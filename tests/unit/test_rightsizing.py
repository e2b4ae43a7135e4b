"""The right-sizing maths (control/rightsizing.py), krr ``simple``'s rule.

Covers: the percentile interpolates linearly between closest ranks as Prometheus's
quantile_over_time (and ignores NaN, and is NaN when empty); the memory buffer; CPU
rounds up to 10 m with a 10 m floor, memory up to a MiB; the CPU request is the highest
replica's percentile, not the percentile of all replicas pooled, and has no limit; the
memory request and limit are the peak of any replica + 15 %; the minimum-data rule
counts distinct covered steps (two replicas at the same time do not count twice) and
keeps what was measured; a service with no data; the relative change; bad settings are
refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from scalepilot.control.rightsizing import (
    MIB,
    ReplicaSeries,
    RightsizingSettings,
    Status,
    change,
    covered_seconds,
    enough_data,
    percentile,
    recommend_cpu,
    recommend_memory,
    round_cpu,
    round_memory,
    with_buffer,
)

STEP_S = 60.0


def series(replica: str, values: Sequence[float], start_min: int = 0) -> ReplicaSeries:
    ts = (np.arange(len(values), dtype=np.int64) + start_min) * 60_000
    return ReplicaSeries(replica, ts, np.asarray(values, dtype=np.float64))


def test_percentile_is_linear_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 11)]  # 1..10
    # rank = 0.95 × 9 = 8.55 → 9 + 0.55 × (10 − 9)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 100) == 10
    assert percentile([3.0, math.nan, 1.0], 50) == pytest.approx(2.0)
    assert math.isnan(percentile([], 95))


def test_buffer_and_rounding() -> None:
    assert with_buffer(200.0, 0.15) == pytest.approx(230.0)
    assert round_cpu(0.341) == pytest.approx(0.35)
    assert round_cpu(0.35) == pytest.approx(0.35)  # exact values are not bumped by float noise
    assert round_cpu(0.0001) == pytest.approx(0.01)
    assert round_cpu(0.0) == pytest.approx(0.01)
    assert round_memory(200 * MIB + 1) == 201 * MIB
    assert round_memory(200 * MIB) == 200 * MIB
    assert round_memory(10) == MIB


def test_cpu_request_is_the_highest_replica_percentile_and_has_no_limit() -> None:
    busy = series("0", [0.1] * 90 + [0.5] * 10)  # p95 = 0.5
    calm = series("1", [0.2] * 100)
    rec = recommend_cpu([busy, calm], STEP_S, RightsizingSettings(min_data_s=0))
    assert rec.status is Status.OK
    assert rec.measured == pytest.approx(0.5)
    # Pooled, the 200 values would give p95 = 0.2 + ... < 0.5; krr takes the max per pod.
    assert percentile(np.concatenate([busy.values, calm.values]), 95) < 0.5
    assert rec.request == pytest.approx(0.5)
    assert rec.limit is None
    assert rec.points == 200
    assert rec.replicas == ("0", "1")


def test_cpu_percentile_setting_is_used() -> None:
    rec = recommend_cpu(
        [series("0", [float(v) / 100 for v in range(1, 101)])], STEP_S, RightsizingSettings(50, 0.15, 0)
    )
    assert rec.measured == pytest.approx(0.505)
    assert rec.request == pytest.approx(0.51)


def test_memory_is_the_peak_of_any_replica_plus_buffer_for_request_and_limit() -> None:
    a = series("0", [100 * MIB] * 50 + [300 * MIB] + [100 * MIB] * 49)
    b = series("1", [200 * MIB] * 100)
    rec = recommend_memory([a, b], STEP_S, RightsizingSettings(min_data_s=0))
    assert rec.measured == 300 * MIB
    assert rec.request == rec.limit == math.ceil(300 * 1.15) * MIB
    other = recommend_memory([a, b], STEP_S, RightsizingSettings(memory_buffer=0.5, min_data_s=0))
    assert other.request == 450 * MIB


def test_minimum_data_counts_distinct_covered_steps() -> None:
    # Two replicas over the same 10 hours cover 10 hours, not 20.
    a = series("0", [0.3] * 600)
    b = series("1", [0.3] * 600)
    assert covered_seconds([a, b], STEP_S) == 10 * 3600
    # Side by side in time they cover 20.
    c = series("1", [0.3] * 600, start_min=600)
    assert covered_seconds([a, c], STEP_S) == 20 * 3600
    settings = RightsizingSettings(min_data_s=12 * 3600)
    short = recommend_cpu([a, b], STEP_S, settings)
    assert short.status is Status.NOT_ENOUGH_DATA
    assert short.request is None and short.limit is None
    assert short.measured == pytest.approx(0.3)  # what is there is still reported
    assert short.covered_s == 10 * 3600
    assert "not enough data: 10.0 h" in short.reason
    assert recommend_cpu([a, c], STEP_S, settings).status is Status.OK
    mem = recommend_memory([series("0", [MIB] * 600)], STEP_S, settings)
    assert mem.status is Status.NOT_ENOUGH_DATA and mem.request is None and mem.measured == MIB
    assert enough_data(3600, 3600)
    assert not enough_data(0, 0)


def test_a_service_with_no_data() -> None:
    empty = ReplicaSeries("0", np.array([], dtype=np.int64), np.array([], dtype=np.float64))
    for rec in (
        recommend_cpu([], STEP_S, RightsizingSettings()),
        recommend_memory([empty], STEP_S, RightsizingSettings()),
    ):
        assert rec.status is Status.NO_DATA
        assert rec.measured is None and rec.request is None
        assert rec.points == 0 and rec.covered_s == 0
        assert rec.reason == "no data in the window"


def test_change() -> None:
    assert change(1.0, 0.35) == pytest.approx(-0.65)
    assert change(512 * MIB, 1024 * MIB) == pytest.approx(1.0)
    assert change(None, 0.35) is None
    assert change(1.0, None) is None


@pytest.mark.parametrize(
    "kwargs", [{"cpu_percentile": 0}, {"cpu_percentile": 101}, {"memory_buffer": -0.1}, {"min_data_s": -1}]
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RightsizingSettings(**kwargs)
