"""What the browser tests share: the Debian chromium and how to launch it, a real
``scalepilot run`` (config, start, readiness, a trickle of traffic, tokens), pages that
record console errors, CSP violations and failed requests, and screenshots kept under
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Proc, start, wait_for

CHROMIUM = os.environ.get("SCALEPILOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCALEPILOT = [sys.executable, "-m", "scalepilot"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PAGES = {
    "overview": ("#/", "services-table"),
    "service": ("#/service/shop?range=15m", "chart-load"),
    "events": ("#/events", "events-list"),
    "alerts": ("#/alerts", "alerts-firing"),
    "report": ("#/report", "report-summary"),
}
# Collects what the strict CSP refuses; injected by the browser, not by the page, so the
# page itself still carries no inline script.
CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""

RULES = """
groups:
  - name: ui
    interval: 1s
    rules:
      - alert: ShopTestAlert
        expr: vector(1)
        labels: {severity: warning, service: shop}
        annotations: {summary: "An alert that always fires, for the alerts page"}
      - alert: ShopSlowBurn
        expr: vector(1)
        for: 1h
        labels: {severity: critical, service: shop}
        annotations: {summary: "An alert that stays pending"}
"""


def shop_config(port: int) -> str:
    return f"""
server: {{address: '127.0.0.1:{port}'}}
storage: {{data_dir: data}}
scrape: {{interval: 1s, timeout: 1s}}
host_stats: {{interval: 1s}}
dashboard: {{refresh: 1s}}
rule_files: [rules.yml]
alerting:
  route: {{receiver: nobody}}
  receivers: [{{name: nobody}}]
services:
  - name: shop
    labels: {{team: marketplace}}
    target:
      type: local
      command: ["{sys.executable}", -m, scalepilot.examples.shop, --port, "{{port}}", --concurrency, "8"]
      replicas: 2
      readiness: {{type: http, path: /healthz, interval: 200ms, timeout: 1s}}
      resources: {{cpu: 0.5, memory: 256MiB}}
      grace_period: 2s
      stop_timeout: 3s
    balancer:
      listen: 127.0.0.1:0
    autoscaling:
      min_replicas: 2
      max_replicas: 6
      interval: 2s
      window: 6s
      manual_pause: 1h
      metrics:
        - {{type: rps, target: 45}}
"""


def require_chromium() -> str:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        if os.environ.get("SCALEPILOT_REQUIRE_EXTERNAL") == "1":
            pytest.fail(f"chromium is required here (SCALEPILOT_REQUIRE_EXTERNAL=1) but {CHROMIUM} is missing")
        pytest.skip(f"chromium is not installed at {CHROMIUM}")
    return CHROMIUM


@dataclass
class Server:
    base: str
    dir: Path
    proc: Proc

    def get(self, path: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = httpx.get(self.base + path, headers=headers, timeout=10)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = httpx.post(self.base + path, json=body, headers=headers, timeout=10)
        r.raise_for_status()
        return r.json()


def ready(base: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=2, headers=headers).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(proc: Proc, base: str) -> None:
    def check() -> bool:
        if proc.popen.poll() is not None:
            pytest.fail(f"scalepilot exited with {proc.popen.returncode}:\n{output(proc)}")
        return ready(base)

    wait_for(check, timeout=30, what="scalepilot /ready")


def run_scalepilot(directory: Path, config: str) -> tuple[Proc, str]:
    port = int(re.search(r"127\.0\.0\.1:(\d+)", config).group(1))  # type: ignore[union-attr]
    (directory / "scalepilot.yaml").write_text(config)
    proc = start([*SCALEPILOT, "run", "-c", str(directory / "scalepilot.yaml")], cwd=directory)
    return proc, f"http://127.0.0.1:{port}"


def output(proc: Proc) -> str:
    lines = []
    while not proc.lines.empty():
        lines.append(proc.lines.get_nowait())
    return "\n".join(lines[-40:])


@contextmanager
def trickle(url: str, per_second: float = 4.0) -> Iterator[None]:
    """A little steady traffic through the balancer, so load, latency and error rate
    are measured figures rather than dashes. Far below the autoscaler's target."""
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.wait(1 / per_second):
                with suppress(httpx.HTTPError):
                    client.get(url)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def create_tokens(config: Path, roles: list[str]) -> dict[str, str]:
    """``scalepilot token create`` against the stopped scalepilot's data directory, one
    per role (named ``ui-<role>``). One after the other: each holds the store's lock."""
    env = {k: v for k, v in os.environ.items() if k != "SCALEPILOT_TOKEN"}
    tokens = {}
    for role in roles:
        done = subprocess.run(
            [*SCALEPILOT, "token", "create", "--role", role, "--name", f"ui-{role}", "-c", str(config)],
            capture_output=True,
            text=True,
            env=env,
            cwd=config.parent,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"token create --role {role}: {done.stderr}"
        tokens[role] = done.stdout.strip()
    return tokens


@dataclass
class Watched:
    """A page with its console errors, uncaught exceptions, failed requests and CSP
    violations collected."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        csp = self.page.evaluate("window.__csp || []")
        return [*self.errors, *(f"CSP violation: {v}" for v in csp)]


def aborted_stream(request: Any) -> bool:
    """The live stream is cut by design when the page reloads or goes away."""
    return request.url.endswith("/api/v1/stream") and "ERR_ABORTED" in (request.failure or "")


def watch(context: Any) -> Watched:
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    w = Watched(page)
    page.on("console", lambda m: w.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: w.errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: None if aborted_stream(r) else w.errors.append(f"failed: {r.url} {r.failure}"))
    page.on(
        "response",
        lambda r: w.errors.append(f"HTTP {r.status}: {r.request.method} {r.url}") if r.status >= 400 else None,
    )
    return w


def new_context(browser: Any, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "locale": "en-US"}
    options.update(kwargs)
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    return context


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
