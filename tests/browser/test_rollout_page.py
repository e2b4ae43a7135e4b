"""The rollout section of the service page in a real browser (Debian chromium, headless)
against a real ``scalepilot run`` whose service has a local target (two replicas of
``tests/integration/target_child.py``, a trickle of requests through the balancer) and a
canary ``rollout:`` (50 %, then a manual pause, analysed by its error rate). Each test
edits the target's ``VERSION`` and reloads (``POST /-/reload``), so a real rollout waits
at its manual pause.

Covers: the section shows the new revision replacing the stable one, the phase, the 50 %
split with both shares as text, the stages with the second one current
(``aria-current="step"``) holding until promoted, marked configured, and the canary's
latest measurement against its bound, marked measured; the replica table tells the
canary's and the stable replicas apart by group and revision; only the buttons that apply
are shown; Promote moves the rollout to promoted (the page follows by itself), hides
every button and leaves only the new revision running; at phone width (dark) the section
does not overflow; Abort asks for confirmation (Cancel does nothing), then the rollout
shows aborted with its reason and Retry, which starts it again; a refused action (a real
409 from the server) shows the server's reason as an error; pause and resume from the
page; the Turkish page shows the section in Turkish.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from tests.browser.support import (
    Server,
    new_context,
    output,
    run_scalepilot,
    screenshot,
    trickle,
    wait_ready,
    watch,
)
from tests.integration.targets_helpers import child_command
from tests.support import free_port, wait_for

pytestmark = pytest.mark.slow

ACTIONS = ["promote", "promote-full", "pause", "resume", "abort", "retry"]


def rollout_config(port: int, version: str) -> str:
    return f"""
server: {{address: '127.0.0.1:{port}'}}
storage: {{data_dir: data, flush_interval: 200ms}}
host_stats: {{enabled: false}}
scrape: {{interval: 1s, timeout: 1s}}
dashboard: {{refresh: 1s}}
services:
  - name: web
    target:
      type: local
      command: {json.dumps(child_command())}
      env: {{VERSION: {version}}}
      replicas: 2
      metrics_path: null
      readiness: {{type: tcp, interval: 100ms}}
      grace_period: 1s
    balancer: {{listen: '127.0.0.1:0'}}
    rollout:
      steps: [{{weight: 50}}, {{pause: manual}}]
      scale_down_delay: 0s
      analysis: {{interval: 1s, window: 5s, max_error_rate: 1%, on_no_data: pass}}
"""


@pytest.fixture(scope="module")
def rolling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real scalepilot running two ``v1`` replicas of the service ``web``, with a
    trickle of requests through its balancer for the analysis to measure."""
    directory = tmp_path_factory.mktemp("rollout")
    port = free_port()
    proc, base = run_scalepilot(directory, rollout_config(port, "v1"))
    server = Server(base, directory, proc)
    try:
        wait_ready(proc, base)
        wait_for(
            lambda: (server.get("/api/v1/services/web").get("replicas") or {}).get("ready") == 2,
            timeout=30,
            what="two v1 replicas ready",
        )
        balancer = server.get("/api/v1/services/web")["balancer"]["address"]
        with trickle(f"http://{balancer}/healthz"):
            yield server
    finally:
        code = proc.stop()
        assert code == 0, f"scalepilot exited with {code}:\n{output(proc)}"


def rollout(server: Server) -> dict[str, Any]:
    body: dict[str, Any] = server.get("/api/v1/services/web").get("rollout") or {}
    return body


def roll_out(server: Server, version: str) -> dict[str, Any]:
    """Edit the target's ``VERSION``, reload, and wait until the new rollout holds at its
    manual pause with half the traffic (any earlier rollout still running is superseded)."""
    before = rollout(server).get("revision")
    port = int(server.base.rsplit(":", 1)[1])
    (server.dir / "scalepilot.yaml").write_text(rollout_config(port, version))
    server.post("/-/reload", {})

    def at_pause() -> dict[str, Any] | None:
        r = rollout(server)
        fresh = r.get("revision") not in (None, before)
        return r if fresh and r["phase"] == "progressing" and r["stage"] == 2 and r["weight"] == 50 else None

    return wait_for(at_pause, timeout=30, what=f"the rollout of {version} at its manual pause")


def open_service(page: Any, base: str) -> Any:
    page.goto(f"{base}/#/service/web?range=15m")
    expect(page.locator("html")).to_have_attribute("data-ready", "1")
    section = page.get_by_test_id("rollout")
    expect(section).to_be_visible()
    return section


