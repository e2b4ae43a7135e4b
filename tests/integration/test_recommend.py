"""``scalepilot recommend`` over a real store backfilled with process stats.

Covers: the CPU request is the p95 of a replica's per-minute CPU rate (the highest
replica's, not the mean nor the max) rounded up to 10 m, with no limit; memory request =
limit = the peak RSS of any replica (a single-sample spike counts) + 15 % rounded up to
a MiB; a service with too little data gets no recommendation but says what it measured
and how much it covered; a service of the config without data is listed as such; the
current resources of the config and the change appear in the table and the JSON;
``--service`` filters; ``--cpu-percentile`` and ``--memory-buffer`` change the figures;
the JSON shape; bad options exit 1 with a message; ``--help`` has examples.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.labels import make_labels

SCALEPILOT = [sys.executable, "-m", "scalepilot", "recommend"]
MIB = 1024 * 1024
NOW_S = int(time.time()) // 60 * 60
INTERVAL_S = 15

# shop replica 0: the CPU rate of each minute cycles through 50 minutes: 40 at 0.2 cores,
# 8 at 0.45, 2 at 1.0. Its p95 is 0.45 (within the 80-96 % block), its median 0.2, its max 1.0.
SHOP0_LEVELS = [0.2] * 40 + [0.45] * 8 + [1.0] * 2
SHOP1_CORES = 0.1
SHOP0_MEM = 200 * MIB
SHOP1_MEM = 250 * MIB
SHOP1_SPIKE = 410_000_000  # one sample, the peak of the service
TINY_CORES = 0.07
TINY_MEM = 50 * MIB


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([*SCALEPILOT, *args], check=False, capture_output=True, text=True, timeout=120, env=env)


def _write(
    store: SQLiteStore,
    service: str,
    replica: str,
    start_s: int,
    end_s: int,
    cores_at: Callable[[int], float],
    memory_at: Callable[[int], float],
) -> None:
    labels = {"job": service, "service": service, "replica": replica, "pid": str(1000 + int(replica))}
    cpu_id, mem_id = store.series_ids(
        [
            make_labels("scalepilot_process_cpu_seconds_total", labels),
            make_labels("scalepilot_process_resident_memory_bytes", labels),
        ]
    )
    times = np.arange(start_s, end_s + 1, INTERVAL_S, dtype=np.int64)
    # The CPU used in the interval ending at t is that of the minute ending at ceil(t / 60).
    minute_end = -(-times // 60) * 60
    increments = np.array([cores_at(int(m)) for m in minute_end]) * INTERVAL_S
    increments[0] = 0.0
    counter = 50.0 + np.cumsum(increments)
    memory = np.array([memory_at(int(t)) for t in times], dtype=np.float64)
    for lo in range(0, times.size, 4000):
        ts = times[lo : lo + 4000] * 1000
        n = ts.size
        store.append(
            [cpu_id] * n + [mem_id] * n,
            np.concatenate([ts, ts]).tolist(),
            np.concatenate([counter[lo : lo + n], memory[lo : lo + n]]).tolist(),
        )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recommend") / "data"
    start = NOW_S - 3 * 86400
    end = NOW_S - 60
    spike_at = start + 86400 + 7 * INTERVAL_S
    store = SQLiteStore.open(path, StorageSettings())
    try:
        _write(store, "shop", "0", start, end, lambda m: SHOP0_LEVELS[(m // 60) % 50], lambda t: SHOP0_MEM)
        _write(
            store,
            "shop",
            "1",
            start,
            end,
            lambda m: SHOP1_CORES,
            lambda t: float(SHOP1_SPIKE) if t == spike_at else SHOP1_MEM + (t % 7) * MIB,
        )
        _write(store, "tiny", "0", NOW_S - 2 * 3600, end, lambda m: TINY_CORES, lambda t: TINY_MEM)
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def config(data_dir: Path) -> Path:
    path = data_dir.parent / "scalepilot.yaml"
    path.write_text(
        f"""
storage: {{data_dir: {data_dir}}}
services:
  - name: shop
    target: {{type: local, command: [app], resources: {{cpu: 1.0, memory: 512MiB}}}}
  - name: idle
    target: {{type: local, command: [app], resources: {{cpu: 0.5}}}}
