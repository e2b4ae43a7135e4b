"""API tokens and roles against a real ``scalepilot run`` on loopback with auth on.

Covers: every route with no token and with a viewer, operator and admin token answers
as the role table says (401 without a token, 403 for a role too low, anything else when
allowed), so a viewer cannot scale and an unauthenticated request is refused; an unknown,
an expired and a revoked token get 401; ``scalepilot token create/revoke`` work offline
(the bootstrap) and, while scalepilot runs, through its API with ``$SCALEPILOT_TOKEN``
(and say what to do without it); a write's event names the token, whatever the body
claims; ``scalepilot scale`` sends ``$SCALEPILOT_TOKEN``; the security headers are on
every answer (a CSP relaxed for styles on /docs only); repeated failures answer 429 with
Retry-After; ``scalepilot check`` refuses auth off on a non-loopback address.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.auth import Role
from scalepilot.service.tokens import TokenStore
from tests.support import Proc, free_port, start, wait_for

pytestmark = pytest.mark.slow

SCALEPILOT = [sys.executable, "-m", "scalepilot"]
STRICT_CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def config_text(port: int, failures_per_minute: int) -> str:
    return f"""
server:
  address: '127.0.0.1:{port}'
  auth: {{enabled: true, failures_per_minute: {failures_per_minute}}}
storage: {{data_dir: data}}
services:
  - name: web
    target: {{type: command, scale: [echo, '{{replicas}}'], status: [echo, '2']}}
    autoscaling:
      max_replicas: 5
      metrics:
        - {{type: series, name: load, query: 'vector(1)', target_type: value, target: 10}}
