"""``scalepilot backup`` and ``restore`` against a real, running scalepilot.

Covers: a backup taken while scalepilot scrapes a real exporter is one checked file
(no ``.partial`` left) with the series, samples and events; a second backup never
overwrites the first; a restore into the directory of a running scalepilot is refused
(its lock); after the scalepilot is killed with ``kill -9``, the backup restores into a
fresh directory and answers PromQL and ``events`` there, and a scalepilot starts on it;
restoring over an existing store needs ``--force`` and moves that store aside (still
readable); a file that is not a backup is refused with nothing changed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.events import Event, EventKind
from tests.support import free_port, instant_query, start, start_exporter, wait_for

SCALEPILOT = [sys.executable, "-m", "scalepilot"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCALEPILOT, *args], capture_output=True, text=True, timeout=120, check=False)


def config_text(port: int, exporter_port: int, data_dir: Path) -> str:
    return f"""
server: {{address: '127.0.0.1:{port}'}}
storage: {{data_dir: '{data_dir}', flush_interval: 200ms}}
host_stats: {{enabled: false}}
scrape: {{interval: 1s, timeout: 1s}}
services:
  - name: api
    scrape:
      endpoints: [{{url: 'http://127.0.0.1:{exporter_port}/metrics'}}]
"""


def scrapes(data_dir: Path) -> float:
    done = cli("query", 'count_over_time(up{service="api"}[1h])', "--data-dir", str(data_dir), "-o", "json")
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)["result"]
    return float(result[0]["value"][1]) if result else 0.0


def test_backup_while_running_then_restore_after_a_crash(tmp_path: Path) -> None:
    exporter, exporter_port = start_exporter("healthy")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    config = tmp_path / "scalepilot.yaml"
    config.write_text(config_text(port, exporter_port, data))
    backup_file = tmp_path / "b.db"
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        proc.wait_line("scalepilot", timeout=30)
        wait_for(
            lambda: float(r[0]["value"][1]) >= 3 if (r := instant_query(base, "count_over_time(up[1h])")) else None,
            timeout=20,
            what="three scrapes stored",
        )
        done = cli("backup", "-c", str(config), "-o", str(backup_file))
        assert done.returncode == 0, done.stderr
        assert "integrity ok" in done.stdout and "series" in done.stdout, done.stdout
        assert backup_file.is_file() and not list(tmp_path.glob("*.partial"))

        again = cli("backup", "-c", str(config), "-o", str(backup_file))
        assert again.returncode == 1 and "never overwrites" in again.stderr, again.stderr

        refused = cli("restore", str(backup_file), "-c", str(config), "--force")
        assert refused.returncode == 1 and "already open for writing" in refused.stderr, refused.stderr
    finally:
        proc.stop(signal.SIGKILL)  # kill -9: the backup is what is left
        exporter.stop(signal.SIGTERM)

    fresh = tmp_path / "restored"
    done = cli("restore", str(backup_file), "--data-dir", str(fresh))
    assert done.returncode == 0, done.stderr
    assert f"into {fresh}" in done.stdout
    assert scrapes(fresh) >= 3
    events = cli("events", "--data-dir", str(fresh), "--kind", "started", "-o", "json")
    assert events.returncode == 0 and json.loads(events.stdout), events.stderr

    # A scalepilot starts on the restored store and keeps its data.
    port2 = free_port()
    config2 = tmp_path / "restored.yaml"
    config2.write_text(config_text(port2, free_port(), fresh))
    proc = start([*SCALEPILOT, "run", "-c", str(config2)])
    try:
        proc.wait_line("scalepilot", timeout=30)
        assert instant_query(f"http://127.0.0.1:{port2}", 'count_over_time(up{service="api"}[1h]) >= 3')
    finally:
        assert proc.stop(signal.SIGTERM) == 0


def test_restore_over_a_store_needs_force_and_keeps_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SQLiteStore.open(tmp_path / "source", StorageSettings()) as store:
        store.add_event(Event(1_700_000_000_000, EventKind.STARTED, "started"))
    backup_file = tmp_path / "b.db"
    assert cli("backup", "--data-dir", str(tmp_path / "source"), "-o", str(backup_file)).returncode == 0
    assert cli("restore", str(backup_file), "--data-dir", str(data)).returncode == 0

    without = cli("restore", str(backup_file), "--data-dir", str(data))
    assert without.returncode == 1 and "--force" in without.stderr, without.stderr
    forced = cli("restore", str(backup_file), "--data-dir", str(data), "--force")
    assert forced.returncode == 0, forced.stderr
    (kept,) = data.glob("store.db.before-restore-*")
    assert f"kept as {kept}" in forced.stdout.replace("\n", "")
    assert cli("events", "--data-dir", str(data), "-o", "json").returncode == 0

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    before = sorted(p.name for p in data.iterdir())
    bad = cli("restore", str(garbage), "--data-dir", str(data), "--force")
    assert bad.returncode == 1 and "not a scalepilot backup" in bad.stderr, bad.stderr
    assert sorted(p.name for p in data.iterdir()) == before


def test_backup_of_no_store_is_a_clear_error(tmp_path: Path) -> None:
    done = cli("backup", "--data-dir", str(tmp_path / "missing"), "-o", str(tmp_path / "b.db"))
    assert done.returncode == 1 and "no scalepilot store" in done.stderr, done.stderr
    assert not (tmp_path / "b.db").exists()