"""
    )
    return path


def expected_memory(peak: float, buffer: float = 0.15) -> int:
    return math.ceil(peak * (1 + buffer) / MIB) * MIB


def by_service(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["service"]: s for s in doc["services"]}


def test_json_figures_match_krr_simple(data_dir: Path) -> None:
    res = cli("--data-dir", str(data_dir), "-o", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    services = by_service(doc)
    assert set(services) == {"shop", "tiny"}
    shop = services["shop"]
    assert shop["cpu"]["status"] == "ok"
    assert shop["cpu"]["percentile"] == pytest.approx(0.45, abs=1e-6)  # not 0.2 (median), not 1.0 (max)
    assert shop["cpu"]["request"] == pytest.approx(0.45)
    assert shop["cpu"]["limit"] is None
    assert shop["memory"]["peak"] == SHOP1_SPIKE
    assert shop["memory"]["request"] == shop["memory"]["limit"] == expected_memory(SHOP1_SPIKE)
    assert sorted(shop["cpu"]["replicas"]) == ["0", "1"]
    # Three days less a minute, one point a minute per replica.
    assert shop["cpu"]["covered_seconds"] == pytest.approx(3 * 86400, abs=180)
    assert shop["cpu"]["points"] == pytest.approx(2 * 3 * 1440, abs=6)
    assert doc["window"]["requested_seconds"] == 14 * 86400
    assert doc["window"]["step_seconds"] == 60
    assert doc["settings"] == {"cpu_percentile": 95.0, "memory_buffer": 0.15, "min_data_seconds": 86400.0}
    assert "scalepilot_process_cpu_seconds_total" in doc["source"]


def test_too_little_data_says_so_with_what_is_there(data_dir: Path) -> None:
    doc = json.loads(cli("--data-dir", str(data_dir), "-o", "json", "--service", "tiny").stdout)
    tiny = by_service(doc)["tiny"]
    for res in (tiny["cpu"], tiny["memory"]):
        assert res["status"] == "not_enough_data"
        assert res["request"] is None and res["limit"] is None
        assert res["covered_seconds"] == pytest.approx(2 * 3600, abs=180)
    assert tiny["cpu"]["percentile"] == pytest.approx(TINY_CORES, abs=1e-6)
    assert tiny["memory"]["peak"] == TINY_MEM
    # Lowering the bar gives it a recommendation.
    doc = json.loads(cli("--data-dir", str(data_dir), "-o", "json", "-s", "tiny", "--min-data", "1h").stdout)
    tiny = by_service(doc)["tiny"]
    assert tiny["cpu"]["request"] == pytest.approx(0.07)
    assert tiny["memory"]["request"] == expected_memory(TINY_MEM)


def test_percentile_and_buffer_options(data_dir: Path) -> None:
    args = ("--data-dir", str(data_dir), "-o", "json", "-s", "shop")
    median = by_service(json.loads(cli(*args, "--cpu-percentile", "50").stdout))["shop"]
    assert median["cpu"]["request"] == pytest.approx(0.2)
    p99 = by_service(json.loads(cli(*args, "--cpu-percentile", "99", "--memory-buffer", "25%").stdout))["shop"]
    assert p99["cpu"]["request"] == pytest.approx(1.0)
    assert p99["memory"]["request"] == expected_memory(SHOP1_SPIKE, 0.25)


def test_table_with_config_shows_current_and_change(config: Path) -> None:
    res = cli("-c", str(config))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    shop = next(line for line in out.splitlines() if "shop" in line)
    assert "p95 0.45 → 0.45" in shop
    mem = expected_memory(SHOP1_SPIKE) // MIB
    assert f"→ {mem}Mi" in shop
    assert "cpu 1.00 → 0.45 (−55 %)" in shop
    assert f"memory 512Mi → {mem}Mi (−{round((1 - mem / 512) * 100)} %)" in shop
    assert "measured from 72.0 h of data" in shop
    tiny = next(line for line in out.splitlines() if "tiny" in line)
    assert "not enough data: 2.0 h covered" in tiny
    idle = next(line for line in out.splitlines() if "idle" in line)
    assert "no data" in idle
    assert "14 d requested" in out


def test_json_with_config_has_current_and_change(config: Path) -> None:
    doc = json.loads(cli("-c", str(config), "-o", "json").stdout)
    services = by_service(doc)
    assert services["shop"]["cpu"]["current"] == 1.0
    assert services["shop"]["cpu"]["change"] == pytest.approx(0.45 - 1)
    assert services["shop"]["memory"]["current"] == 512 * MIB
    assert services["idle"]["cpu"]["status"] == "no_data"
    assert services["idle"]["memory"]["current"] is None


def test_bad_options_and_help(data_dir: Path) -> None:
    bad = cli("--data-dir", str(data_dir), "--window", "fortnight")
    assert bad.returncode == 1
    assert "--window" in bad.stderr
    bad = cli("--data-dir", str(data_dir), "--cpu-percentile", "0")
    assert bad.returncode == 1
    assert "percentile" in bad.stderr
    missing = cli("--data-dir", str(data_dir / "nope"))
    assert missing.returncode == 1
    assert "no data directory" in missing.stderr
    helptext = cli("--help").stdout
    assert "scalepilot recommend -c scalepilot.yaml" in helptext
    assert "--memory-buffer" in helptext
