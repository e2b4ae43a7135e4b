"""The dashboard: the overview endpoint under load, the page's weight, and how fast it
becomes usable in a real browser.

A real ``scalepilot run`` (its own process) watches 50 services, each scraping and
probing one running example shop (``scalepilot.examples.shop``) every 15 s, with the
default 5 s overview refresh. Then, same run:

1. **Overview under load.** An open-loop generator (Poisson arrivals, scalepilot's own
   ``adapters.loadgen``) sends 200 requests/s to ``GET /api/v1/overview`` for the
   duration, then the same to ``GET /health`` as the reference (the server's floor:
   routing, middleware and a socket round trip with no work). Printed: p50 / p99 of
   each, their ratio, the answer's size. Goal: overview p99 ≤ 50 ms.
2. **First-load weight.** Headless Debian chromium (Playwright) opens the dashboard with
   an empty cache; every script and stylesheet response is summed (uncompressed bytes;
   scalepilot does not compress). Goal: ≤ 300 KB.
3. **Time to interactive.** Navigation start until the page has rendered the first
   overview (it sets ``<html data-ready="1">``), median of 5 cold loads; the reference is
   the ``load`` event of ``/health`` (a plain-text page) in the same browser.

    .venv/bin/python bench/bench_dashboard.py             # 20 s of load per endpoint
    .venv/bin/python bench/bench_dashboard.py --quick     # 5 s
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scalepilot.adapters.loadgen import ramp
from scalepilot.adapters.loadgen.generator import LoadGenerator
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS  # one launch recipe for both

SERVICES = 50
RPS = 200.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def config(port: int, shop_port: int) -> str:
    lines = [
        f"server: {{address: '127.0.0.1:{port}'}}",
        "storage: {data_dir: data}",
        "scrape: {interval: 15s, timeout: 5s}",
        "services:",
    ]
    for i in range(SERVICES):
        lines += [
            f"  - name: svc-{i:02d}",
            f"    labels: {{team: team-{i % 5}}}",
            f"    scrape: {{endpoints: [{{url: 'http://127.0.0.1:{shop_port}/metrics'}}]}}",
            f"    probes: [{{type: http, name: health, url: 'http://127.0.0.1:{shop_port}/healthz'}}]",
        ]
    return "\n".join(lines) + "\n"


async def load(url: str, seconds: float) -> list[float]:
    gen = LoadGenerator(url, ramp([(0, RPS)]), duration_s=seconds, max_in_flight=512, timeout_s=10, seed=7)
    secs = await gen.run()
    errors = sum(s.errors for s in secs) + sum(s.shed for s in secs)
    if errors:
        print(f"  warning: {errors} requests to {url} failed or were shed")
    return sorted(lat for s in secs for lat in s.latencies_s)


def quantile(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, max(0, round(q * len(xs)) - 1))]


def browser(base: str, runs: int) -> tuple[int, dict[str, int], list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            sizes: dict[str, int] = {}
            ctx = chromium.new_context()
            page = ctx.new_page()

            def count(response: object) -> None:
                req = response.request  # type: ignore[attr-defined]
                if req.resource_type in ("script", "stylesheet"):
                    sizes[req.url.removeprefix(base)] = len(response.body())  # type: ignore[attr-defined]

            page.on("response", count)
            page.goto(base + "/")
            page.wait_for_selector("html[data-ready='1']", state="attached", timeout=30_000)
            ctx.close()
            tti: list[float] = []
            ref: list[float] = []
            for _ in range(runs):
                ctx = chromium.new_context()  # a cold cache each time
                page = ctx.new_page()
                page.goto(base + "/", wait_until="commit")
                page.wait_for_selector("html[data-ready='1']", state="attached", timeout=30_000)
                tti.append(page.evaluate("performance.now()"))
                page.goto(base + "/health", wait_until="load")
                ref.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
                ctx.close()
            return sum(sizes.values()), sizes, tti, ref
        finally:
            chromium.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="5 s of load per endpoint instead of 20")
    ap.add_argument("--runs", type=int, default=5, help="cold page loads for time to interactive")
    args = ap.parse_args()
    seconds = 5.0 if args.quick else 20.0
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        shop_port, port = free_port(), free_port()
        shop = subprocess.Popen(
            [sys.executable, "-m", "scalepilot.examples.shop", "--port", str(shop_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cfg = Path(tmp) / "scalepilot.yaml"
        cfg.write_text(config(port, shop_port))
        sp = subprocess.Popen(
            [sys.executable, "-m", "scalepilot", "run", "-c", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"http://127.0.0.1:{shop_port}/healthz", 30)
            wait_http(f"{base}/ready", 60)
            # One refresh with every service scraped, so the snapshot has its full size.
            time.sleep(6)
            body = httpx.get(f"{base}/api/v1/overview", timeout=10)
            n = len(body.json()["services"])
            print(f"scalepilot watching {n} services; overview answer {len(body.content):,} bytes")
            print(f"1. {RPS:.0f} requests/s for {seconds:.0f} s each (open loop, Poisson arrivals)")
            over = asyncio.run(load(f"{base}/api/v1/overview", seconds))
            health = asyncio.run(load(f"{base}/health", seconds))
            p50, p99 = quantile(over, 0.5) * 1000, quantile(over, 0.99) * 1000
            r50, r99 = quantile(health, 0.5) * 1000, quantile(health, 0.99) * 1000
            print(f"   {'endpoint':<22}{'answers':>9}{'p50 ms':>9}{'p99 ms':>9}")
            print(f"   {'/api/v1/overview':<22}{len(over):>9,}{p50:>9.2f}{p99:>9.2f}")
            print(f"   {'/health (reference)':<22}{len(health):>9,}{r50:>9.2f}{r99:>9.2f}")
            verdict = "met" if p99 <= 50 else "MISSED"
            print(f"   ratio p50 {p50 / r50:.2f}×, p99 {p99 / r99:.2f}×;  goal p99 ≤ 50 ms: {verdict}")

            total, sizes, tti, ref = browser(base, args.runs)
            print(f"2. first load, JS + CSS (uncompressed): {total / 1024:.1f} KiB in {len(sizes)} files")
            for url, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
                print(f"   {size / 1024:>8.1f} KiB  {url}")
            print(f"   goal ≤ 300 KB: {'met' if total <= 300_000 else 'MISSED'}")
            t, r = statistics.median(tti), statistics.median(ref)
            print(f"3. time to interactive (first overview rendered), median of {len(tti)} cold loads: {t:.0f} ms")
            print(f"   reference: /health load event {r:.0f} ms; ratio {t / r:.1f}×")
        finally:
            for proc in (sp, shop):
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
