"""``scalepilot demo``: zero setup, a real service under real load, scaled live."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from scalepilot.adapters.loadgen import LoadGenerator
from scalepilot.config.durations import parse_duration
from scalepilot.config.loader import load
from scalepilot.domain.clock import to_ms
from scalepilot.faces.cli.common import console, err_console
from scalepilot.faces.cli.run_cmd import serve
from scalepilot.service.demo import DemoPlan, DemoSummary, default_data_dir, summarize
from scalepilot.service.runtime import Runtime

ROLLOUT_GRACE_S = 30.0
"""How long the demo waits after the load for a rollout still under way to end."""


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f} ms"


class _View:
    def __init__(self, plan: DemoPlan, gen: LoadGenerator, runtime: Runtime) -> None:
        self.plan = plan
        self.gen = gen
        self.runtime = runtime
        self.rows: list[tuple[str, ...]] = []
        self.decisions: list[str] = []
        self.seen_decision: float | None = None
        self.peak_ready = 0
        self.rollout = ""

    def tick(self) -> None:
        svc = self.runtime.controllers["shop"].describe()
        replicas = svc["replicas"] or {}
        self.peak_ready = max(self.peak_ready, int(replicas.get("ready", 0)))
        recent = self.gen.recent(3)
        n = max(1, len(recent))
        lat = [x for s in recent for x in s.latencies_s]
        lat.sort()
        p95 = lat[int(0.95 * (len(lat) - 1))] if lat else None
        t = self.gen.elapsed_s
        self.rows.append(
            (
                f"{t:5.0f}s",
                self.plan.phase_at(t),
                f"{self.plan.profile()(t):.0f}",
                f"{sum(s.offered for s in recent) / n:.0f}",
                f"{sum(s.ok for s in recent) / n:.0f}",
                _ms(p95),
                str(sum(s.errors + s.shed for s in recent)),
                f"{replicas.get('desired', '?')} / {replicas.get('ready', '?')}",
            )
        )
        drivers = self.runtime.controllers["shop"].rollouts
        r = drivers.describe() if drivers is not None else None
        if r is not None:
            self.rollout = (
                f"rollout {r['stable_revision']} → {r['revision']}: {r['phase']}, stage {r['stage']} of "
                f"{len(r['stages'])} ({r['stage_label']}), {r['weight']} % of traffic on the new version"
            )
        decision = (svc.get("autoscaling") or {}).get("last_decision")
        if decision and decision["time"] != self.seen_decision and decision["change"]:
            self.seen_decision = decision["time"]
            self.decisions.append(f"{t:5.0f}s  {decision['reason']}")

    def render(self) -> Group:
        table = Table(title="scalepilot demo: the shop service under load", title_justify="left", expand=False)
        for col, just in (
            ("time", "right"),
            ("phase", "left"),
            ("wanted rps", "right"),
            ("offered", "right"),
            ("served", "right"),
            ("p95", "right"),
            ("errors", "right"),
            ("replicas want/ready", "right"),
        ):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for row in self.rows[-12:]:
            table.add_row(*row)
        lines = [Text("scaling decisions", style="bold")]
        lines += [Text(d) for d in self.decisions[-8:]] or [Text("  none yet", style="dim")]
        if self.rollout:
            lines += [Text(self.rollout, style="bold cyan")]
        note = Text(
            "offered/served/p95/errors: measured by the load generator over the last 3 s; replicas: the local target",
            style="dim",
        )
        return Group(table, *lines, note)


def _print_summary(s: DemoSummary, plan: DemoPlan, data_dir: Path) -> None:
    table = Table(title="summary (all measured in this run)", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("peak ready replicas", str(s.peak_replicas))
    table.add_row(
        "time from the ramp's start to the first scale-up",
        "–" if s.first_scale_up_s is None else f"{s.first_scale_up_s:.1f} s",
    )
    table.add_row("… until a new replica was ready", "–" if s.first_ready_s is None else f"{s.first_ready_s:.1f} s")
    table.add_row("p95 while reacting (ramp start → new replicas ready)", _ms(s.p95_before_s))
    table.add_row("p95 at peak once scaled (second half of the peak)", _ms(s.p95_after_s))
    table.add_row("requests offered / served", f"{s.offered} / {s.served}")
    table.add_row("errors / shed by the load generator", f"{s.errors} / {s.shed}")
    table.add_row("rollout of version 2 (in the last quiet phase)", s.rollout or "–")
    console.print(table)
    console.print(
        f"Everything is stored in {data_dir}: try [bold]scalepilot explain shop --data-dir {data_dir}[/bold] "
        f"or [bold]scalepilot events --data-dir {data_dir}[/bold], and the scaling report: "
        f"[bold]scalepilot report -c {data_dir / 'demo.yaml'} --range 1h[/bold].",
        highlight=False,
    )


def demo(
    duration: str = typer.Option("3m", help="How long the load runs (at least 30s), e.g. 90s or 5m."),
    peak: float = typer.Option(250.0, help="Peak load in requests per second (loopback only)."),
    port: int = typer.Option(8420, help="Port of scalepilot's HTTP server on 127.0.0.1."),
    data_dir: Path = typer.Option(default_data_dir(), "--data-dir", help="Where the demo keeps its data."),
    rollout: bool = typer.Option(
        True, "--rollout/--no-rollout", help="Roll version 2 out as a canary in the last quiet phase (from 2m15s)."
    ),
) -> None:
    """Watch scalepilot scale a real service under real load, with zero setup.

    Starts the bundled example shop API (each request waits ~120 ms on a simulated
    upstream call; a replica serves ~65 requests/s) as local replicas behind the
    built-in balancer, drives it quiet → peak → quiet with an open-loop load generator
    on loopback, and shows load, p95, replicas and each scaling decision live. In the
    last quiet phase (when it lasts 40 s, from --duration 2m15s) it edits the config to
    version 2 of the shop and reloads it, as a user would: the new version is rolled out
    as a canary, 25 % → 50 % → 100 % of traffic, measured all along. Ends with a
    summary. Ctrl-C stops everything and leaves nothing running.

    [b]Examples[/b]

      scalepilot demo

      scalepilot demo --duration 60s --peak 200

      scalepilot demo --no-rollout
    """
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        err_console.print(f"error: --duration: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    if seconds < 30:
        err_console.print("error: --duration must be at least 30s", highlight=False, markup=False)
        raise typer.Exit(1)
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    plan = DemoPlan(duration_s=seconds, peak_rps=peak, server_port=port, rollout=rollout)
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = data_dir / "demo.yaml"
    config_path.write_text(plan.config_yaml())
    loaded = load(config_path)
    result: dict[str, Any] = {}

    async def body(runtime: Runtime) -> None:
        controller = runtime.controllers["shop"]
        # Traffic starts once the initial replicas are ready, so the quiet phase is quiet.
        async with asyncio.timeout(60):
            await controller.wait_ready(2)
        host, lb_port = controller.balancer.address  # type: ignore[union-attr]
        gen = LoadGenerator(
            f"http://{host}:{lb_port}/api/sync",
            plan.profile(),
            duration_s=seconds,
            max_in_flight=512,
            timeout_s=10,
            seed=42,
        )
        console.print(
            f"load → http://{host}:{lb_port}/api/sync  ·  dashboard http://127.0.0.1:{port}/", highlight=False
        )
        view = _View(plan, gen, runtime)
        started_ms = to_ms(time.time())
        load = asyncio.create_task(gen.run())
        try:
            with Live(view.render(), console=console, refresh_per_second=2, transient=False) as live:
                rolled = False
                while not load.done():
                    await asyncio.wait({load}, timeout=1.0)
                    if not rolled and plan.rollout_at is not None and gen.elapsed_s >= plan.rollout_at:
                        # What a user does: edit the config, then reload it.
                        rolled = True
                        config_path.write_text(plan.config_yaml(version=2))
                        await runtime.reload("demo")
                    view.tick()
                    live.update(view.render())
                # The last replicas of a rollout may still be draining: give it a moment to end.
                drivers = controller.rollouts
                deadline = time.monotonic() + ROLLOUT_GRACE_S
                while rolled and drivers is not None and time.monotonic() < deadline:
                    described = drivers.describe()
                    if described is None or described["phase"] != "progressing":
                        break
                    await asyncio.sleep(0.5)
                    view.tick()
                    live.update(view.render())
        finally:
            console.print()
            if not load.done():
                load.cancel()
        events = list(reversed(runtime.store.events(since_ms=started_ms, limit=10_000)))
        result["summary"] = summarize(plan, load.result(), events, started_ms, view.peak_ready)

    console.print(
        f"scalepilot demo: config {config_path}, dashboard http://127.0.0.1:{port}/ — Ctrl-C to stop",
        highlight=False,
    )
    code = asyncio.run(serve(loaded, during=body, announce=False))
    if "summary" in result:
        _print_summary(result["summary"], plan, data_dir)
    elif code == 0:
        console.print(f"demo stopped early; every replica is stopped and the data is in {data_dir}.", highlight=False)
    raise typer.Exit(code)
