"""API tokens and roles, without I/O: which role a request needs, how a token is made and
hashed, and the failed-authentication rate limit.

Three roles, each including the one before it: **viewer** reads (every GET, and the
Prometheus-compatible query endpoints, whose POST is a read), **operator** also scales,
pauses, resumes, silences, acknowledges and reloads rules, **admin** also manages tokens
and anything config-like. A write the table does not know needs admin: a new endpoint
is locked down until someone decides otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

TOKEN_PREFIX = "sp_"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Role(IntEnum):
    """Ordered: a role may do everything a lower one may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}: one of viewer, operator, admin") from None


# Paths anyone may ask: liveness and readiness probes carry no token.
OPEN_PATHS = frozenset({"/health", "/ready"})
# The API's own description: the shape of the API is no secret. /docs is Swagger UI,
# vendored (no CDN), with its script and stylesheet under /docs/.
DOCS_PATHS = frozenset({"/docs", "/openapi.json"})
DOCS_PREFIX = "/docs/"
# The dashboard's page and static files hold no data: it asks /api/v1 with the token.
DASHBOARD_PREFIX = "/ui/"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Prometheus's HTTP API accepts POST for long queries: still a read.
_PROMETHEUS_READS = frozenset({"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels"})
_OPERATOR_WRITES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POST", re.compile(r"/api/v1/services/[^/]+/(scale|pause|resume|rollout)")),
    ("POST", re.compile(r"/api/v1/alerts/ack")),
    ("POST", re.compile(r"/api/v1/silences")),
    ("DELETE", re.compile(r"/api/v1/silences/[^/]+")),
    ("POST", re.compile(r"/-/reload")),
)
_ADMIN_PREFIXES = ("/api/v1/tokens",)


def required_role(method: str, path: str, *, public_metrics: bool = False) -> Role | None:
    """The least role that may ``method path``; ``None`` when no token is needed."""
    method = method.upper()
    if path in OPEN_PATHS or path in DOCS_PATHS or (public_metrics and path == "/metrics"):
        return None
    if path == "/" or path.startswith((DASHBOARD_PREFIX, DOCS_PREFIX)):
        return None
    if any(path == p or path.startswith(p + "/") for p in _ADMIN_PREFIXES):
        return Role.ADMIN
    if method in _READ_METHODS:
        return Role.VIEWER
    if method == "POST" and path in _PROMETHEUS_READS:
        return Role.VIEWER
    if any(method == m and pattern.fullmatch(path) for m, pattern in _OPERATOR_WRITES):
        return Role.OPERATOR
    return Role.ADMIN


def new_token() -> str:
    """``sp_`` and 32 random bytes, URL-safe: 256 bits nobody guesses."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256, hex. Enough for a high-entropy random token (GitHub and GitLab store
    theirs this way): a slow password hash protects guessable secrets, and these are not
    guessable, while every request has to hash its token."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison, so response time says nothing about a near miss."""
    return hmac.compare_digest(a.encode(), b.encode())


def check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise ValueError(
            f"invalid token name {name!r}: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token as stored: its hash, never the token."""

    name: str
    role: Role
    hash: str
    created: float
    expires: float | None = None
    last_used: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role.label,
            "hash": self.hash,
            "created": self.created,
            "expires": self.expires,
            "last_used": self.last_used,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TokenRecord:
        def opt(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)  # type: ignore[arg-type]

        return cls(
            name=str(data["name"]),
            role=Role.parse(str(data["role"])),
            hash=str(data["hash"]),
            created=float(data["created"]),  # type: ignore[arg-type]
            expires=opt("expires"),
            last_used=opt("last_used"),
        )

    def public(self) -> dict[str, object]:
        """What ``token list`` shows: everything but the hash."""
        body = self.to_json()
        del body["hash"]
        return body


class FailureLimiter:
    """A token bucket per client address for failed authentications: ``per_minute``
    failures in a burst, refilled at ``per_minute`` a minute. While a bucket is empty
    the address is told to come back later (``retry_after``)."""

    def __init__(self, per_minute: int, clock: Callable[[], float], max_clients: int = 10_000) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)

    def _level(self, address: str, now: float) -> float:
        tokens, at = self._buckets.get(address, (self._capacity, now))
        return min(self._capacity, tokens + (now - at) * self._rate)

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may fail again; 0 when it may now."""
        now = self._clock()
        level = self._level(address, now)
        return 0.0 if level >= 1.0 else (1.0 - level) / self._rate

    def failed(self, address: str) -> None:
        now = self._clock()
        level = self._level(address, now)
        if len(self._buckets) >= self._max_clients and address not in self._buckets:
            # Bounded memory under a spray of addresses: forget the full buckets first.
            self._buckets = {a: b for a, b in self._buckets.items() if self._level(a, now) < self._capacity}
        self._buckets[address] = (max(0.0, level - 1.0), now)
