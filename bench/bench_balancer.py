"""The built-in balancer against Debian's HAProxy, and against no proxy at all, same run.

On loopback, with a fast app so the proxies are what is measured: nginx (nginx-light)
answering a fixed 17-byte body from a temporary config. Three targets, each measured by
``wrk --latency`` with the same settings, one right after the other:

* **direct** — wrk to nginx: the reference every added latency is computed against;
* **scalepilot** — wrk to scalepilot's balancer, run by this script in its own process
  (``--serve``), one backend (the nginx), default settings;
* **haproxy** — wrk to Debian's HAProxy (``nbthread 1``, ``balance leastconn``,
  keep-alive both sides, ``option forwardfor``), same backend.

Two measurements per target:

1. **throughput**: ``-t1 -c64`` for the duration → requests/s (and the p50/p99 latency at
   that saturating load, which is mostly queueing: 64 / throughput);
2. **latency**: ``-t1 -c1`` → p50/p99 of one request at a time, where nothing queues; the
   latency a proxy *adds* is its figure minus the direct one.

Each proxy is pinned to CPU 0 with ``taskset`` (both are single-threaded, so this is
"one core" for each), wrk and nginx to the other CPUs; with a single CPU nothing is
pinned. Every target gets an unmeasured warm-up run first. The goals: ≥ 5,000 req/s
through scalepilot's balancer and ≤ 1 ms added p50.

    .venv/bin/python bench/bench_balancer.py            # 10 s per measurement (~75 s)
    .venv/bin/python bench/bench_balancer.py --quick    # 3 s per measurement
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from scalepilot.adapters.balancer import Backend, Balancer
from scalepilot.config.balancer import BalancerSettings

LOAD_CONNECTIONS = 64
BODY = "hello from nginx\n"


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str
    """wrk's socket errors and non-2xx count, empty when there were none."""


@dataclass
class Placement:
    proxy: list[str]
    app: list[str]
    wrk: list[str]
    text: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} is not listening on port {port} after {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process this script started, by its pid."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


def placement() -> Placement:
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(cpus) < 2:
        return Placement([], [], [], "not pinned (one CPU or no taskset)")
    proxy, app = str(cpus[0]), str(cpus[1])
    wrk = app if len(cpus) < 3 else ",".join(str(c) for c in cpus[2:])
    text = f"proxy on CPU {proxy}; nginx on CPU {app}; wrk on CPU {wrk}" + (
        " (nginx and wrk share it: only 2 CPUs)" if len(cpus) < 3 else ""
    )
    return Placement(["taskset", "-c", proxy], ["taskset", "-c", app], ["taskset", "-c", wrk], text)


def start_nginx(tmp: Path, port: int, pin: list[str]) -> subprocess.Popen[bytes]:
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "{BODY.strip()}\\n"; }}
    }}
}}
"""
    )
    proc = subprocess.Popen([*pin, "nginx", "-c", str(conf), "-p", str(tmp)], stderr=subprocess.DEVNULL)
    wait_port(port, proc, "nginx")
    return proc


def start_haproxy(tmp: Path, port: int, backend_port: int, pin: list[str]) -> subprocess.Popen[bytes]:
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(
        f"""global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    option forwardfor
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance leastconn
    server app 127.0.0.1:{backend_port}