def expect_buttons(page: Any, shown: set[str]) -> None:
    for action in ACTIONS:
        button = page.get_by_test_id(f"rollout-{action}")
        if action in shown:
            expect(button).to_be_visible()
        else:
            expect(button).to_be_hidden()


def expect_at_manual_pause(page: Any, section: Any, r: dict[str, Any]) -> None:
    expect(section).to_have_attribute("data-phase", "progressing")
    stages = section.get_by_test_id("rollout-stage")
    expect(stages).to_have_count(3)
    current = section.locator('[data-testid="rollout-stage"][aria-current="step"]')
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("data-stage", "2")
    # The canary's replicas: one new beside the two stable ones, each row saying which.
    canary = page.locator('[data-testid="replica-row"][data-group="canary"]')
    expect(canary).to_have_count(1)
    stable = page.locator('[data-testid="replica-row"][data-group="stable"]')
    expect(stable).to_have_count(2)
    expect(canary.get_by_test_id("replica-group")).to_have_text(f"canary · {r['revision']}")
    for i in range(2):
        expect(stable.nth(i).get_by_test_id("replica-group")).to_have_text(f"stable · {r['stable_revision']}")


def test_the_rollout_shows_its_split_stages_and_replicas_and_promote_ends_it(browser: Any, rolling: Server) -> None:
    r = roll_out(rolling, "v2")
    context = new_context(browser)
    w = watch(context)
    page = w.page
    section = open_service(page, rolling.base)
    expect_at_manual_pause(page, section, r)

    expect(section.get_by_role("heading", name="Rollout", exact=True)).to_be_visible()
    expect(section.get_by_test_id("rollout-summary")).to_contain_text(
        f"{r['revision']} replacing {r['stable_revision']}"
    )
    expect(section.get_by_test_id("rollout-phase")).to_have_text("progressing")
    expect(section.get_by_test_id("rollout-strategy")).to_have_text("canary")
    expect(section.get_by_test_id("split-stable")).to_contain_text(f"stable {r['stable_revision']}: 50%")
    expect(section.get_by_test_id("split-new")).to_contain_text(f"new {r['revision']}: 50%")
    stages = section.get_by_test_id("rollout-stage")
    expect(stages.nth(0)).to_contain_text("traffic step")
    expect(stages.nth(0)).to_contain_text("50% of traffic")
    expect(stages.nth(0)).to_contain_text("passed")
    expect(stages.nth(1)).to_contain_text("pause")
    expect(stages.nth(1)).to_contain_text("hold: until promoted")
    expect(stages.nth(1)).to_contain_text("current")
    expect(stages.nth(2)).to_contain_text("100% of traffic")
    expect(stages.nth(2).locator(".stage-label")).to_have_text("all traffic")
    # The stages and the split are configured figures, marked as the stats mark theirs.
    expect(stages.nth(1).locator('[data-source="configured"] .src-configured')).to_have_count(1)
    expect(section.get_by_test_id("split-new").locator('[data-source="configured"]')).to_have_count(1)
    expect(section.get_by_test_id("rollout-canary-replicas")).to_have_text("new replicas asked for: 1")
    # The canary's error rate, measured from the trickle's requests (none fail).
    measurement = section.get_by_test_id("rollout-measurement")
    expect(measurement).to_have_attribute("data-verdict", "passed", timeout=20_000)
    expect(measurement.get_by_test_id("rollout-verdict")).to_have_text("passed")
    expect(measurement).to_contain_text("Latest measurement")
    expect(measurement).to_contain_text("failed measurements: 0, tolerated: 0")
    check = measurement.get_by_test_id("rollout-check")
    expect(check).to_have_count(1)
    expect(check).to_contain_text(re.compile(r"error_rate 0% \(measured\) \(limit ≤ 1%\) within"))
    expect(check.locator('[data-source="measured"] .src-measured')).to_have_count(1)
    expect(section.get_by_test_id("rollout-reason")).to_have_count(0)
    # After the stats, before the charts.
    order = page.evaluate(
        """() => [...document.querySelectorAll('.stats, [data-testid="rollout"], [data-testid="charts"]')]
                 .map((el) => el.dataset.testid || 'stats')"""
    )
    assert order == ["stats", "rollout", "charts"], order
    expect_buttons(page, {"promote", "promote-full", "pause", "abort"})
    screenshot(page, "service-rollout-desktop-light-en")

    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    expect(section.get_by_test_id("split-new")).to_be_visible()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        " + Math.max(0, document.body.scrollWidth - document.documentElement.clientWidth)"
    )
    screenshot(page, "service-rollout-phone-dark-en")
    assert overflow <= 0, f"the service page with a rollout is {overflow}px wider than a 390px phone"
    page.set_viewport_size({"width": 1280, "height": 800})
    page.emulate_media(color_scheme="light")

    page.get_by_test_id("rollout-promote").click()
    expect(page.get_by_test_id("page-message")).to_contain_text(f"Rollout of {r['revision']} promoted")
    # The page follows the rollout on its own: all traffic, then promoted.
    expect(section).to_have_attribute("data-phase", "promoted", timeout=30_000)
    expect(section.get_by_test_id("rollout-phase")).to_have_text("promoted")
    expect(section.get_by_test_id("rollout-reason")).to_contain_text("Promoted:")
    current = section.locator('[data-testid="rollout-stage"][aria-current="step"]')
    expect(current).to_have_attribute("data-stage", "3")
    expect(current).to_contain_text("ended here")
    expect(section.get_by_test_id("split-new")).to_contain_text(f"new {r['revision']}: 100%")
    expect_buttons(page, set())
    # Only the new revision runs now, as the stable group.
    rows = page.get_by_test_id("replica-row")
    expect(rows).to_have_count(2, timeout=30_000)
    for i in range(2):
        expect(rows.nth(i).get_by_test_id("replica-group")).to_have_text(f"stable · {r['revision']}")
    done = rollout(rolling)
    assert done["phase"] == "promoted" and done["revision"] == r["revision"] and done["actor"] == "dashboard"
    screenshot(page, "service-rollout-promoted-en")
    assert w.problems() == []
    context.close()


