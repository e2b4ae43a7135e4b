"""The browser suite's fixtures: one headless Debian chromium per module and a
real ``scalepilot run`` (the bundled shop service as local replicas behind the built-in
balancer, with a rule file and alerting so every page has something to show) shared by
a module. See ``support.py``.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run``; another path via
``$SCALEPILOT_CHROMIUM``); Playwright never downloads a browser. Without it the suite
skips, or fails with ``SCALEPILOT_REQUIRE_EXTERNAL=1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.support import (
    CHROMIUM_ARGS,
    RULES,
    Server,
    output,
    require_chromium,
    run_scalepilot,
    shop_config,
    trickle,
    wait_ready,
)
from tests.support import free_port, wait_for


# Per module, not per session: Playwright's sync API keeps an asyncio loop marked as
# running in the main thread while it is open, and every async test after it (pytest-
# asyncio's runner) would then refuse to start.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real scalepilot with two ready shop replicas and an alert firing."""
    directory = tmp_path_factory.mktemp("shop")
    (directory / "rules.yml").write_text(RULES)
    proc, base = run_scalepilot(directory, shop_config(free_port()))
    server = Server(base, directory, proc)
    try:
        wait_ready(proc, base)

        def two_ready() -> bool:
            ov = server.get("/api/v1/overview")
            s = ov["services"][0] if ov["services"] else None
            return bool(s and s["replicas"] and s["replicas"]["ready"] == 2 and ov["alerts"]["firing"] >= 1)

        wait_for(two_ready, timeout=30, what="two ready replicas and a firing alert in the overview")
        balancer = server.get("/api/v1/services/shop")["balancer"]["address"]
        with trickle(f"http://{balancer}/api/sync"):
            yield server
    finally:
        code = proc.stop()
        assert code == 0, f"scalepilot exited with {code}:\n{output(proc)}"