"""


def cli(*args: str, config: Path, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALEPILOT_TOKEN"}
    if token is not None:
        env["SCALEPILOT_TOKEN"] = token
    return subprocess.run(
        [*SCALEPILOT, *args, "-c", str(config)], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@dataclass
class Server:
    base: str
    config: Path
    tokens: dict[str, str]
    proc: Proc


def _start(tmp: Path, failures_per_minute: int) -> tuple[Proc, str, Path]:
    port = free_port()
    config = tmp / "scalepilot.yaml"
    config.write_text(config_text(port, failures_per_minute))
    return start([*SCALEPILOT, "run", "-c", str(config)]), f"http://127.0.0.1:{port}", config


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("auth")
    port = free_port()
    config = tmp / "scalepilot.yaml"
    config.write_text(config_text(port, 10_000))
    tokens: dict[str, str] = {}
    # Bootstrap: with scalepilot stopped the CLI writes the data directory itself.
    for role in ("viewer", "operator", "admin"):
        done = cli("token", "create", "--role", role, "--name", role, "--expires", "1d", config=config)
        assert done.returncode == 0, done.stderr
        tokens[role] = done.stdout.strip()
        assert tokens[role].startswith("sp_") and len(tokens[role]) > 40
    # A token that expired yesterday: made with a clock two days back.
    with SQLiteStore.open(tmp / "data", StorageSettings()) as store:
        back = TokenStore(store, clock=lambda: time.time() - 2 * 86400)
        tokens["expired"], _ = back.create("expired", Role.ADMIN, expires_in=86400)
    listed = cli("token", "list", "-o", "json", config=config)
    assert {t["name"] for t in json.loads(listed.stdout)} == {"viewer", "operator", "admin", "expired"}
    assert "sp_" not in listed.stdout and "hash" not in listed.stdout
    proc = start([*SCALEPILOT, "run", "-c", str(config)])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(base), timeout=30, what="scalepilot to be ready")
        yield Server(base, config, tokens, proc)
    finally:
        assert proc.stop(signal.SIGTERM, timeout=30) == 0


def call(server: Server, method: str, path: str, token: str | None, body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{server.base}{path}", json=body, headers=headers, timeout=30)


SCALE = {"replicas": 2, "reason": "test", "actor": "mallory"}
PAUSE = {"duration": "1h", "reason": "test", "actor": "mallory"}
# (method, path, body, least role; None = open)
ROUTES: list[tuple[str, str, Any, str | None]] = [
    ("GET", "/health", None, None),
    ("GET", "/ready", None, None),
    ("GET", "/openapi.json", None, None),
    ("GET", "/", None, None),
    ("GET", "/ui/index.html", None, None),
    ("GET", "/metrics", None, "viewer"),
    ("GET", "/status", None, "viewer"),
    ("GET", "/api/v1/services", None, "viewer"),
    ("GET", "/api/v1/services/web", None, "viewer"),
    ("GET", "/api/v1/services/web/decisions", None, "viewer"),
    ("GET", "/api/v1/query?query=up", None, "viewer"),
    ("POST", "/api/v1/query?query=up", None, "viewer"),
    ("GET", "/api/v1/query_range?query=up&start=0&end=60&step=15", None, "viewer"),
    ("POST", "/api/v1/query_range?query=up&start=0&end=60&step=15", None, "viewer"),
    ("GET", "/api/v1/series?match[]=up", None, "viewer"),
    ("POST", "/api/v1/series?match[]=up", None, "viewer"),
    ("GET", "/api/v1/labels", None, "viewer"),
    ("POST", "/api/v1/labels", None, "viewer"),
    ("GET", "/api/v1/label/job/values", None, "viewer"),
    ("GET", "/api/v1/status/buildinfo", None, "viewer"),
    ("GET", "/api/v1/metadata", None, "viewer"),
    ("GET", "/api/v1/alerts", None, "viewer"),
    ("GET", "/api/v1/silences", None, "viewer"),
    ("GET", "/api/v1/overview", None, "viewer"),
    ("GET", "/api/v1/services/web/charts?range=15m", None, "viewer"),
    ("GET", "/api/v1/services/web/health", None, "viewer"),
    ("GET", "/api/v1/events?since=1h", None, "viewer"),
    ("GET", "/api/v1/events/kinds", None, "viewer"),
    ("GET", "/api/v1/report?range=1h", None, "viewer"),
    ("GET", "/api/v1/report?range=1h&format=csv", None, "viewer"),
    ("GET", "/api/v1/whoami", None, "viewer"),
    ("POST", "/api/v1/services/web/scale", SCALE, "operator"),
    ("POST", "/api/v1/services/web/pause", PAUSE, "operator"),
    ("POST", "/api/v1/services/web/resume", {"actor": "mallory"}, "operator"),
    ("POST", "/api/v1/services/web/rollout", {"action": "pause", "actor": "mallory"}, "operator"),
    ("POST", "/api/v1/alerts/ack", {"matchers": ['alertname="X"']}, "operator"),
    ("POST", "/api/v1/silences", {"matchers": ['alertname="X"'], "duration": "1h"}, "operator"),
    ("DELETE", "/api/v1/silences/nope", None, "operator"),
    ("POST", "/-/reload", None, "operator"),
    ("GET", "/api/v1/tokens", None, "admin"),
    ("POST", "/api/v1/tokens", {"name": "made-by-test", "role": "viewer", "expires": "1h"}, "admin"),
    ("DELETE", "/api/v1/tokens/nobody", None, "admin"),
    ("POST", "/api/v1/unknown-write", None, "admin"),
]
RANK = {None: 0, "viewer": 1, "operator": 2, "admin": 3}


@pytest.mark.parametrize("role", [None, "viewer", "operator", "admin"])
@pytest.mark.parametrize(("method", "path", "body", "least"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_every_route_with_every_role(
    server: Server, method: str, path: str, body: Any, least: str | None, role: str | None
) -> None:
    resp = call(server, method, path, server.tokens[role] if role else None, body)
    if least is None or RANK[role] >= RANK[least]:
        assert resp.status_code not in (401, 403, 429), (resp.status_code, resp.text)
    elif role is None:
        assert resp.status_code == 401, resp.text
        assert "authentication required" in resp.json()["detail"]
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    else:
        assert resp.status_code == 403, resp.text
        assert f"this needs {least}" in resp.json()["detail"]


# Tested on their own below: the stream never ends, so it cannot go through call().
STREAMED = {("GET", "/api/v1/stream")}


def test_the_route_table_covers_every_operation_of_the_spec(server: Server) -> None:
    spec = httpx.get(f"{server.base}/openapi.json", timeout=10).json()
    listed = {(m, p.split("?")[0]) for m, p, _, _ in ROUTES} | STREAMED
    operations = {(m.upper(), path) for path, item in spec["paths"].items() for m in item}

    def covered(method: str, template: str) -> bool:
        pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))
        return any(m == method and pattern.fullmatch(p) for m, p in listed)

    missing = sorted(op for op in operations if not covered(*op))
    assert not missing, f"routes without a role check in ROUTES: {missing}"


@pytest.mark.parametrize("role", [None, "viewer", "admin"])
def test_the_stream_needs_a_viewer(server: Server, role: str | None) -> None:
    headers = {"Authorization": f"Bearer {server.tokens[role]}"} if role else {}
    with httpx.stream("GET", f"{server.base}/api/v1/stream", headers=headers, timeout=30) as resp:
        if role is None:
            assert resp.status_code == 401
            return
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        first = next(resp.iter_lines())
        assert first == "event: overview"


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_whoami_names_the_token_and_its_role(server: Server, role: str) -> None:
    me = call(server, "GET", "/api/v1/whoami", server.tokens[role]).json()
    assert me == {"auth_enabled": True, "token": role, "role": role, "alerting": False}


def test_a_viewer_cannot_scale_and_an_operator_can(server: Server) -> None:
    refused = call(server, "POST", "/api/v1/services/web/scale", server.tokens["viewer"], SCALE)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "token 'viewer' has role viewer; this needs operator or higher"
    done = call(server, "POST", "/api/v1/services/web/scale", server.tokens["operator"], {**SCALE, "replicas": 3})
    assert done.status_code == 200, done.text


@pytest.mark.parametrize(
    "header",
    ["Bearer sp_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer"],
    ids=["unknown", "basic", "empty"],
)
def test_bad_credentials_are_401(server: Server, header: str) -> None:
    resp = httpx.get(f"{server.base}/api/v1/services", headers={"Authorization": header}, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["detail"]


def test_a_token_in_the_query_string_is_not_accepted(server: Server) -> None:
    resp = httpx.get(f"{server.base}/api/v1/services", params={"token": server.tokens["admin"]}, timeout=10)
    assert resp.status_code == 401


def test_an_expired_token_is_refused(server: Server) -> None:
    resp = call(server, "GET", "/api/v1/services", server.tokens["expired"])
    assert resp.status_code == 401
    assert resp.json()["detail"] == "unknown, revoked or expired token"


def test_create_and_revoke_while_running_go_through_the_api(server: Server) -> None:
    # Without an admin token the CLI says how to proceed.
    refused = cli("token", "create", "--role", "viewer", "--name", "ci", config=server.config)
    assert refused.returncode == 1
    assert "SCALEPILOT_TOKEN" in refused.stderr
    # An operator's token is not enough.
    low = cli(
        "token", "create", "--role", "viewer", "--name", "ci", config=server.config, token=server.tokens["operator"]
    )
    assert low.returncode == 1 and "403" in low.stderr
    made = cli(
        "token", "create", "--role", "viewer", "--name", "ci", config=server.config, token=server.tokens["admin"]
    )
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert call(server, "GET", "/api/v1/services", secret).status_code == 200
    listed = call(server, "GET", "/api/v1/tokens", server.tokens["admin"]).json()
    ci = next(t for t in listed if t["name"] == "ci")
    assert ci["role"] == "viewer" and ci["last_used"] is not None and "hash" not in ci
    gone = cli("token", "revoke", "ci", config=server.config, token=server.tokens["admin"])
    assert gone.returncode == 0, gone.stderr
    resp = call(server, "GET", "/api/v1/services", secret)
    assert resp.status_code == 401


def _events(server: Server, kind: str) -> list[dict[str, Any]]:
    done = cli("events", "--kind", kind, "-o", "json", config=server.config)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def test_a_write_is_an_event_naming_the_token(server: Server) -> None:
    resp = call(server, "POST", "/api/v1/services/web/pause", server.tokens["operator"], {**PAUSE, "reason": "audit"})
    assert resp.status_code == 200, resp.text
    paused = wait_for(
        lambda: [e for e in _events(server, "autoscaling_paused") if e["details"].get("reason") == "audit"],
        timeout=10,
        what="the pause event",
    )
    assert paused[0]["details"]["actor"] == "token:operator"
    reload = call(server, "POST", "/-/reload", server.tokens["admin"])
    assert reload.status_code == 200, reload.text
    reloaded = wait_for(lambda: _events(server, "config_reloaded"), timeout=10, what="the reload event")
    assert reloaded[0]["details"]["actor"] == "token:admin"
    assert reload.json() == {"applied": [], "restart_needed": []}


def test_the_cli_sends_its_token(server: Server) -> None:
    done = cli("scale", "web", "4", "-r", "from the cli", config=server.config, token=server.tokens["operator"])
    assert done.returncode == 0, done.stderr + done.stdout
    scaled = wait_for(
        lambda: [e for e in _events(server, "manual_scale") if e["details"].get("reason") == "from the cli"],
        timeout=10,
        what="the manual scale event",
    )
    assert scaled[0]["details"]["actor"] == "token:operator"
    refused = cli("scale", "web", "4", "-r", "no token", config=server.config)
    assert refused.returncode == 1 and "authentication required" in refused.stderr


@pytest.mark.parametrize("path", ["/health", "/api/v1/services", "/nowhere"])
def test_security_headers_on_every_answer(server: Server, path: str) -> None:
    resp = httpx.get(f"{server.base}{path}", timeout=10)  # 200, 401 and 404 alike
    assert resp.headers["Content-Security-Policy"] == STRICT_CSP
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_the_docs_page_is_served_from_the_package_with_its_own_csp(server: Server) -> None:
    resp = httpx.get(f"{server.base}/docs", timeout=10)
    assert resp.status_code == 200
    csp = resp.headers["Content-Security-Policy"]
    # No CDN and no inline script, even for Swagger UI: only its styles are relaxed.
    assert "http" not in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in resp.text and "cdn" not in resp.text
    for asset in ("/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"):
        got = httpx.get(f"{server.base}{asset}", timeout=10)  # no token: the page is public
        assert got.status_code == 200 and len(got.content) > 100, asset
    assert httpx.get(f"{server.base}/redoc", timeout=10).status_code in (401, 404)


def test_repeated_failures_answer_429(tmp_path: Path) -> None:
    proc, base, _ = _start(tmp_path, failures_per_minute=3)
    try:
        wait_for(lambda: _ready(base), timeout=30, what="scalepilot to be ready")
        codes = [httpx.get(f"{base}/status", headers={"Authorization": "Bearer sp_x"}, timeout=10) for _ in range(5)]
        assert [r.status_code for r in codes] == [401, 401, 401, 429, 429]
        assert int(codes[-1].headers["Retry-After"]) >= 1
        assert "too many failed" in codes[-1].json()["detail"]
        assert codes[-1].headers["X-Frame-Options"] == "DENY"
        # Probes stay open.
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
    finally:
        assert proc.stop(signal.SIGTERM, timeout=30) == 0


def test_auth_off_on_a_non_loopback_address_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "scalepilot.yaml"
    config.write_text("server:\n  address: '0.0.0.0:8420'\n  auth:\n    enabled: false\n")
    done = cli("check", config=config)
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "scalepilot.yaml:4:5" in out and "server.auth.enabled is false" in out
    # auto (the default) is fine there: it means on.
    config.write_text("server:\n  address: '0.0.0.0:8420'\n")
    assert cli("check", config=config).returncode == 0


def test_the_spec_says_which_operations_need_a_token(server: Server) -> None:
    spec = httpx.get(f"{server.base}/openapi.json", timeout=10).json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        **spec["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }
    paths = spec["paths"]
    assert paths["/api/v1/services/{name}/scale"]["post"]["security"] == [{"bearer": []}]
    assert paths["/api/v1/overview"]["get"]["security"] == [{"bearer": []}]
    assert paths["/health"]["get"]["security"] == []
    # Refusals are {"detail": str}; a 422 may also be FastAPI's list of validation errors.
    problem = {"$ref": "#/components/schemas/Problem"}
    scale = paths["/api/v1/services/{name}/scale"]["post"]["responses"]
    assert scale["403"]["content"]["application/json"]["schema"] == problem
    assert problem in scale["422"]["content"]["application/json"]["schema"]["anyOf"]
    assert spec["components"]["schemas"]["Problem"]["properties"]["detail"]["type"] == "string"
    # So are the 404/409 of an unknown service, silence or token, and a refusing target.
    for code in ("404", "409", "502", "503"):
        assert scale[code]["content"]["application/json"]["schema"] == problem
    assert paths["/api/v1/services/{name}/charts"]["get"]["responses"]["404"]["content"]
    assert "409" in paths["/api/v1/silences"]["get"]["responses"]
    assert {"404", "409"} <= set(paths["/api/v1/silences/{silence_id}"]["delete"]["responses"])
    assert "404" in paths["/api/v1/tokens/{name}"]["delete"]["responses"]
