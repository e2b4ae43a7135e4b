"""Metric readings for the autoscaler, computed from a real store.

Covers: cpu as % of the CPU limit from the process CPU counter's rate, summed over a
replica's processes (a restart's old and new pid); memory from the newest RSS, stale
series skipped; rps and in_flight per replica from the balancer's series, keyed by
replica id; at zero replicas, rps and in_flight from the service-wide series (what
wakes a service scaled to zero); latency from the balancer's histogram, 0 with no
requests and None with no histogram at all; series selectors as a value and per replica;
no data → None.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.config.scaling import (
    CPUMetric,
    InFlightMetric,
    LatencyMetric,
    MemoryMetric,
    RPSMetric,
    SeriesMetric,
)
from scalepilot.domain.labels import make_labels
from scalepilot.domain.samples import STALE_NAN
from scalepilot.domain.targets import Replica, ReplicaState
from scalepilot.service.readings import ReadContext, read_metric

NOW = 1_800_000_000_000
WINDOW = 60_000
REPLICAS = (Replica("shop-0", 0, state=ReplicaState.READY), Replica("shop-1", 1, state=ReplicaState.READY))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.open(tmp_path, StorageSettings()) as s:
        yield s


def put(store: SQLiteStore, name: str, labels: dict[str, str], points: list[tuple[int, float]]) -> None:
    (sid,) = store.series_ids([make_labels(name, {"service": "shop", **labels})])
    for t, v in points:
        store.append([sid], t, [v])


def ctx(replicas: tuple[Replica, ...] = REPLICAS, **kw: object) -> ReadContext:
    base: dict[str, object] = {"cpu_limit_cores": 0.5, "memory_limit_bytes": 200_000_000}
    base.update(kw)
    return ReadContext("shop", replicas, NOW, WINDOW, base["cpu_limit_cores"], base["memory_limit_bytes"])  # type: ignore[arg-type]


def every_15s(start: float, per_second: float) -> list[tuple[int, float]]:
    return [(NOW - 60_000 + i * 15_000, start + per_second * 15 * i) for i in range(5)]


def metric(model: type, **kw: object) -> object:
    return model.model_validate(kw)  # type: ignore[attr-defined]


def test_cpu_is_a_share_of_the_limit_summed_over_processes(store: SQLiteStore) -> None:
    name = "scalepilot_process_cpu_seconds_total"
    put(store, name, {"replica": "0", "pid": "10"}, every_15s(100, 0.25))  # 0.25 cores of 0.5: 50 %
    # replica 1 restarted halfway: two pids, each 0.1 cores over its part
    put(store, name, {"replica": "1", "pid": "11"}, every_15s(5, 0.1)[:3])
    put(store, name, {"replica": "1", "pid": "12"}, every_15s(0, 0.1)[3:])
    reading = read_metric(store, metric(CPUMetric, type="cpu", target=70), ctx())  # type: ignore[arg-type]
    assert reading is not None and reading.per_replica is not None
    assert reading.per_replica["shop-0"] == pytest.approx(50.0)
    assert 0 < reading.per_replica["shop-1"] < 50


def test_memory_newest_value_and_stale(store: SQLiteStore) -> None:
    name = "scalepilot_process_resident_memory_bytes"
    put(store, name, {"replica": "0", "pid": "10"}, [(NOW - 30_000, 50_000_000), (NOW - 5_000, 100_000_000)])
    put(store, name, {"replica": "1", "pid": "11"}, [(NOW - 30_000, 50_000_000), (NOW - 5_000, STALE_NAN)])
    reading = read_metric(store, metric(MemoryMetric, type="memory", target=80), ctx())  # type: ignore[arg-type]
    assert reading is not None and reading.per_replica == {"shop-0": pytest.approx(50.0)}


def test_rps_and_in_flight_per_replica_and_at_zero(store: SQLiteStore) -> None:
    put(store, "scalepilot_lb_backend_requests_total", {"replica": "0"}, every_15s(0, 20))
    put(store, "scalepilot_lb_backend_requests_total", {"replica": "1"}, every_15s(0, 10))
    put(store, "scalepilot_lb_requests_total", {"code": "503"}, every_15s(0, 3))
    put(store, "scalepilot_lb_backend_in_flight", {"replica": "0"}, [(NOW - 20_000, 2), (NOW - 5_000, 4)])
    put(store, "scalepilot_lb_in_flight", {}, [(NOW - 20_000, 1), (NOW - 5_000, 2)])
    rps = read_metric(store, metric(RPSMetric, type="rps", target=50), ctx())  # type: ignore[arg-type]
    assert rps is not None and rps.per_replica == {"shop-0": pytest.approx(20), "shop-1": pytest.approx(10)}
    inflight = read_metric(store, metric(InFlightMetric, type="in_flight", target=5), ctx())  # type: ignore[arg-type]
    assert inflight is not None and inflight.per_replica == {"shop-0": pytest.approx(3)}
    # Scaled to zero: the balancer still counts the requests it turns away.
    rps0 = read_metric(store, metric(RPSMetric, type="rps", target=50), ctx(replicas=()))  # type: ignore[arg-type]
    assert rps0 is not None and rps0.value == pytest.approx(3)
    in0 = read_metric(store, metric(InFlightMetric, type="in_flight", target=5), ctx(replicas=()))  # type: ignore[arg-type]
    assert in0 is not None and in0.value == pytest.approx(1.5)


def test_latency_quantile_and_no_requests(store: SQLiteStore) -> None:
    p95 = metric(LatencyMetric, type="latency", quantile=0.95, target="250ms")
    assert read_metric(store, p95, ctx()) is None  # type: ignore[arg-type]
    # 100 requests per 15 s: 90 within 0.1 s, all within 0.2 s.
    for le, share in (("0.1", 0.9), ("0.2", 1.0), ("+Inf", 1.0)):
        put(
            store,
            "scalepilot_lb_request_duration_seconds_bucket",
            {"le": le},
            [(t, v * share) for t, v in every_15s(0, 100 / 15)],
        )
    reading = read_metric(store, p95, ctx())  # type: ignore[arg-type]
    assert reading is not None and reading.value == pytest.approx(0.1 + 0.1 * 0.5)
    quiet = read_metric(store, p95, ReadContext("shop", REPLICAS, NOW + 600_000, WINDOW, None, None))  # type: ignore[arg-type]
    assert quiet is None  # nothing at all in the window: no data, not "no latency"


def test_latency_is_zero_when_the_histogram_shows_no_requests(store: SQLiteStore) -> None:
    for le in ("0.1", "+Inf"):
        put(store, "scalepilot_lb_request_duration_seconds_bucket", {"le": le}, every_15s(500, 0))
    reading = read_metric(store, metric(LatencyMetric, type="latency", quantile=0.95, target="250ms"), ctx())  # type: ignore[arg-type]
    assert reading is not None and reading.value == 0.0


def test_series_selector_value_and_per_replica(store: SQLiteStore) -> None:
    put(store, "queue_length", {"queue": "orders", "replica": "0"}, [(NOW - 10_000, 30)])
    put(store, "queue_length", {"queue": "orders", "replica": "1"}, [(NOW - 10_000, 12)])
    put(store, "queue_length", {"queue": "mail", "replica": "0"}, [(NOW - 10_000, 999)])
    value = metric(SeriesMetric, type="series", name="q", query='queue_length{queue="orders"}', target=10)
    reading = read_metric(store, value, ctx())  # type: ignore[arg-type]
    assert reading is not None and reading.value == 42
    average = metric(
        SeriesMetric,
        type="series",
        name="q",
        query='queue_length{queue="orders"}',
        target_type="average_value",
        target=10,
    )
    reading = read_metric(store, average, ctx())  # type: ignore[arg-type]
    assert reading is not None and reading.per_replica == {"shop-0": 30, "shop-1": 12}
    none = metric(SeriesMetric, type="series", name="q", query="nothing_here", target=10)
    assert read_metric(store, none, ctx()) is None  # type: ignore[arg-type]
