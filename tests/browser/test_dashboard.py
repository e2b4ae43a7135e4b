"""The dashboard in a real browser (Debian chromium, headless) against a real
``scalepilot run`` scaling the bundled shop service (with a little steady traffic, a
firing and a pending alert).

Covers: the overview follows the autoscaler in place while real load rises (the load
figure climbs and the desired replicas grow, no reload, no navigation); it updates the
replica figures in place when the service is scaled through the API behind the page's
back; scaling
from the service page (Scale, replicas, a required reason, confirm) records a
``manual_scale`` event that the API and the events page show; pausing (a duration and a
required reason) and resuming from the service page swap the buttons, show the reason
and record an ``autoscaling_paused`` event naming the dashboard; new events appear on the
events page live from the stream; the events page writes event messages in its language
from their details (a manual scale and a timed and an open-ended pause, the user's reason
inside, numbers and durations formatted for the locale), and falls back to the server's
English for a kind without a template or a detail missing; acknowledging and silencing an
alert from the alerts page, and expiring the silence; the report downloads as CSV, JSON
and Markdown (fetched with the token header, saved from a Blob); a scaling decision's marker on a chart shows its reason
on hover, and the decision list under the charts has it too; the health-check dialog lists
the scrape targets and closes with Escape, giving focus back; switching to Turkish shows
Turkish labels, is remembered after a reload and formats numbers with a decimal comma; no
page logs a console error, throws, fails a request or violates the CSP, in English and
Turkish; at phone width (390x844, dark) no page overflows horizontally. Every page is kept
as a screenshot (desktop light and phone dark, both languages).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from scalepilot.adapters.loadgen import LoadGenerator, ramp
from tests.browser.support import PAGES, SCREENSHOTS, Server, new_context, screenshot, watch

pytestmark = pytest.mark.slow


def row(page: Any) -> Any:
    return page.locator('[data-testid="service-row"][data-service="shop"]')


def open_page(page: Any, base: str, name: str) -> None:
    address, testid = PAGES[name]
    page.goto(f"{base}/{address}")
    expect(page.locator("html")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id(testid).first).to_be_visible()


def test_overview_follows_the_autoscaler_while_load_rises(browser: Any, shop: Server) -> None:
    shop.post("/api/v1/services/shop/resume", {})  # whatever ran before, the autoscaler decides
    context = new_context(browser)
    w = watch(context)
    page = w.page
    page.goto(shop.base + "/")
    expect(page.locator("html")).to_have_attribute("data-ready", "1")
    desired = row(page).get_by_test_id("replicas-desired")
    expect(desired).to_have_text("2")
    page.evaluate("window.__sameDocument = true")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # 150 requests/s at the balancer: 45 per replica is the target, so the autoscaler
    # wants 4. Bounded: 40 s at most, stopped as soon as the page has shown the change.
    balancer = shop.get("/api/v1/services/shop")["balancer"]["address"]
    gen = LoadGenerator(f"http://{balancer}/api/sync", ramp([(0, 150.0)]), duration_s=40, seed=3)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=lambda: loop.run_until_complete(gen.run(stop)), daemon=True)
    thread.start()
    try:
        expect(desired).to_have_text(re.compile(r"^[3-6]$"), timeout=35_000)
        load = row(page).get_by_test_id("figure-load")
        expect(load).to_have_text(re.compile(r"^([2-9]\d|1\d\d)"), timeout=10_000)  # tens of req/s, not the trickle
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()
        # Back to where the other tests start (this also pauses the autoscaler).
        shop.post("/api/v1/services/shop/scale", {"replicas": 2, "reason": "browser test: load is over"})
    assert page.evaluate("window.__sameDocument") is True
    assert navigations == []
    assert w.problems() == []
    context.close()


def test_overview_updates_replicas_in_place(browser: Any, shop: Server) -> None:
    context = new_context(browser)
    w = watch(context)
    page = w.page
    navigations: list[str] = []
    page.goto(shop.base + "/")
    expect(page.locator("html")).to_have_attribute("data-ready", "1")
    expect(row(page).get_by_test_id("replicas-desired")).to_have_text("2")
    expect(row(page).get_by_test_id("replicas-ready")).to_have_text("2", timeout=20_000)
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
    page.evaluate("window.__sameDocument = true")
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    shop.post("/api/v1/services/shop/scale", {"replicas": 3, "reason": "browser test: behind the page's back"})

    expect(row(page).get_by_test_id("replicas-desired")).to_have_text("3")
    expect(row(page).get_by_test_id("replicas-ready")).to_have_text("3", timeout=20_000)
    assert page.evaluate("window.__sameDocument") is True
    assert navigations == []
    assert w.problems() == []
    context.close()


def test_scale_from_the_service_page_records_manual_scale(browser: Any, shop: Server) -> None:
    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_page(page, shop.base, "service")
    before = shop.get("/api/v1/services/shop")["replicas"]["desired"]
    target = 4 if before != 4 else 2
    page.get_by_test_id("scale-button").click()
    dialog = page.get_by_test_id("scale-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("scale-replicas")).to_be_focused()
    page.get_by_test_id("scale-replicas").fill(str(target))
    # The reason is required: without one the dialog does not go on.
    page.get_by_test_id("scale-next").click()
    expect(page.get_by_test_id("scale-confirm")).to_be_hidden()
    page.get_by_test_id("scale-reason").fill("browser test: scaled from the service page")
    page.get_by_test_id("scale-next").click()
    expect(page.get_by_test_id("scale-question")).to_contain_text(str(target))
    page.get_by_test_id("scale-confirm").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("page-message")).to_be_visible()
    expect(page.get_by_test_id("replicas-desired")).to_have_text(str(target))
    # The autoscaler pauses after a manual change; the page says why from the cause.
    expect(page.get_by_test_id("service-subtitle")).to_contain_text("after a manual scale by dashboard")
    paused_by = shop.get("/api/v1/services/shop")["autoscaling"]["paused_by"]
    assert paused_by == {"cause": "manual_scale", "actor": "dashboard"}

    events = shop.get("/api/v1/events?kind=manual_scale")
    mine = [e for e in events if e["details"].get("reason") == "browser test: scaled from the service page"]
    assert mine, events
    assert mine[0]["details"]["to"] == target and mine[0]["service"] == "shop"

    page.get_by_test_id("nav-events").click()
    page.get_by_test_id("filter-kind").select_option("manual_scale")
    entry = page.locator('[data-testid="event-row"][data-kind="manual_scale"]', has_text="scaled from the service page")
    expect(entry.first).to_be_visible()
    assert w.problems() == []
    context.close()


def test_pause_and_resume_from_the_service_page(browser: Any, shop: Server) -> None:
    shop.post("/api/v1/services/shop/resume", {})
    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_page(page, shop.base, "service")
    pause, resume = page.get_by_test_id("pause-button"), page.get_by_test_id("resume-button")
    expect(pause).to_be_visible()
    expect(resume).to_be_hidden()
    pause.click()
    dialog = page.get_by_test_id("pause-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("pause-reason")).to_be_focused()
    page.get_by_test_id("pause-duration").select_option("15m")
    # The reason is required: without one nothing is sent.
    page.get_by_test_id("pause-confirm").click()
    expect(dialog).to_be_visible()
    assert shop.get("/api/v1/services/shop")["autoscaling"]["paused"] is False
    page.get_by_test_id("pause-reason").fill("browser test: paused from the page")
    page.get_by_test_id("pause-confirm").click()
    expect(dialog).to_have_count(0)
    expect(resume).to_be_visible()
    expect(pause).to_be_hidden()
    expect(page.get_by_test_id("service-subtitle")).to_contain_text("browser test: paused from the page")

    auto = shop.get("/api/v1/services/shop")["autoscaling"]
    assert auto["paused"] is True and auto["pause_reason"] == "browser test: paused from the page"
    assert auto["paused_by"] == {"cause": "pause", "actor": "dashboard"}
    events = shop.get("/api/v1/events?kind=autoscaling_paused")
    mine = [e for e in events if e["details"].get("reason") == "browser test: paused from the page"]
    assert mine and mine[0]["details"]["seconds"] == 900 and mine[0]["details"]["actor"] == "dashboard"

    resume.click()
    expect(pause).to_be_visible()
    expect(resume).to_be_hidden()
    expect(page.get_by_test_id("page-message")).to_be_visible()
    assert shop.get("/api/v1/services/shop")["autoscaling"]["paused"] is False
    assert w.problems() == []
    context.close()


def test_events_arrive_live(browser: Any, shop: Server) -> None:
    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_page(page, shop.base, "events")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
    paused = page.locator('[data-testid="event-row"][data-kind="autoscaling_paused"]', has_text="live event test")
    expect(paused).to_have_count(0)
    shop.post("/api/v1/services/shop/pause", {"duration": "1h", "reason": "live event test"})
    expect(paused).to_have_count(1)
    shop.post("/api/v1/services/shop/resume", {})
    expect(page.locator('[data-testid="event-row"][data-kind="autoscaling_resumed"]').first).to_be_visible()
    assert w.problems() == []
    context.close()


def test_event_messages_are_written_in_the_pages_language(browser: Any, shop: Server) -> None:
    reason = "çarşamba kampanyası (i18n test)"
    shop.post("/api/v1/services/shop/resume", {})
    before = shop.get("/api/v1/services/shop")["replicas"]["desired"]
    shop.post("/api/v1/services/shop/scale", {"replicas": 3 if before != 3 else 2, "reason": reason, "actor": "i18n"})
    shop.post("/api/v1/services/shop/pause", {"duration": "15m", "reason": reason, "actor": "i18n"})
    shop.post("/api/v1/services/shop/pause", {"reason": reason, "actor": "i18n"})
    shop.post("/api/v1/services/shop/resume", {})
    scaled = [e for e in shop.get("/api/v1/events?kind=manual_scale") if e["details"].get("reason") == reason]
    moved = f"{scaled[0]['details']['from']}.*{scaled[0]['details']['to']}"

    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_page(page, shop.base, "events")

    def message(kind: str, text: str) -> Any:
        # Matched in the message alone: the row also shows its time, and "15" is in every
        # time of the 15th hour.
        rows = page.locator(f'[data-testid="event-row"][data-kind="{kind}"]', has_text=reason)
        return rows.filter(has=page.locator(".event-message", has_text=text)).first.locator(".event-message")

    expect(message("manual_scale", reason)).to_have_text(
        re.compile(f"^shop: scaled by hand from {moved} by i18n: {re.escape(reason)}$")
    )
    expect(message("autoscaling_paused", "15")).to_have_text(
        re.compile(rf"^shop: autoscaling paused for 15 mins? by i18n: {re.escape(reason)}$")
    )
    expect(message("autoscaling_paused", "until resumed")).to_have_text(
        f"shop: autoscaling paused until resumed by i18n: {reason}"
    )

    page.get_by_test_id("language-switch").select_option("tr")
    expect(page.get_by_test_id("nav-events")).to_have_text("Olaylar")
    expect(message("manual_scale", reason)).to_have_text(
        re.compile(f"^shop: i18n tarafından elle {moved} replikaya ölçeklendirildi: {re.escape(reason)}$")
    )
    expect(message("autoscaling_paused", "15")).to_have_text(
        re.compile(
            rf"^shop: otomatik ölçeklendirme i18n tarafından 15 dk\.? süreyle duraklatıldı: {re.escape(reason)}$"
        )
    )
    expect(message("autoscaling_paused", "sürdürülene kadar")).to_have_text(
        f"shop: otomatik ölçeklendirme i18n tarafından sürdürülene kadar duraklatıldı: {reason}"
    )
    # Details the templates do not know (or an event without them) keep the server's words.
    fallback = page.evaluate(
        """async () => {
          const { eventText } = await import("/ui/js/events_text.js");
          return [
            eventText({ kind: "scaling_decision", service: "shop", message: "shop: as is", details: {} }),
            eventText({ kind: "manual_scale", service: "shop", message: "old words", details: { from: 2 } }),
            eventText({ kind: "replica_ready", message: "x", details: { replica: "shop-1", startup_s: 1.5 } }),
          ];
        }"""
    )
    assert fallback == ["shop: as is", "old words", "shop-1 replikası 1,5 sn içinde hazır oldu"]
    assert w.problems() == []
    context.close()


def test_acknowledge_and_silence_from_the_alerts_page(browser: Any, shop: Server) -> None:
    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_page(page, shop.base, "alerts")
    firing = page.get_by_test_id("alerts-firing").get_by_test_id("alert-item").filter(has_text="ShopTestAlert")
    expect(firing).to_be_visible()
    firing.get_by_test_id("ack-button").click()
    expect(page.get_by_test_id("page-message")).to_be_visible()
    expect(firing.get_by_test_id("acked")).to_be_visible()

    firing.get_by_test_id("silence-button").click()
    dialog = page.get_by_test_id("silence-dialog")
    expect(page.get_by_test_id("silence-matchers")).to_have_value('alertname="ShopTestAlert"\nservice="shop"')
    page.get_by_test_id("silence-comment").fill("browser test silence")
    page.get_by_test_id("silence-confirm").click()
    expect(dialog).to_have_count(0)
    silence = page.get_by_test_id("silence-item").filter(has_text="browser test silence")
    expect(silence).to_be_visible()
    expect(page.get_by_test_id("alerts-suppressed").get_by_test_id("alert-item")).to_have_count(1, timeout=20_000)
    screenshot(page, "alerts-silenced-desktop-light-en")
    silence.get_by_test_id("expire-button").click()
    expect(silence).to_have_count(0)
    assert w.problems() == []
    context.close()


def test_report_downloads_csv_json_and_markdown_with_the_token_header(browser: Any, shop: Server) -> None:
    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_page(page, shop.base, "report")
    expect(page.get_by_test_id("report-row").first).to_contain_text("shop")
    with page.expect_download() as csv_download:
        page.get_by_test_id("download-csv").click()
    csv = csv_download.value
    assert csv.suggested_filename.startswith("scalepilot-report-") and csv.suggested_filename.endswith(".csv")
    assert Path(csv.path()).read_text().splitlines()[0] == "time,service,kind,from,to,actor,reason"
    with page.expect_download() as json_download:
        page.get_by_test_id("download-json").click()
    body = json.loads(Path(json_download.value.path()).read_text())
    assert [s["service"] for s in body["services"]] == ["shop"]
    with page.expect_download() as md_download:
        page.get_by_test_id("download-markdown").click()
    md = md_download.value
    assert md.suggested_filename.startswith("scalepilot-report-") and md.suggested_filename.endswith(".md")
    text = Path(md.path()).read_text()
    assert text.startswith("# Scaling report") and "## shop: " in text and "### Usage (measured)" in text
    assert w.problems() == []
    context.close()


def test_decision_markers_show_their_reason_on_hover(browser: Any, shop: Server) -> None:
    desired = shop.get("/api/v1/services/shop")["replicas"]["desired"]
    shop.post("/api/v1/services/shop/scale", {"replicas": 3 if desired != 3 else 4, "reason": "marker hover test"})
    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_page(page, shop.base, "service")
    plot = page.get_by_test_id("chart-replicas").locator(".uplot")
    expect(plot).to_have_attribute("data-markers", re.compile(r"\d"))
    xs = [float(x) for x in plot.get_attribute("data-markers").split()]
    tip = page.get_by_test_id("chart-replicas").get_by_test_id("decision-tip")
    expect(tip).to_be_hidden()
    over = page.get_by_test_id("chart-replicas").locator(".u-over")
    width = over.bounding_box()["width"]
    # Just right of the newest marker: the tip lists the markers within 8 px, nearest first.
    over.hover(position={"x": min(xs[-1] + 1, width - 1), "y": 40})
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("marker hover test")
    expect(tip).to_contain_text("→")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "service-decision-tooltip-en.png"))
    # The same decisions as a list, for keyboards and touch screens.
    page.get_by_test_id("decision-list").locator("summary").click()
    expect(page.get_by_test_id("decision-list")).to_contain_text("marker hover test")
    assert w.problems() == []
    context.close()


def test_health_dialog_lists_targets_and_closes_with_escape(browser: Any, shop: Server) -> None:
    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_page(page, shop.base, "service")
    expect(page.get_by_test_id("replica-row")).not_to_have_count(0)
    opener = page.get_by_test_id("health-button")
    opener.click()
    dialog = page.get_by_test_id("health-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("health-target").first).to_contain_text("/metrics")
    screenshot(page, "service-health-dialog-en")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()
    assert w.problems() == []
    context.close()


def test_turkish_labels_are_remembered_and_numbers_use_a_decimal_comma(browser: Any, shop: Server) -> None:
    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_page(page, shop.base, "overview")
    expect(page.get_by_test_id("nav-overview")).to_have_text("Overview")
    page.get_by_test_id("language-switch").select_option("tr")
    expect(page.get_by_test_id("nav-overview")).to_have_text("Genel bakış")
    expect(page.get_by_test_id("nav-alerts")).to_have_text("Uyarılar")
    expect(page.locator("html")).to_have_attribute("lang", "tr")

    page.reload()
    expect(page.get_by_test_id("nav-overview")).to_have_text("Genel bakış")
    expect(page.get_by_test_id("nav-events")).to_have_text("Olaylar")
    expect(page.locator("thead")).to_contain_text("Hizmet")
    expect(row(page).get_by_test_id("status")).to_have_text(
        re.compile("Sağlıklı|Kısmen çalışıyor|Çalışmıyor|Bilinmiyor")
    )
    # Memory is shown in MiB with one decimal: tr-TR writes it with a comma.
    expect(row(page).get_by_test_id("figure-memory")).to_have_text(re.compile(r"^\d[\d.]*,\d MiB"))
    expect(page.get_by_test_id("count-healthy").locator("xpath=..")).to_contain_text("Sağlıklı")
    assert w.problems() == []
    context.close()


@pytest.mark.parametrize("lang", ["en", "tr"])
def test_no_console_errors_on_any_page(browser: Any, shop: Server, lang: str) -> None:
    context = new_context(browser)
    context.add_init_script(f"localStorage.setItem('scalepilot.lang', '{lang}')")
    w = watch(context)
    page = w.page
    favicon: list[int] = []
    page.on("response", lambda r: favicon.append(r.status) if r.url.endswith("/favicon.svg") else None)
    for name in PAGES:
        open_page(page, shop.base, name)
        screenshot(page, f"{name}-desktop-light-{lang}")
    assert favicon and all(s == 200 for s in favicon), favicon
    assert w.problems() == []
    context.close()


@pytest.mark.parametrize("lang", ["en", "tr"])
def test_phone_width_has_no_horizontal_overflow(browser: Any, shop: Server, lang: str) -> None:
    context = new_context(
        browser, viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True, has_touch=True
    )
    context.add_init_script(f"localStorage.setItem('scalepilot.lang', '{lang}')")
    w = watch(context)
    page = w.page
    for name in PAGES:
        open_page(page, shop.base, name)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            " + Math.max(0, document.body.scrollWidth - document.documentElement.clientWidth)"
        )
        screenshot(page, f"{name}-phone-dark-{lang}")
        assert overflow <= 0, f"{name}: the page is {overflow}px wider than a 390px phone"
    assert w.problems() == []
    context.close()


def test_static_files_need_no_token_and_carry_the_strict_csp(shop: Server) -> None:
    for path in ("/", "/ui/js/main.js", "/ui/app.css", "/ui/favicon.svg", "/ui/vendor/uplot/uPlot.iife.min.js"):
        r = httpx.get(shop.base + path, timeout=5)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"]