def test_abort_asks_first_then_retry_starts_again_and_a_refusal_says_why(browser: Any, rolling: Server) -> None:
    r = roll_out(rolling, "v3")
    context = new_context(browser)
    w = watch(context)
    page = w.page
    section = open_service(page, rolling.base)
    expect_at_manual_pause(page, section, r)

    abort = page.get_by_test_id("rollout-abort")
    abort.click()
    dialog = page.get_by_test_id("rollout-abort-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Abort the rollout of {r['revision']}?")
    cancel = dialog.get_by_role("button", name="Cancel")
    expect(cancel).to_be_focused()
    cancel.click()
    expect(dialog).to_have_count(0)
    expect(abort).to_be_focused()
    assert rollout(rolling)["phase"] == "progressing"

    abort.click()
    page.get_by_test_id("rollout-abort-confirm").click()
    expect(dialog).to_have_count(0)
    expect(section).to_have_attribute("data-phase", "aborted")
    expect(section.get_by_test_id("rollout-phase")).to_have_text("aborted")
    expect(section.get_by_test_id("rollout-reason")).to_contain_text("Aborted: aborted by dashboard")
    expect(page.get_by_test_id("page-message")).to_contain_text(
        f"Rollout of {r['revision']} aborted: all traffic is back on {r['stable_revision']}."
    )
    expect(section.get_by_test_id("split-stable")).to_contain_text(f"stable {r['stable_revision']}: 100%")
    expect_buttons(page, {"retry"})
    retry = page.get_by_test_id("rollout-retry")
    expect(retry).to_be_focused()  # the Abort button it came from is gone
    expect(page.locator('[data-testid="replica-row"][data-group="canary"]')).to_have_count(0, timeout=30_000)
    aborted = rollout(rolling)
    assert aborted["phase"] == "aborted" and aborted["actor"] == "dashboard"

    # An action the server refuses (409) is shown with its reason. The page offers only
    # actions that apply, so the click's body is swapped for one that does not: the
    # answer is the real server's.
    def resume_instead(route: Route) -> None:
        route.continue_(post_data=json.dumps({"action": "resume", "actor": "dashboard"}))

    page.route("**/api/v1/services/web/rollout", resume_instead)
    retry.click()
    expect(page.get_by_test_id("page-error")).to_contain_text("The rollout refused this:")
    expect(page.get_by_test_id("page-error")).to_contain_text("already ended (aborted)")
    expect(section).to_have_attribute("data-phase", "aborted")
    page.unroute("**/api/v1/services/web/rollout", resume_instead)

    retry.click()
    expect(page.get_by_test_id("page-message")).to_contain_text(f"Rollout of {r['revision']} started again")
    expect(section).to_have_attribute("data-phase", "progressing")
    expect(section.locator('[data-testid="rollout-stage"][aria-current="step"]')).to_have_attribute(
        "data-stage", "2", timeout=30_000
    )
    expect(page.locator('[data-testid="replica-row"][data-group="canary"]')).to_have_count(1, timeout=30_000)
    expect_buttons(page, {"promote", "promote-full", "pause", "abort"})
    # The one refusal, as the browser reports it (the response and its console line), and nothing else.
    refused = [
        r"HTTP 409: POST \S+/api/v1/services/web/rollout",
        r"console error: Failed to load resource: the server responded with a status of 409 \(Conflict\)",
    ]
    problems = w.problems()
    for pattern in refused:
        assert len([p for p in problems if re.fullmatch(pattern, p)]) == 1, problems
    assert [p for p in problems if not any(re.fullmatch(pattern, p) for pattern in refused)] == []
    context.close()


