"""``metrics_source:``: where scaling's ``series`` metrics are read from.

By default (``type: embedded``) every PromQL question is answered by scalepilot's own
engine over its embedded store, so a single machine needs nothing else. Teams that
already run Prometheus point scalepilot at it (``type: prometheus``) instead of scraping
everything twice; scalepilot then asks it over the HTTP API (``/api/v1/query``).

Only ``series`` metrics move: the kinds scalepilot measures itself (cpu, memory, rps,
in_flight, latency) come from its own balancer and process stats, which Prometheus never
sees, so they keep reading the embedded store.

Secrets (a bearer token, an ``Authorization`` header) are never written into the file:
give ``{env: NAME}`` (the environment variable ``NAME``, or the file named by
``NAME_FILE`` when ``NAME`` is unset, as container secrets are mounted) or
``{file: PATH}``. They are read when scalepilot starts and never shown in ``/status``,
logs or errors.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scalepilot.config.base import Model
from scalepilot.config.durations import PositiveDuration
from scalepilot.domain.errors import ScalepilotError

_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# RFC 9110 token characters: what an HTTP header name may contain.
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Set by the client itself; overriding them would break the request.
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "accept-encoding"})


class SecretError(ScalepilotError):
    """A secret the config refers to cannot be read (permanent: a person must fix the
    environment). The message names the variable or file, never a value."""


class SecretRef(Model):
    """Where a secret value is read from: exactly one of ``env`` and ``file``."""

    env: str | None = Field(
        None,
        description="Environment variable holding the value; when it is unset, NAME_FILE may name a file "
        "holding it instead (the convention of container secrets).",
    )
    file: Path | None = Field(
        None,
        description="File holding the value (surrounding whitespace and the final newline are dropped). "
        "Relative paths are resolved against the config file's directory.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise PydanticCustomError("secret", "give exactly one of env and file")
        if self.env is not None and not _ENV_NAME_RE.fullmatch(self.env):
            raise PydanticCustomError("env_name", "'{name}' is not an environment variable name", {"name": self.env})
        return self

    def describe(self) -> str:
        """Where the value comes from, for messages (never the value)."""
        return f"${self.env}" if self.env is not None else str(self.file)

    def resolve(self, base_dir: Path) -> str:
        """The secret's value; raises :class:`SecretError` if it cannot be read."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is not None:
                return value.strip()
            pointer = os.environ.get(f"{self.env}_FILE")
            if pointer is None:
                raise SecretError(f"neither ${self.env} nor ${self.env}_FILE is set")
            return _read_secret(Path(pointer), base_dir, f"${self.env}_FILE")
        assert self.file is not None
        return _read_secret(self.file, base_dir, "file")


def _read_secret(path: Path, base_dir: Path, what: str) -> str:
    full = path if path.is_absolute() else base_dir / path
    try:
        return full.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SecretError(f"cannot read the secret in {full} ({what}): {reason}") from exc


HeaderValue = str | SecretRef


class EmbeddedSourceSettings(Model):
    """PromQL over scalepilot's own store (the default: nothing else to run)."""

    type: Literal["embedded"]


class PrometheusSourceSettings(Model):
    """An external Prometheus (or anything serving its HTTP API: Thanos, Mimir,
    VictoriaMetrics) answering scaling's ``series`` queries."""

    type: Literal["prometheus"]
    url: str = Field(
        description="Base URL of the Prometheus server, e.g. http://prometheus:9090 (a path prefix such as "
        "http://host/prometheus is kept); /api/v1/query is appended."
    )
    timeout: PositiveDuration = Field(
        5.0,
        description="One query attempt taking longer is abandoned (and Prometheus is asked to give up too). "
        "5s: an instant query Prometheus cannot answer in 5 s is as good as missing for a 15 s control loop.",
    )
    retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Further attempts after a transient failure (refused connection, timeout, HTTP 429 or 5xx), "
        "with exponential backoff. 2 rides out a restart blip without delaying a tick by much; a query "
        "Prometheus rejects as malformed is never retried.",
    )
    backoff: PositiveDuration = Field(
        0.25,
        description="Wait before the first retry; doubled for each further one (at most 2s).",
    )
    headers: dict[str, HeaderValue] = Field(
        default_factory=dict,
        description="Extra request headers, e.g. X-Scope-OrgID for a multi-tenant Mimir. A value may be a "
        "secret reference ({env: NAME} or {file: PATH}).",
    )
    bearer_token: SecretRef | None = Field(
        None,
        description="Sent as 'Authorization: Bearer <token>'. A secret reference: {env: NAME} (or NAME_FILE) "
        "or {file: PATH}; never written into the config itself.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PydanticCustomError("url", "must be an http:// or https:// URL with a host")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise PydanticCustomError("url", "has an invalid port") from None
        if parts.query or parts.fragment:
            raise PydanticCustomError("url", "must not have a query string or fragment: give the server's base URL")
        return v.rstrip("/")

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, HeaderValue]) -> dict[str, HeaderValue]:
        for name, value in v.items():
            if not _HEADER_NAME_RE.fullmatch(name):
                raise PydanticCustomError("header", "'{name}' is not an HTTP header name", {"name": name})
            if name.lower() in _RESERVED_HEADERS:
                raise PydanticCustomError("header", "header '{name}' is set by scalepilot itself", {"name": name})
            if isinstance(value, str) and ("\n" in value or "\r" in value):
                raise PydanticCustomError("header", "the value of header '{name}' has a line break", {"name": name})
        return v

    @model_validator(mode="after")
    def _one_authorization(self) -> PrometheusSourceSettings:
        if self.bearer_token is not None and any(n.lower() == "authorization" for n in self.headers):
            raise PydanticCustomError("header", "give bearer_token or an Authorization header, not both")
        return self

    def resolve_headers(self, base_dir: Path) -> dict[str, str]:
        """Every header with its secrets read (raises :class:`SecretError`)."""
        out = {name: v if isinstance(v, str) else v.resolve(base_dir) for name, v in self.headers.items()}
        if self.bearer_token is not None:
            out["Authorization"] = f"Bearer {self.bearer_token.resolve(base_dir)}"
        return out


MetricsSourceSettings = Annotated[EmbeddedSourceSettings | PrometheusSourceSettings, Field(discriminator="type")]
