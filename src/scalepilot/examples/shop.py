"""An example web service that behaves like the marketplace-sync APIs scalepilot's users
run: each ``/api/sync`` request waits on a simulated upstream call (100–140 ms, like an
eBay or Trendyol API) and does a little CPU work; a replica serves a bounded number of
requests at once, so overload shows as queueing and a rising p95 — the thing autoscaling
is for. It exposes real Prometheus metrics of the work it really does.

``--self-traffic RPS`` makes it call itself at a steady rate so a lone instance has
something to show; it is bounded by the rate and stops with the process.

    python -m scalepilot.examples.shop --port 8431 --self-traffic 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import signal
import time
from collections.abc import Iterator

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as text_exposition
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OM_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as om_exposition
from prometheus_client.process_collector import ProcessCollector

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5)


def build_app(*, concurrency: int, upstream_ms: tuple[float, float], cpu_iterations: int) -> FastAPI:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    requests = Counter("http_requests", "Requests served.", ["route", "method", "code"], registry=registry)
    latency = Histogram(
        "http_request_duration_seconds",
        "Time from arrival to response, queueing included.",
        ["route"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    in_flight = Gauge("http_requests_in_flight", "Requests being served or queued.", registry=registry)
    upstream = Histogram(
        "upstream_request_duration_seconds",
        "Simulated marketplace API call time.",
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    queue = Gauge("shop_queue_length", "Requests waiting for a worker slot.", registry=registry)
    Gauge("shop_worker_slots", "Requests one replica serves at once.", registry=registry).set(concurrency)
    slots = asyncio.Semaphore(concurrency)
    app = FastAPI(title="example shop API", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/api/sync")
    async def sync(item: int = 0) -> dict[str, object]:
        started = time.perf_counter()
        in_flight.inc()
        queue.inc()
        try:
            async with slots:
                queue.dec()
                t0 = time.perf_counter()
                await asyncio.sleep(random.uniform(*upstream_ms) / 1000)
                upstream.observe(time.perf_counter() - t0)
                digest = str(item).encode()
                for _ in range(cpu_iterations):
                    digest = hashlib.sha256(digest).digest()
        finally:
            in_flight.dec()
        latency.labels("/api/sync").observe(time.perf_counter() - started)
        requests.labels("/api/sync", "GET", "200").inc()
        return {"item": item, "checksum": digest.hex()[:16]}

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response("ok\n", media_type="text/plain")

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        if "application/openmetrics-text" in request.headers.get("accept", ""):
            return Response(om_exposition(registry), media_type=OM_TYPE)  # type: ignore[no-untyped-call]
        return Response(text_exposition(registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _self_traffic(port: int, rps: float, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        pending: set[asyncio.Task[httpx.Response]] = set()
        n = 0
        while not stop.is_set():
            n += 1
            task = asyncio.create_task(client.get("/api/sync", params={"item": n}))
            pending.add(task)
            task.add_done_callback(pending.discard)
            # Poisson arrivals: real traffic is bursty, and a steady metronome would hide queueing.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=random.expovariate(rps))
        for task in pending:
            task.cancel()


class _Server(uvicorn.Server):
    # Our own handlers stop the traffic generator too; uvicorn's would only stop serving.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _main(args: argparse.Namespace) -> None:
    app = build_app(
        concurrency=args.concurrency,
        upstream_ms=(args.upstream_min_ms, args.upstream_max_ms),
        cpu_iterations=args.cpu_iterations,
    )
    server = _Server(
        uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="off")
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve())
    traffic = asyncio.create_task(_self_traffic(args.port, args.self_traffic, stop)) if args.self_traffic > 0 else None
    await stop.wait()
    server.should_exit = True
    if traffic:
        await traffic
    await serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8431")))
    parser.add_argument("--concurrency", type=int, default=8, help="requests one replica serves at once")
    parser.add_argument("--upstream-min-ms", type=float, default=100.0)
    parser.add_argument("--upstream-max-ms", type=float, default=140.0)
    parser.add_argument("--cpu-iterations", type=int, default=2000, help="sha256 rounds per request")
    parser.add_argument(
        "--self-traffic", type=float, default=0.0, metavar="RPS", help="call itself at this mean rate (requests/s)"
    )
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