def test_the_section_in_turkish_and_pause_and_resume(browser: Any, rolling: Server) -> None:
    r = roll_out(rolling, "v4")
    context = new_context(browser)
    w = watch(context)
    page = w.page
    section = open_service(page, rolling.base)
    expect(section.get_by_role("heading", name="Rollout", exact=True)).to_be_visible()
    page.get_by_test_id("language-switch").select_option("tr")
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    section = page.get_by_test_id("rollout")
    expect(section.get_by_role("heading", name="Dağıtım", exact=True)).to_be_visible()
    expect_buttons(page, {"promote", "promote-full", "pause", "abort"})
    expect(section.get_by_test_id("rollout-summary")).to_contain_text(f"{r['stable_revision']} yerine {r['revision']}")
    expect(section.get_by_test_id("rollout-phase")).to_have_text("ilerliyor")
    expect(section.get_by_test_id("rollout-strategy")).to_have_text("kanarya")
    expect(section.get_by_test_id("split-stable")).to_contain_text(f"kararlı {r['stable_revision']}: %50")
    expect(section.get_by_test_id("split-new")).to_contain_text(f"yeni {r['revision']}: %50")
    current = section.locator('[data-testid="rollout-stage"][aria-current="step"]')
    expect(current).to_have_attribute("data-stage", "2")
    expect(current).to_contain_text("trafiğin %50 kadarı")
    expect(current).to_contain_text("bekleme: ilerletilene kadar")
    # The stage's kind in Turkish too, not the server's English label.
    expect(current.locator(".stage-label")).to_have_text("bekleme")
    expect(section.get_by_test_id("rollout-stage").nth(2).locator(".stage-label")).to_have_text("tüm trafik")
    expect(current).to_contain_text("şu an")
    expect(section.get_by_test_id("rollout-measurement")).to_contain_text("Son ölçüm")
    expect(section.get_by_test_id("rollout-check")).to_contain_text("(sınır ≤ 1%)")
    expect(page.get_by_test_id("rollout-promote")).to_have_text("İlerlet")
    expect(page.get_by_test_id("rollout-promote-full")).to_have_text("Tümüyle ilerlet")
    expect(page.get_by_test_id("rollout-abort")).to_have_text("Dağıtımı iptal et")
    expect(page.get_by_test_id("replica-table").locator("thead")).to_contain_text("Grup")
    canary = page.locator('[data-testid="replica-row"][data-group="canary"]')
    expect(canary.get_by_test_id("replica-group")).to_have_text(f"kanarya · {r['revision']}")

    page.get_by_test_id("rollout-pause").click()
    expect(section).to_have_attribute("data-phase", "paused")
    expect(section.get_by_test_id("rollout-phase")).to_have_text("duraklatıldı")
    expect(section.get_by_test_id("rollout-reason")).to_contain_text("Duraklatılma nedeni: paused by dashboard")
    expect(page.get_by_test_id("page-message")).to_have_text(f"{r['revision']} dağıtımı duraklatıldı.")
    expect_buttons(page, {"promote", "promote-full", "resume", "abort"})
    expect(page.get_by_test_id("rollout-resume")).to_have_text("Dağıtımı sürdür")
    assert rollout(rolling)["phase"] == "paused"
    screenshot(page, "service-rollout-paused-tr")

    page.get_by_test_id("rollout-resume").click()
    expect(section).to_have_attribute("data-phase", "progressing")
    expect(section.get_by_test_id("rollout-phase")).to_have_text("ilerliyor")
    expect(page.get_by_test_id("page-message")).to_have_text(f"{r['revision']} dağıtımı sürdürüldü.")
    expect_buttons(page, {"promote", "promote-full", "pause", "abort"})
    assert rollout(rolling)["phase"] == "progressing"
    assert w.problems() == []
    context.close()
