"""The report page's usage, headroom and recommendations in a real browser (Debian
chromium, headless) against a real ``scalepilot run`` whose data directory was
backfilled before it started with six hours of the service ``api``: 20 req/s on 2
ready replicas for three hours, then 40 req/s on 4 (its ``max_replicas``, the desired
count held there) for three, each replica using half a core of its one-core limit
(autoscaling 1–4 on CPU at 70 %). The server runs two replicas of
``tests/integration/target_child.py`` for it, without host statistics and without
traffic, so what it records itself (its replica counts) leaves the figures checked alone.

Covers: below the summary, the service's section shows the usage table with the
figures the API reports (traffic mean and maximum, CPU per replica with its 70 % target
and the time above it, ready replicas up to 4, latency and memory without data), each
figure marked measured; the headroom sentence (the peak of 40 req/s on 4 replicas, the
ceiling 4, no capacity per replica); the recommendations, ``raise_max_replicas`` with its
translated tag, its text and evidence written from the catalog with the figures the
page's own API call sent, and the measured mark, and ``measure_capacity`` without a
mark; the hint that projections come from ``scalepilot report``; the Turkish page shows
the section's headings, tags, figures and the recommendations' sentences in Turkish; at
phone width (dark) the section does not overflow; no console error, failed request or
CSP violation.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import Server, new_context, output, run_scalepilot, screenshot, wait_ready, watch
from tests.integration.targets_helpers import child_command
from tests.support import backfill_scaled_service, free_port

pytestmark = pytest.mark.slow

STEP_S = 15
HOURS = 6


def report_config(port: int) -> str:
    return f"""
server: {{address: '127.0.0.1:{port}'}}
storage: {{data_dir: data, flush_interval: 200ms}}
host_stats: {{enabled: false}}
scrape: {{interval: 1s, timeout: 1s}}
dashboard: {{refresh: 15s}}
services:
  - name: api
    target:
      type: local
      command: {json.dumps(child_command())}
      replicas: 2
      metrics_path: null
      readiness: {{type: tcp, interval: 100ms}}
      resources: {{cpu: 1.0}}
      grace_period: 1s
    balancer: {{listen: '127.0.0.1:0'}}
    autoscaling:
      min_replicas: 1
      max_replicas: 4
      metrics: [{{type: cpu, target: 70%}}]
