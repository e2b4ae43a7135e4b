"""``scalepilot run``: the collectors and the HTTP server in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import typer
import uvicorn

from scalepilot import __version__
from scalepilot.config.loader import LoadedConfig
from scalepilot.domain.errors import ScalepilotError
from scalepilot.faces.api.app import create_app
from scalepilot.faces.cli.common import DEFAULT_CONFIG, console, err_console, load_or_exit
from scalepilot.service.runtime import Reload, Runtime


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: SIGTERM/SIGINT stop the whole runtime,
    which then stops the server, so collectors drain and the store flushes."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says it is TCP. Without it, Nagle's algorithm holds each response's body
    # behind its headers for the client's delayed ACK: 44 ms per keep-alive request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def serve(
    loaded: LoadedConfig,
    *,
    announce: bool = True,
    during: Callable[[Runtime], Coroutine[Any, Any, None]] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT, or until ``during`` (e.g. the demo's load) returns."""
    cfg = loaded.config
    try:
        sock = _bind(cfg.server.host, cfg.server.port)
    except OSError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False)
        return 1
    runtime = Runtime(loaded)
    try:
        await runtime.start()
    except ScalepilotError as exc:
        # A second scalepilot on the same data directory, a store from a newer version,
        # a balancer port in use: say so and exit, no traceback.
        err_console.print(f"error: {exc}", highlight=False, markup=False)
        await runtime.stop()
        sock.close()
        return 1
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.request_stop)
    reloads: set[asyncio.Task[Reload]] = set()

    def reload_config() -> None:
        # As Prometheus: SIGHUP re-reads the config and rule files; the outcome is
        # logged and recorded as an event.
        task = asyncio.create_task(runtime.reload("SIGHUP"), name="reload config")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload_config)
    server = _Server(
        uvicorn.Config(
            create_app(runtime), log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=5
        )
    )
    server_task = asyncio.create_task(server.serve(sockets=[sock]), name="http")
    server_task.add_done_callback(lambda _: runtime.request_stop())
    if announce:
        host = cfg.server.host if ":" not in cfg.server.host else f"[{cfg.server.host}]"
        url = f"http://{host}:{cfg.server.port}/"
        console.print(
            f"[bold]scalepilot {__version__}[/bold] dashboard [link={url}]{url}[/link]  "
            f"(API {url}docs, /status, /metrics, /health, /ready)\n"
            f"scraping {len(runtime.scrape_loops)} endpoints, {len(runtime.probe_loops)} probes; "
            f"data in {runtime.data_dir}  — Ctrl-C to stop",
            highlight=False,
        )
    body: asyncio.Task[None] | None = None
    if during is not None:
        body = asyncio.create_task(during(runtime), name="during")
        body.add_done_callback(lambda _: runtime.request_stop())
    try:
        await runtime.wait_stopped()
    finally:
        if body is not None and not body.done():
            body.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await body
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await server_task
        for task in reloads:
            task.cancel()
        await asyncio.gather(*reloads, return_exceptions=True)
        crashed = runtime.crashed_loops()
        await runtime.stop()
        sock.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    if body is not None and not body.cancelled() and body.exception() is not None:
        raise body.exception()  # type: ignore[misc]
    if crashed:
        err_console.print(f"error: loops crashed: {', '.join(crashed)} (see the log above)")
        return 2
    if announce:
        console.print("stopped; everything collected is stored.")
    return 0


def run(
    config: Path = typer.Option(DEFAULT_CONFIG, "-c", "--config", help="Path of scalepilot.yaml."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
) -> None:
    """Run scalepilot: scrape, probe and store, and serve /health, /ready, /metrics, /status.

    SIGTERM or Ctrl-C stops it cleanly: loops drain and the store flushes.

    [b]Examples[/b]

      scalepilot run -c scalepilot.yaml

      scalepilot run -c examples/scalepilot.yaml --log-level debug
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per HTTP request would drown everything else; failures are reported by
    # scalepilot itself, with their reasons.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    loaded = load_or_exit(config, rules=True)
    code = asyncio.run(serve(loaded))
    raise typer.Exit(code)
