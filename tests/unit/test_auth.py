"""The pure parts of API auth.

Covers: tokens are ``sp_`` + 43 URL-safe characters and differ each time; the stored
hash is SHA-256 hex and compared in constant time; role parsing and ordering; the role
each (method, path) needs, with unknown writes needing admin; loopback detection and
``server.auth.enabled`` resolution, with auth off refused on a non-loopback address; the
failure limiter's bucket drains, refills with (virtual) time and keeps addresses apart;
the token store on a real SQLite store: create, authenticate, expiry, revoke, duplicates,
and that only hashes reach the store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.loader import ConfigError, load_text
from scalepilot.config.models import StorageSettings
from scalepilot.domain.auth import (
    FailureLimiter,
    Role,
    check_name,
    hash_token,
    is_loopback,
    new_token,
    required_role,
    same_hash,
)
from scalepilot.domain.events import EventKind
from scalepilot.service.tokens import STATE_KEY, TokenError, TokenStore


def test_tokens_are_long_random_and_prefixed() -> None:
    a, b = new_token(), new_token()
    assert a != b
    assert a.startswith("sp_") and len(a) == 3 + 43


def test_the_hash_is_sha256_and_compared_safely() -> None:
    assert hash_token("sp_abc") == hashlib.sha256(b"sp_abc").hexdigest()
    assert same_hash(hash_token("x"), hash_token("x"))
    assert not same_hash(hash_token("x"), hash_token("y"))


def test_roles_parse_and_order() -> None:
    assert Role.parse("Operator") is Role.OPERATOR
    assert Role.VIEWER < Role.OPERATOR < Role.ADMIN
    with pytest.raises(ValueError, match="one of viewer, operator, admin"):
        Role.parse("root")


@pytest.mark.parametrize(
    ("method", "path", "want"),
    [
        ("GET", "/health", None),
        ("GET", "/ready", None),
        ("GET", "/docs", None),
        ("GET", "/metrics", Role.VIEWER),
        ("GET", "/api/v1/services/shop", Role.VIEWER),
        ("POST", "/api/v1/query", Role.VIEWER),
        ("POST", "/api/v1/query_range", Role.VIEWER),
        ("POST", "/api/v1/services/shop/scale", Role.OPERATOR),
        ("POST", "/api/v1/services/shop/pause", Role.OPERATOR),
        ("POST", "/api/v1/services/shop/resume", Role.OPERATOR),
        ("POST", "/api/v1/alerts/ack", Role.OPERATOR),
        ("POST", "/api/v1/silences", Role.OPERATOR),
        ("DELETE", "/api/v1/silences/abc", Role.OPERATOR),
        ("POST", "/-/reload", Role.OPERATOR),
        ("GET", "/api/v1/tokens", Role.ADMIN),
        ("POST", "/api/v1/tokens", Role.ADMIN),
        ("DELETE", "/api/v1/tokens/ci", Role.ADMIN),
        ("POST", "/api/v1/services/shop/delete", Role.ADMIN),
        ("PUT", "/api/v1/config", Role.ADMIN),
    ],
)
def test_required_role(method: str, path: str, want: Role | None) -> None:
    assert required_role(method, path) == want


def test_public_metrics_opens_only_metrics() -> None:
    assert required_role("GET", "/metrics", public_metrics=True) is None
    assert required_role("GET", "/status", public_metrics=True) is Role.VIEWER


def test_token_names() -> None:
    assert check_name("grafana-prod.1") == "grafana-prod.1"
    for bad in ("", "-x", "a b", "x" * 65):
        with pytest.raises(ValueError, match="invalid token name"):
            check_name(bad)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("address", "enabled", "want"),
    [
        ("127.0.0.1:8420", "auto", False),
        ("0.0.0.0:8420", "auto", True),
        ("127.0.0.1:8420", "true", True),
        ("[::1]:8420", "false", False),
    ],
)
def test_auth_enabled_resolution(address: str, enabled: str, want: bool) -> None:
    config = load_text(f"server: {{address: '{address}', auth: {{enabled: {enabled}}}}}\n")
    assert config.server.auth_enabled is want


def test_auth_off_on_the_network_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("server:\n  address: '0.0.0.0:8420'\n  auth: {enabled: false}\n")
    text = str(info.value)
    assert "scalepilot.yaml:3" in text and "server.auth.enabled is false" in text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_failure_limiter_drains_refills_and_keeps_addresses_apart() -> None:
    clock = Clock()
    limiter = FailureLimiter(10, clock)
    for _ in range(10):
        assert limiter.retry_after("a") == 0
        limiter.failed("a")
    assert limiter.retry_after("a") == pytest.approx(6.0)  # one failure back every 6 s
    assert limiter.retry_after("b") == 0
    clock.now += 3
    assert limiter.retry_after("a") == pytest.approx(3.0)
    clock.now += 3
    assert limiter.retry_after("a") == 0
    clock.now += 3600
    for _ in range(10):  # refilled to the burst, not beyond
        limiter.failed("a")
    assert limiter.retry_after("a") > 0


def test_the_failure_limiter_memory_is_bounded() -> None:
    clock = Clock()
    limiter = FailureLimiter(10, clock, max_clients=3)
    for address in ("a", "b", "c"):
        limiter.failed(address)
    clock.now += 60
    limiter.failed("d")
    assert len(limiter._buckets) == 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.open(tmp_path / "data", StorageSettings()) as s:
        yield s


def test_the_token_store(store: SQLiteStore) -> None:
    clock = Clock()
    tokens = TokenStore(store, clock=clock)
    secret, record = tokens.create("ci", Role.OPERATOR, expires_in=3600, actor="cli:alice")
    assert record.expires == clock.now + 3600
    saved = json.dumps(store.get_state(STATE_KEY))
    assert secret not in saved and hash_token(secret) in saved
    with pytest.raises(TokenError, match="exists"):
        tokens.create("ci", Role.VIEWER)
    found = tokens.authenticate(secret)
    assert found is not None and found.role is Role.OPERATOR and found.last_used == clock.now
    assert tokens.authenticate(secret + "x") is None
    # A new TokenStore (a restart) sees the same tokens.
    assert [t.name for t in TokenStore(store, clock=clock).list()] == ["ci"]
    clock.now += 3600
    assert tokens.authenticate(secret) is None
    tokens.revoke("ci", actor="token:root")
    assert tokens.list() == []
    with pytest.raises(TokenError, match="no token"):
        tokens.revoke("ci")
    kinds = [
        (e.kind, e.details["actor"]) for e in store.events(kinds=[EventKind.TOKEN_CREATED, EventKind.TOKEN_REVOKED])
    ]
    assert sorted(kinds) == [(EventKind.TOKEN_CREATED, "cli:alice"), (EventKind.TOKEN_REVOKED, "token:root")]
