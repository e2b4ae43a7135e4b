"""scalepilot and Debian's real Prometheus scraping the same loopback targets.

Covers: both store the same series (metric names and full label sets, synthetic series
included) from a text-format target, an OpenMetrics target and a prometheus_client
application; and the same latest values for counters, gauges, histogram and summary
series, including escaped and non-ASCII label values and ±Inf/NaN.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.labels import Labels, make_labels
from scalepilot.domain.matchers import Matcher, MatchOp
from tests.support import Proc, free_port, require_binary, start, start_exporter, wait_for

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]


@pytest.fixture
def targets() -> Iterator[dict[str, int]]:
    procs: list[Proc] = []
    ports: dict[str, int] = {}
    for mode in ("stable", "stable-text"):
        proc, port = start_exporter(mode)
        procs.append(proc)
        ports[mode] = port
    shop_port = free_port()
    shop = start([sys.executable, "-m", "scalepilot.examples.shop", "--port", str(shop_port)])
    procs.append(shop)
    wait_for(lambda: _get_ok(f"http://127.0.0.1:{shop_port}/healthz"), timeout=15, what="the shop app")
    ports["shop"] = shop_port
    yield ports
    for proc in procs:
        proc.stop(signal.SIGKILL)


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def prometheus_config(ports: dict[str, int]) -> str:
    jobs = []
    for name, port in ports.items():
        jobs.append(f"""
  - job_name: {name}
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ['127.0.0.1:{port}']
        labels: {{service: {name}, replica: '0'}}""")
    return "global: {scrape_interval: 1s}\nscrape_configs:" + "".join(jobs) + "\n"


def scalepilot_config(ports: dict[str, int], server_port: int) -> str:
    services = "".join(
        f"""
  - name: {name}
    scrape:
      endpoints: [{{url: 'http://127.0.0.1:{port}/metrics', replica: '0'}}]"""
        for name, port in ports.items()
    )
    return (
        f"server: {{address: '127.0.0.1:{server_port}'}}\nstorage: {{data_dir: data}}\n"
        f"scrape: {{interval: 1s, timeout: 900ms}}\nhost_stats: {{enabled: false}}\nservices:{services}\n"
    )


def prom_api(base: str, path: str, **params: Any) -> Any:
    resp = httpx.get(f"{base}/api/v1/{path}", params=params, timeout=10)
    resp.raise_for_status()
    return resp.json()["data"]


def as_value(text: str) -> float:
    return float(text)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_same_series_and_latest_values_as_prometheus(tmp_path: Path, targets: dict[str, int]) -> None:
    prometheus = require_binary("prometheus")
    prom_port, sp_port = free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(prometheus_config(targets))
    (tmp_path / "scalepilot.yaml").write_text(scalepilot_config(targets, sp_port))
    prom_base = f"http://127.0.0.1:{prom_port}"
    prom = start(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ]
    )
    sp = start([sys.executable, "-m", "scalepilot", "run", "-c", str(tmp_path / "scalepilot.yaml")])
    try:
        wait_for(lambda: _get_ok(f"{prom_base}/-/ready"), timeout=30, what="Prometheus to be ready")
        wait_for(lambda: _get_ok(f"http://127.0.0.1:{sp_port}/ready"), timeout=30, what="scalepilot to be ready")

        # Both must have scraped every target several times.
        def enough() -> bool:
            up = prom_api(prom_base, "query", query="count_over_time(up[1m])")["result"]
            status = httpx.get(f"http://127.0.0.1:{sp_port}/status", timeout=5).json()
            return (
                len(up) == len(targets)
                and all(float(r["value"][1]) >= 5 for r in up)
                and all(t["scrapes"] >= 5 and t["health"] == "up" for t in status["targets"])
            )

        wait_for(enough, timeout=60, what="five scrapes of every target by both", interval=0.5)
        now = time.time()
        prom_series = prom_api(prom_base, "series", **{"match[]": '{job=~".+"}', "start": now - 120, "end": now})
        prom_latest = prom_api(prom_base, "query", query='{job=~"stable.*"}', time=now)["result"]
    finally:
        assert sp.stop(signal.SIGTERM) == 0
        prom.stop(signal.SIGTERM)

    store = SQLiteStore.open(tmp_path / "data", StorageSettings(), read_only=True)
    try:
        ours: set[Labels] = set(store.series([Matcher("job", MatchOp.RE, ".+")]))
        our_latest = {s.labels: s.value for s in store.latest([Matcher("job", MatchOp.RE, "stable.*")])}
    finally:
        store.close()

    theirs = {make_labels(None, s) for s in prom_series}
    missing, extra = theirs - ours, ours - theirs
    assert not missing and not extra, f"only in Prometheus: {sorted(missing)}\nonly in scalepilot: {sorted(extra)}"
    # The fixed pages: every value identical (counters, gauges, buckets, quantiles,
    # specials, and up / scrape_samples_scraped), timing-dependent synthetic series aside.
    per_scrape = {"scrape_duration_seconds", "scrape_series_added"}
    compared = 0
    for row in prom_latest:
        labels = make_labels(None, row["metric"])
        name = row["metric"]["__name__"]
        if name in per_scrape:
            continue
        assert labels in our_latest, labels
        assert same(our_latest[labels], as_value(row["value"][1])), (labels, our_latest[labels], row["value"])
        compared += 1
    # 18 samples on the OpenMetrics page, 19 on the text page, 3 synthetic series each.
    assert compared == 18 + 19 + 2 * 3
