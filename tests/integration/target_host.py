"""A scalepilot stand-in for the orphan tests: runs a LocalTarget until it is killed.

Usage: ``python target_host.py DATA_DIR REPLICAS [--no-death-signal]``

Opens the SQLite store in DATA_DIR, starts REPLICAS replicas of ``target_child.py``
(with a grandchild each, to check that whole groups are cleaned up), waits until they
are ready and prints ``ready PID...`` and ``grandchildren PID...`` (flushed), then waits
forever. The test kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from scalepilot.adapters.store import SQLiteStore
from scalepilot.adapters.targets import LocalTarget
from scalepilot.config.models import StorageSettings
from scalepilot.config.targets import LocalTargetSettings
from scalepilot.domain.clock import SystemClock
from scalepilot.domain.targets import Replica

CHILD = Path(__file__).with_name("target_child.py")


async def tcp_ready(replica: Replica) -> bool:
    try:
        _, writer = await asyncio.open_connection(replica.host, replica.port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def main() -> None:
    data_dir = Path(sys.argv[1])
    replicas = int(sys.argv[2])
    death_signal = None if "--no-death-signal" in sys.argv else signal.SIGKILL
    store = SQLiteStore.open(data_dir, StorageSettings(data_dir=data_dir))
    settings = LocalTargetSettings.model_validate(
        {
            "type": "local",
            "command": [sys.executable, str(CHILD), "--port", "{port}", "--grandchild"],
            "replicas": replicas,
            "readiness": {"type": "tcp", "interval": 0.05},
        }
    )
    target = LocalTarget(
        "orphans",
        settings,
        store=store,
        clock=SystemClock(),
        emit=lambda event: None,
        probe_ready=tcp_ready,
        in_flight=lambda replica_id: 0,
        on_change=lambda status: None,
        log_dir=data_dir / "logs",
        death_signal=death_signal,
    )
    await target.start()

    def grandchild(replica_id: str) -> str | None:
        lines = [ln for ln in target.log_path(replica_id).read_text().splitlines() if ln.startswith("grandchild")]
        return lines[-1].split()[1] if lines else None

    for _ in range(600):  # up to 30 s
        if target.snapshot().ready == replicas and all(grandchild(r.id) for r in target.replicas()):
            break
        await asyncio.sleep(0.05)
    else:
        sys.exit("replicas did not become ready")
    pids = [str(r.pid) for r in target.replicas()]
    grandchildren = [grandchild(r.id) or "" for r in target.replicas()]
    print("ready", *pids, flush=True)
    print("grandchildren", *grandchildren, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
