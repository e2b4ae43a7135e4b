"""schemathesis against scalepilot's own OpenAPI spec, on a real ``scalepilot run``.

Covers: every operation ``/openapi.json`` lists when the test runs (new routes are
picked up without touching this file; only never-ending event streams are left out)
gets generated requests, valid and invalid, and never answers 5xx; a 2xx answer has the
documented media type and matches the documented schema; an invalid request body is
refused with a 4xx. Every other valid request for a path naming something (a service, a
silence, a token, a label) names one that exists, so the handlers get past their 404.
It runs twice: with auth off (the loopback default) and with auth on, where requests
rotate between no token, a bogus one and a viewer, operator and admin token, so 401 and
403 are exercised next to the allowed answers. The last test checks that the run
requested every operation, scaled the real service, and, with auth on, saw 401 and 403.

The config gives every endpoint something to work on: a service with a command target
(its scale command only writes the number to a file, so a fuzzed ``replicas: 9999``
starts nothing; nothing else bounds a manual scale), autoscaling, a probe, a scrape of
scalepilot's own /metrics, a rule file with an alert that always fires and a recording
rule, and an ``alerting:`` section, so the alerts, silences and acknowledgement
endpoints answer for real instead of 409.

Bounded and deterministic: a fixed seed, derandomized generation (schemathesis derives
each operation's seed from its label, so a new route does not change the others'
cases), no example database, no shrinking, a few examples per operation; requests go
to 127.0.0.1 only.
"""

from __future__ import annotations

import signal
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case, CheckContext, CheckFunction, GenerationMode, Response, checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.schemas import BaseSchema

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import StorageSettings
from scalepilot.domain.auth import Role
from scalepilot.service.tokens import TokenStore
from tests.support import Proc, free_port, start, wait_for

pytestmark = pytest.mark.slow

SCALEPILOT = [sys.executable, "-m", "scalepilot"]
SCALE_CMD = Path(__file__).with_name("target_scale_cmd.py")
SEED = 20261207
MAX_EXAMPLES = 10
"""Generated examples per operation in the fuzzing phase, on top of the coverage phase's
boundary and missing-parameter cases: the whole file stays well under 90 s on 2 cores.
(150 examples, and 100 with another seed, found nothing more when this was written.)"""

KNOWN_GAPS: set[tuple[str, str]] = set()
"""(operation, check) pairs skipped: spec gaps in files this test's author could not
change. Remove an entry once its route documents what it answers."""


def success_conforms(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A 2xx answer has the documented media type, and any answer whose status the spec
    documents (2xx, 401/403/429 from the auth middleware, 422 in either shape, the
    404/409 of an unknown or unsuitable service, silence or token) matches the
    documented schema."""
    label = case.operation.label
    if 200 <= response.status_code < 300 and (label, "content_type") not in KNOWN_GAPS:
        checks.content_type_conformance(ctx, response, case)
    if (label, "schema") not in KNOWN_GAPS:
        checks.response_schema_conformance(ctx, response, case)
    return None


def no_server_error(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """No 5xx, but for the documented 503 ``timeout`` of a query that set its own
    ``timeout``: ``timeout=0`` gives up at once, as it does in Prometheus."""
    if response.status_code == 503 and (case.query or {}).get("timeout") is not None:
        try:
            if response.json().get("errorType") == "timeout":
                return None
        except (ValueError, AttributeError):
            pass
    return checks.not_a_server_error(ctx, response, case)


def bad_body_refused(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """schemathesis's negative_data_rejection, for cases whose only invalid part is the
    body: there pydantic decides, and accepting a bad body (``replicas: -1``) is a bug. In
    the query string it reports false positives (an unknown parameter ignored, as
    Prometheus ignores it; ``match[]=false``, an array that reads as a string)."""
    meta = case.meta
    if meta is None:
        return None
    modes = {location: info.mode for location, info in meta.components.items()}
    if modes.pop(ParameterLocation.BODY, None) is not GenerationMode.NEGATIVE:
        return None
    if GenerationMode.NEGATIVE in modes.values():
        return None
    result: bool | None = checks.negative_data_rejection(ctx, response, case)
    return result


CHECKS: list[CheckFunction] = [no_server_error, success_conforms, bad_body_refused]
"""No 5xx; a 2xx answer as documented; an invalid body refused with a 4xx. Not
``status_code_conformance`` nor ``positive_data_acceptance``: an unknown service or
silence is a valid request by the spec and a correct 404."""

RULES = """
groups:
  - name: fuzz
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: warning, service: web}
        annotations: {summary: 'always on, so there is something to acknowledge'}
      - record: fuzz:one
        expr: vector(1)