"""


@pytest.fixture(scope="module")
def reporting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real scalepilot started on the backfilled data directory."""
    directory = tmp_path_factory.mktemp("report-page")
    backfill_scaled_service(directory / "data", int(time.time()) // 60 * 60)
    proc, base = run_scalepilot(directory, report_config(free_port()))
    server = Server(base, directory, proc)
    try:
        wait_ready(proc, base)
        yield server
    finally:
        code = proc.stop()
        assert code == 0, f"scalepilot exited with {code}:\n{output(proc)}"


def open_report(page: Any, base: str) -> tuple[Any, dict[str, Any]]:
    """The report page over a day, with the report the page itself fetched."""
    with page.expect_response(lambda r: "/api/v1/report?" in r.url and r.request.method == "GET") as answer:
        page.goto(f"{base}/#/report?range=24h")
    expect(page.locator("html")).to_have_attribute("data-ready", "1")
    detail = page.locator('[data-testid="report-detail"][data-service="api"]')
    expect(detail).to_be_visible()
    body: dict[str, Any] = answer.value.json()
    return detail, body


def usage_row(detail: Any, figure: str) -> Any:
    return detail.locator(f'[data-testid="usage-row"][data-figure="{figure}"]')


def test_usage_headroom_and_recommendations_from_the_stored_figures(browser: Any, reporting: Server) -> None:
    context = new_context(browser)
    w = watch(context)
    page = w.page
    detail, body = open_report(page, reporting.base)
    api = next(s for s in body["services"] if s["service"] == "api")
    # What the page shows is this report: six hours backfilled, a quarter of the day.
    assert api["usage"]["traffic_rps"]["max"] == pytest.approx(40.0)
    assert [r["kind"] for r in api["recommendations"]] == ["raise_max_replicas", "measure_capacity"]

    expect(detail.get_by_role("heading", level=2)).to_have_text("api: usage and recommendations")
    expect(detail.get_by_role("heading", level=3)).to_have_text(["Usage", "Headroom", re.compile(r"^Recommendations")])
    expect(detail.get_by_test_id("report-configured")).to_have_text("Configured: autoscaling between 1 and 4 replicas.")
    usage = detail.get_by_test_id("report-usage")
    expect(usage.locator("thead th")).to_have_text(["Figure", "Mean", "p95", "Max", "Note"])
    expect(usage.get_by_test_id("usage-row")).to_have_count(7)

    traffic = usage_row(detail, "traffic")
    expect(traffic.locator(".usage-figure")).to_have_text("Traffic")
    expect(traffic.get_by_test_id("usage-mean")).to_have_text("30 req/s (measured)")
    expect(traffic.get_by_test_id("usage-p95")).to_have_text("40 req/s (measured)")
    expect(traffic.get_by_test_id("usage-max")).to_have_text("40 req/s (measured)")
    expect(traffic.locator('[data-source="measured"] .src-measured')).to_have_count(3)

    cpu = usage_row(detail, "cpu")
    expect(cpu.get_by_test_id("usage-max")).to_have_text("50% (measured)")
    expect(cpu.get_by_test_id("usage-note")).to_have_text("target 70% (configured); above it 0% (measured) of the time")
    expect(cpu.get_by_test_id("usage-note").locator('[data-source="configured"] .src-configured')).to_have_count(1)
    expect(usage_row(detail, "rpsPerReplica").get_by_test_id("usage-max")).to_have_text("10 req/s (measured)")
    expect(usage_row(detail, "errors").get_by_test_id("usage-max")).to_have_text("0% (measured)")
    ready = usage_row(detail, "ready")
    expect(ready.get_by_test_id("usage-max")).to_have_text("4 (measured)")
    expect(ready.get_by_test_id("usage-note")).to_contain_text(
        re.compile(r"at max_replicas \(4 \(configured\)\) for 3 hr")
    )
    # Nothing recorded the latency, and the replicas have no memory limit.
    for figure in ("latency", "memory"):
        expect(usage_row(detail, figure).get_by_test_id("usage-none")).to_have_text("no data")
        expect(usage_row(detail, figure).locator("[data-source]")).to_have_count(0)

    # No latency was recorded, so only the error threshold has minutes to count.
    expect(detail.get_by_test_id("report-slo")).to_have_text(
        "SLO (the built-in alerts' critical thresholds): errors above 1% (configured) in 0 (measured) min"
    )
    headroom = detail.get_by_test_id("report-headroom")
    expect(headroom).to_contain_text("The peak was 40 req/s (measured) at ")
    expect(headroom).to_contain_text(
        "on 4 (measured) ready replicas: already at the ceiling of 4 (configured) replicas, no headroom left."
    )

    recs = detail.get_by_test_id("report-recommendation")
    expect(recs).to_have_count(2)
    raise_max = recs.nth(0)
    expect(raise_max).to_have_attribute("data-kind", "raise_max_replicas")
    expect(raise_max.get_by_test_id("rec-kind")).to_have_text("raise max replicas")
    # Written from the catalog and the figures the API sent with the rule.
    params = api["recommendations"][0]["params"]
    expect(raise_max.get_by_test_id("rec-text")).to_have_text(
        "Raise autoscaling.max_replicas above 4: the autoscaler wanted more."
    )
    expect(raise_max.get_by_test_id("rec-evidence")).to_contain_text(
        f"Evidence: the desired count was at max_replicas 4 in {params['minutes']} min ("
    )
    expect(raise_max.get_by_test_id("rec-source")).to_have_text("measured")
    expect(raise_max.locator('[data-testid="rec-source"] .src-measured')).to_have_count(1)
    capacity = recs.nth(1)
    expect(capacity).to_have_attribute("data-kind", "measure_capacity")
    expect(capacity.get_by_test_id("rec-kind")).to_have_text("measure capacity")
    expect(capacity.get_by_test_id("rec-source")).to_have_count(0)  # a rule, not a figure

    hint = detail.get_by_test_id("report-projections")
    expect(hint).to_contain_text("made on the command line: scalepilot report.")
    expect(hint.locator("code")).to_have_text("scalepilot report")
    # Below the summary, above the scaling events (the backfilled scale-up among them).
    order = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="report-summary"], [data-testid="report-detail"],'
                  + ' [data-testid="report-events"]')].map((el) => el.dataset.testid)"""
    )
    assert order == ["report-summary", "report-detail", "report-events"], order
    expect(page.get_by_test_id("report-events").locator("tbody tr")).to_have_count(1)
    screenshot(page, "report-usage-desktop-light-en")
    assert w.problems() == []
    context.close()


def test_the_turkish_report_page_translates_the_section(browser: Any, reporting: Server) -> None:
    context = new_context(browser, locale="tr-TR")
    context.add_init_script("localStorage.setItem('scalepilot.lang', 'tr')")
    w = watch(context)
    page = w.page
    detail, body = open_report(page, reporting.base)
    api = next(s for s in body["services"] if s["service"] == "api")
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    expect(detail.get_by_role("heading", level=2)).to_have_text("api: kullanım ve öneriler")
    expect(detail.get_by_role("heading", level=3)).to_have_text(["Kullanım", "Kapasite payı", re.compile(r"^Öneriler")])
    expect(detail.get_by_test_id("report-configured")).to_have_text(
        "Yapılandırma: 1 ile 4 replika arasında otomatik ölçeklendirme."
    )
    usage = detail.get_by_test_id("report-usage")
    expect(usage.locator("thead th")).to_have_text(["Gösterge", "Ortalama", "p95", "En yüksek", "Not"])
    traffic = usage_row(detail, "traffic")
    expect(traffic.locator(".usage-figure")).to_have_text("Trafik")
    expect(traffic.get_by_test_id("usage-mean")).to_have_text("30 istek/sn (ölçülen)")
    cpu = usage_row(detail, "cpu")
    expect(cpu.locator(".usage-figure")).to_have_text("Replika başına CPU (sınırının yüzdesi)")
    expect(cpu.get_by_test_id("usage-max")).to_have_text("%50 (ölçülen)")
    expect(cpu.get_by_test_id("usage-note")).to_have_text(
        "hedef %70 (yapılandırılmış); sürenin %0 (ölçülen) kadarında hedefin üstünde"
    )
    expect(usage_row(detail, "latency").get_by_test_id("usage-none")).to_have_text("veri yok")
    expect(detail.get_by_test_id("report-headroom")).to_contain_text("En yüksek trafik")
    expect(detail.get_by_test_id("report-headroom")).to_contain_text("tavana zaten ulaşılmıştı")

    raise_max = detail.locator('[data-testid="report-recommendation"][data-kind="raise_max_replicas"]')
    expect(raise_max.get_by_test_id("rec-kind")).to_have_text("en çok replika sayısını artır")
    expect(raise_max.get_by_test_id("rec-source")).to_have_text("ölçülen")
    # The sentences are Turkish too, written from the rule's figures.
    minutes = api["recommendations"][0]["params"]["minutes"]
    expect(raise_max.get_by_test_id("rec-text")).to_have_text(
        "autoscaling.max_replicas değerini 4 üstüne çıkarın: otomatik ölçekleyici daha fazlasını istedi."
    )
    expect(raise_max.get_by_test_id("rec-evidence")).to_contain_text(
        f"Dayanak: istenen replika sayısı {minutes} dakika boyunca max_replicas sınırı olan 4 değerindeydi"
    )
    expect(raise_max.locator('[lang="en"]')).to_have_count(0)
    expect(detail.get_by_test_id("report-projections")).to_contain_text("komut satırında yapılır: scalepilot report.")
    screenshot(page, "report-usage-desktop-light-tr")
    assert w.problems() == []
    context.close()


@pytest.mark.parametrize("lang", ["en", "tr"])
def test_the_section_fits_a_phone(browser: Any, reporting: Server, lang: str) -> None:
    context = new_context(
        browser, viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True, has_touch=True
    )
    context.add_init_script(f"localStorage.setItem('scalepilot.lang', '{lang}')")
    w = watch(context)
    page = w.page
    detail, _ = open_report(page, reporting.base)
    expect(detail.get_by_test_id("report-recommendation")).to_have_count(2)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        " + Math.max(0, document.body.scrollWidth - document.documentElement.clientWidth)"
    )
    screenshot(page, f"report-usage-phone-dark-{lang}")
    assert overflow <= 0, f"the report page is {overflow}px wider than a 390px phone"
    assert w.problems() == []
    context.close()


def test_a_price_turns_replica_hours_into_a_cost(browser: Any, reporting: Server) -> None:
    context = new_context(browser)
    w = watch(context)
    page = w.page
    open_report(page, reporting.base)
    summary = page.get_by_test_id("report-summary")
    expect(summary.locator("thead th")).not_to_contain_text(["Cost"])
    expect(page.get_by_test_id("report-cost-source")).to_have_count(0)
    with page.expect_response(lambda r: "/api/v1/report?" in r.url and "price=0.5" in r.url) as answer:
        page.get_by_test_id("report-price").fill("0.5")
        page.get_by_test_id("report-price").press("Tab")
    api = next(s for s in answer.value.json()["services"] if s["service"] == "api")
    assert api["cost"]["cost"] == pytest.approx(api["replica_hours"] * 0.5)
    expect(summary.locator("thead th").last).to_have_text("Cost per 30 days")
    row = summary.get_by_test_id("report-row").filter(has_text="api")
    cost = row.locator('td[data-label="Cost"]')
    expect(cost.locator('[data-source="measured"]')).to_have_count(1)
    shown = float(cost.inner_text().split()[0].replace(",", ""))
    assert shown == pytest.approx(api["cost"]["cost"], abs=0.01)
    monthly = float(row.locator('td[data-label="Cost per 30 days"]').inner_text().split()[0].replace(",", ""))
    assert monthly == pytest.approx(api["cost"]["per_30_days"], abs=0.01)
    expect(page.get_by_test_id("report-cost-source")).to_contain_text("the price entered")
    assert "price=0.5" in page.url
    # A reload keeps the price: it is in the page's address.
    page.reload()
    expect(page.get_by_test_id("report-price")).to_have_value("0.5")
    expect(page.get_by_test_id("report-summary").locator("thead th").last).to_have_text("Cost per 30 days")
    assert w.problems() == []
    context.close()
