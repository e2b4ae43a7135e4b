"""The dashboard with auth on (``server.auth.enabled: true``) in a real browser.

Covers: the page asks for a token (a labelled form) before it shows anything; a wrong
token is refused in the form; a viewer token shows the overview and the service page
without the operator buttons (scale, pause); sign out forgets the token and asks again;
an operator token shows the scale button; without ``alerting:`` the alerts page says
alerting is not configured instead of showing an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import Server, create_tokens, new_context, run_scalepilot, screenshot, wait_ready
from tests.support import free_port

pytestmark = pytest.mark.slow


def auth_config(port: int) -> str:
    return f"""
server:
  address: '127.0.0.1:{port}'
  auth: {{enabled: true, failures_per_minute: 1000}}
storage: {{data_dir: data}}
dashboard: {{refresh: 1s}}
services:
  - name: web
    target: {{type: command, scale: [echo, '{{replicas}}'], status: [echo, '2']}}
    autoscaling:
      max_replicas: 5
      metrics:
        - {{type: series, name: load, query: 'vector(1)', target_type: value, target: 10}}
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    directory = tmp_path_factory.mktemp("auth")
    config = directory / "scalepilot.yaml"
    config.write_text(auth_config(free_port()))
    tokens = create_tokens(config, ["viewer", "operator"])
    proc, base = run_scalepilot(directory, config.read_text())
    server = Server(base, directory, proc)
    try:
        wait_ready(proc, base)
        yield server, tokens
    finally:
        assert proc.stop() == 0


def sign_in(page: Any, token: str) -> None:
    form = page.get_by_test_id("token-form")
    expect(form).to_be_visible()
    page.get_by_label("API token").fill(token)
    page.get_by_test_id("token-submit").click()


def test_viewer_is_asked_for_a_token_and_sees_no_operator_buttons(
    browser: Any, secured: tuple[Server, dict[str, str]]
) -> None:
    server, tokens = secured
    context = new_context(browser)
    page = context.new_page()
    page.goto(server.base + "/")
    expect(page.get_by_test_id("token-form")).to_be_visible()
    expect(page.get_by_label("API token")).to_be_focused()
    screenshot(page, "token-form-en")

    sign_in(page, "sp_not-a-real-token")
    expect(page.get_by_test_id("token-error")).to_be_visible()

    page.get_by_label("API token").fill(tokens["viewer"])
    page.get_by_test_id("token-submit").click()
    expect(page.locator('[data-testid="service-row"][data-service="web"]')).to_be_visible()
    expect(page.get_by_test_id("role")).to_have_text("viewer")
    expect(page.locator("html")).to_have_attribute("data-ready", "1")

    page.goto(server.base + "/#/service/web")
    expect(page.get_by_test_id("service-name")).to_have_text("web")
    expect(page.get_by_test_id("health-button")).to_be_visible()
    expect(page.get_by_test_id("scale-button")).to_have_count(0)
    expect(page.get_by_test_id("pause-button")).to_have_count(0)

    # Remembered across a reload; forgotten by sign out.
    page.reload()
    expect(page.get_by_test_id("service-name")).to_have_text("web")
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("token-form")).to_be_visible()
    assert page.evaluate("localStorage.getItem('scalepilot.token')") is None
    context.close()


def test_operator_sees_scale_and_alerting_off_is_explained(
    browser: Any, secured: tuple[Server, dict[str, str]]
) -> None:
    server, tokens = secured
    context = new_context(browser)
    page = context.new_page()
    page.goto(server.base + "/#/service/web")
    sign_in(page, tokens["operator"])
    expect(page.get_by_test_id("scale-button")).to_be_visible()
    expect(page.get_by_test_id("role")).to_have_text("operator")

    page.get_by_test_id("nav-alerts").click()
    expect(page.get_by_test_id("alerting-off")).to_be_visible()
    expect(page.get_by_test_id("page-error")).to_have_count(0)
    screenshot(page, "alerts-not-configured-en")
    context.close()