"""


def config_text(port: int, *, auth: bool) -> str:
    cmd = f"['{sys.executable}', '{SCALE_CMD}'"
    return f"""
server:
  address: '127.0.0.1:{port}'
  auth: {{enabled: {"true" if auth else "false"}, failures_per_minute: 10000}}
storage: {{data_dir: data, flush_interval: 200ms}}
scrape: {{interval: 1s, timeout: 500ms}}
probe: {{interval: 1s, timeout: 500ms}}
evaluation_interval: 1s
rule_files: ['rules/*.yml']
services:
  - name: web
    scrape:
      endpoints: [{{url: 'http://127.0.0.1:{port}/metrics', replica: self}}]
    probes:
      - {{type: http, name: health, url: 'http://127.0.0.1:{port}/health'}}
    target:
      type: command
      scale: {cmd}, scale, state, '--replicas={{replicas}}']
      status: {cmd}, status, state]
      replicas: 1
    autoscaling:
      max_replicas: 5
      metrics:
        - {{type: series, name: load, query: 'vector(1)', target_type: value, target: 10}}
  - name: watched
alerting:
  route: {{receiver: nobody, group_by: [alertname], group_wait: 500ms, group_interval: 1s}}
  receivers:
    - name: nobody
"""


@dataclass
class Server:
    base: str
    auth: bool
    tokens: dict[str, str]
    proc: Proc
    data: Path
    real: dict[tuple[str, str], list[str]]
    """(path prefix, path parameter) -> values that exist on this server."""
    seen: Counter[tuple[str, int]] = field(default_factory=Counter)
    """(operation label, status) of every request sent."""
    turns: Counter[str] = field(default_factory=Counter)
    """Per operation, so its credentials and aims do not shift when a route is added."""
    aims: Counter[str] = field(default_factory=Counter)

    def aim(self, case: Case[Any]) -> bool:
        """Every other valid request for a path with a name in it names something that
        exists (the service, a silence, a token), so the handlers get past their 404; the
        others keep the generated value. Invalid (negative) cases are left alone."""
        if case.meta is not None and case.meta.generation.mode is not GenerationMode.POSITIVE:
            return False
        for (prefix, param), values in self.real.items():
            if case.operation.path.startswith(prefix) and param in case.path_parameters:
                self.aims[case.operation.label] += 1
                n = self.aims[case.operation.label]
                if n % 2:
                    pick = values[(n // 2) % len(values)]
                    case.path_parameters = {**case.path_parameters, param: pick}
                    return True
                return False
        return False

    def headers(self, case: Case[Any], aimed: bool) -> dict[str, str]:
        """With auth on, the next credentials in turn: mostly admin, so deep paths are
        reached, and now and then none, a bogus token or a lower role. A request aimed
        at something that exists always goes as admin: it is there to get past the 404."""
        if not self.auth:
            return {}
        order = ["admin", None, "admin", "viewer", "admin", "operator", "admin", "bogus"]
        turn = self.turns[case.operation.label]
        self.turns[case.operation.label] += 1
        who = "admin" if aimed else order[turn % len(order)]
        if who is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.get(who, 'sp_not-a-token')}"}


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module", params=["auth-off", "auth-on"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    auth = request.param == "auth-on"
    tmp = tmp_path_factory.mktemp(request.param)
    port = free_port()
    (tmp / "rules").mkdir()
    (tmp / "rules" / "fuzz.yml").write_text(RULES)
    config = tmp / "scalepilot.yaml"
    config.write_text(config_text(port, auth=auth))
    tokens: dict[str, str] = {}
    # Made offline, before the start, as `scalepilot token create` does; "victim" is
    # there to be revoked by the fuzzer.
    with SQLiteStore.open(tmp / "data", StorageSettings()) as store:
        made = TokenStore(store)
        for name, role in [("viewer", Role.VIEWER), ("operator", Role.OPERATOR), ("admin", Role.ADMIN)]:
            tokens[name], _ = made.create(f"fuzz-{name}", role)
        made.create("victim", Role.VIEWER)
    proc = start([*SCALEPILOT, "run", "-c", str(config)], cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(base), timeout=30, what="scalepilot to be ready")
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        silence = httpx.post(
            f"{base}/api/v1/silences",
            json={"matchers": ['alertname="AlwaysFiring"'], "duration": "1h"},
            headers=admin,
            timeout=10,
        )
        assert silence.status_code == 201, silence.text
        real = {
            ("/api/v1/services/{name}", "name"): ["web", "watched"],
            ("/api/v1/silences/{silence_id}", "silence_id"): [silence.json()["id"]],
            ("/api/v1/tokens/{name}", "name"): ["victim"],
            ("/api/v1/label/{name}/values", "name"): ["__name__", "job"],
        }
        yield Server(base, auth, tokens, proc, tmp, real)
    finally:
        assert proc.stop(signal.SIGTERM, timeout=30) == 0


def _streams(ctx: Any) -> bool:
    """An operation answering text/event-stream: a stream never ends, so a request to it
    would only time out."""
    responses: dict[str, Any] = ctx.operation.definition.raw.get("responses", {})
    return any("text/event-stream" in (r.get("content") or {}) for r in responses.values())


@pytest.fixture(scope="module")
def api_schema(server: Server) -> BaseSchema:
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large", "large_base_example"],
            "request-timeout": 15,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True, "extra-data-sources": {"responses": False}},
                "stateful": {"enabled": False},
            },
        }
    )
    return schemathesis.openapi.from_url(f"{server.base}/openapi.json", config=config)


# Server-sent events never end: a request would hang until its timeout. Nothing else is
# left out: /-/reload re-reads rule files that do not change, token writes land in the
# test's own data directory, and scaling runs a command that only writes a number down.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/api/v1/stream").exclude(_streams)


@pytest.fixture
def nodeid_shim(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy schemas read and write ``item._nodeid``, which pytest 9.2
    no longer has (the id lives in ``item._id``); give it one to read. Only the label it
    puts on each operation's report depends on it."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
@pytest.mark.usefixtures("nodeid_shim")
def test_no_server_errors(case: Case[Any], server: Server) -> None:
    response = case.call(headers=server.headers(case, server.aim(case)), timeout=15)
    server.seen[(case.operation.label, response.status_code)] += 1
    case.validate_response(response, checks=CHECKS)


def _listed_operations(base: str) -> set[str]:
    """Every operation in the spec, as schemathesis labels them, but the streams."""
    spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
    return {
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if not any("text/event-stream" in (r.get("content") or {}) for r in operation["responses"].values())
    }


def test_the_fuzzer_exercised_every_operation(server: Server) -> None:
    """Runs after test_no_server_errors (same module, same server): what it sent."""
    if not server.seen:
        pytest.skip("test_no_server_errors did not run against this server")
    listed = _listed_operations(server.base)
    exercised = {label for label, _ in server.seen}
    assert len(listed) > 25
    assert listed <= exercised, f"never requested: {sorted(listed - exercised)}"
    assert sum(server.seen.values()) > 5 * len(listed)
    statuses = {status for _, status in server.seen}
    assert any(200 <= s < 300 for s in statuses)
    # The real service was scaled, through its command, which only wrote the number down.
    assert server.seen[("POST /api/v1/services/{name}/scale", 200)] > 0
    assert (server.data / "state").read_text().strip().isdigit()
    assert not any(s >= 500 for s in statuses)
    if server.auth:
        assert {401, 403} <= statuses, sorted(statuses)
        # The fuzzer revoking or locking out its own admin token would hide everything after.
        listed_tokens = httpx.get(
            f"{server.base}/api/v1/tokens", headers={"Authorization": f"Bearer {server.tokens['admin']}"}, timeout=10
        )
        assert listed_tokens.status_code == 200
    else:
        assert not statuses & {401, 403}, "auth is off: nothing may be refused for want of a token"