"""
    )
    proc = subprocess.Popen(
        [*pin, "haproxy", "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_port(port, proc, "haproxy")
    return proc


def start_scalepilot(port: int, backend_port: int, pin: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*pin, sys.executable, __file__, "--serve", str(port), str(backend_port)])
    wait_port(port, proc, "scalepilot's balancer")
    return proc


def serve(port: int, backend_port: int) -> None:
    """The child process: one balancer until SIGTERM."""

    async def main() -> None:
        balancer = Balancer("bench", BalancerSettings(listen=f"127.0.0.1:{port}"))
        balancer.set_backends([Backend("nginx", "127.0.0.1", backend_port)])
        await balancer.start()
        stopped = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
        await stopped.wait()
        stats = balancer.stats()
        await balancer.stop()
        print(
            f"  (scalepilot's balancer served {stats.requests_total:,} requests over "
            f"{stats.upstream_connects} upstream connections; status codes {dict(stats.requests)})",
            flush=True,
        )

    asyncio.run(main())


_DURATION = re.compile(r"([\d.]+)(us|ms|s|m)\b")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def wrk(port: int, connections: int, seconds: float, pin: list[str]) -> WrkResult:
    out = subprocess.run(
        [*pin, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = [line.strip() for line in out.splitlines() if "Socket errors" in line or "Non-2xx" in line]
    return WrkResult(rps, p50, p99, requests, "; ".join(errors))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s per measurement instead of 10 s")
    parser.add_argument("--duration", type=float, help="seconds per measurement")
    parser.add_argument("--serve", nargs=2, type=int, metavar=("PORT", "BACKEND_PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return 0
    for binary in ("nginx", "haproxy", "wrk"):
        if shutil.which(binary) is None:
            print(f"{binary} is not installed (Debian: apt-get install nginx-light haproxy wrk)", file=sys.stderr)
            return 2
    seconds = args.duration or (3.0 if args.quick else 10.0)
    warmup = 1.0 if args.quick else 2.0
    pins = placement()
    version_text = subprocess.run(["haproxy", "-v"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"version (\d+\.\d+\.\d+)", version_text)
    haproxy_version = found.group(1) if found else "?"

    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, tuple[WrkResult, WrkResult]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-balancer-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            app_port, sp_port, ha_port = free_port(), free_port(), free_port()
            procs.append(start_nginx(tmp, app_port, pins.app))
            procs.append(start_scalepilot(sp_port, app_port, pins.proxy))
            procs.append(start_haproxy(tmp, ha_port, app_port, pins.proxy))
            targets = {"direct (nginx)": app_port, "scalepilot": sp_port, f"haproxy {haproxy_version}": ha_port}
            print(f"measuring {seconds:g} s per run, {pins.text}", flush=True)
            for name, port in targets.items():
                wrk(port, LOAD_CONNECTIONS, warmup, pins.wrk)
                loaded = wrk(port, LOAD_CONNECTIONS, seconds, pins.wrk)
                single = wrk(port, 1, seconds, pins.wrk)
                results[name] = (loaded, single)
                print(f"  {name}: {loaded.rps:,.0f} req/s, one connection p50 {single.p50_ms:.3f} ms", flush=True)
        finally:
            for proc in reversed(procs):
                stop(proc)
    report(results)
    errors = [f"{name}: {r.errors}" for name, pair in results.items() for r in pair if r.errors]
    if errors:
        print("\nERRORS (requests failed, figures not trustworthy):\n  " + "\n  ".join(errors))
        return 1
    return 0


def report(results: dict[str, tuple[WrkResult, WrkResult]]) -> None:
    names = list(results)
    direct_single = results[names[0]][1]
    print()
    print("All figures measured in this run, on this machine, by wrk --latency.")
    print(
        f"{'':18}| {'throughput, wrk -c' + str(LOAD_CONNECTIONS):^31} | {'one connection, wrk -c1 (no queueing)':^49}"
    )
    print(
        f"{'target':18}| {'req/s':>9} {'p50 ms':>10} {'p99 ms':>10} | {'p50 ms':>9} {'p99 ms':>9} "
        f"{'added p50':>14} {'added p99':>14}"
    )
    print("-" * 104)
    for name in names:
        loaded, single = results[name]
        if name == names[0]:
            added50 = added99 = "(reference)"
        else:
            added50 = f"+{single.p50_ms - direct_single.p50_ms:.3f} ms"
            added99 = f"+{single.p99_ms - direct_single.p99_ms:.3f} ms"
        print(
            f"{name:18}| {loaded.rps:>9,.0f} {loaded.p50_ms:>10.3f} {loaded.p99_ms:>10.3f} | "
            f"{single.p50_ms:>9.3f} {single.p99_ms:>9.3f} {added50:>14} {added99:>14}"
        )
    sp_loaded, sp_single = results[names[1]]
    ha_loaded, ha_single = results[names[2]]
    print()
    print(f"scalepilot / haproxy throughput: {sp_loaded.rps / ha_loaded.rps:.2f}")
    print(f"scalepilot / direct throughput:  {sp_loaded.rps / results[names[0]][0].rps:.2f}")
    added = sp_single.p50_ms - direct_single.p50_ms
    ha_added = ha_single.p50_ms - direct_single.p50_ms
    print(f"added p50, scalepilot vs haproxy: {added:.3f} ms vs {ha_added:.3f} ms")
    verdict = "met" if sp_loaded.rps >= 5000 else "NOT met"
    print(f"goal >= 5,000 req/s through scalepilot on one core: {verdict} ({sp_loaded.rps:,.0f})")
    verdict = "met" if added <= 1.0 else "NOT met"
    print(f"goal <= 1 ms added p50: {verdict} ({added:.3f} ms)")


if __name__ == "__main__":
    sys.exit(main())
