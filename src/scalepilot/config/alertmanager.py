"""``alerting:`` in ``scalepilot.yaml``: Alertmanager's routing config, plus scalepilot's own.

Teams that already run Alertmanager have a ``route`` tree and ``receivers`` they trust, so
the part of this section that overlaps with ``alertmanager.yml`` is Alertmanager's format,
accepted unchanged and meaning the same thing. What Alertmanager does not have —
acknowledgement, escalation, recurring maintenance windows, forwarding to another
Alertmanager, the delivery queue's bounds — is scalepilot's own and kept in keys
Alertmanager does not use, so a file can be moved between the two.

**Accepted, with Alertmanager's meaning**

- ``route``: ``receiver``, ``group_by`` (``['...']`` groups by every label), ``continue``,
  ``matchers``, ``match``, ``match_re``, ``group_wait`` (30s), ``group_interval`` (5m),
  ``repeat_interval`` (4h) — inherited by child routes —, ``mute_time_intervals``,
  ``active_time_intervals`` (not inherited), ``routes``.
- ``receivers[]``: ``name``, ``webhook_configs`` (``url``, ``url_file``, ``send_resolved``,
  ``max_alerts``, ``http_config``), ``slack_configs`` (``api_url_file``, ``channel``,
  ``username``, ``icon_emoji``, ``icon_url``, ``color``, ``title``, ``title_link``,
  ``pretext``, ``text``, ``footer``, ``fallback``, ``send_resolved``, ``http_config``),
  ``email_configs`` (``to``, ``from``, ``smarthost``, ``hello``, ``auth_username``,
  ``auth_password_file``, ``auth_identity``, ``require_tls``, ``tls_config``, ``headers``,
  ``html``, ``text``, ``send_resolved``).
- ``http_config``: ``authorization`` (``type``, ``credentials_file``), ``basic_auth``
  (``username``, ``password_file``), ``bearer_token_file``, ``tls_config`` (``ca_file``,
  ``cert_file``, ``key_file``, ``server_name``, ``insecure_skip_verify``),
  ``follow_redirects``, ``proxy_url``.
- ``inhibit_rules[]``: ``source_matchers``, ``target_matchers``, ``equal``, and the old
  ``source_match``, ``source_match_re``, ``target_match``, ``target_match_re``.
- ``time_intervals[]`` and the older top-level ``mute_time_intervals[]``: ``name``,
  ``time_intervals[]`` of ``times`` (``start_time``/``end_time``), ``weekdays``,
  ``days_of_month``, ``months``, ``years``, ``location``.
- ``global``: ``smtp_from``, ``smtp_smarthost``, ``smtp_hello``, ``smtp_auth_username``,
  ``smtp_auth_password_file``, ``smtp_auth_identity``, ``smtp_require_tls``,
  ``slack_api_url_file``, ``http_config``.

Text fields that Alertmanager renders as Go templates (``title``, ``text``, ``html``,
``headers`` values...) accept the subset :mod:`scalepilot.adapters.notify.template`
implements: ``{{ .Field.Path }}``, ``range``, ``if``/``else``, ``len``, ``toUpper``,
``toLower``, ``join``.

**Rejected, with an error naming the key**

- inline secrets: ``auth_password``, ``auth_secret``, ``basic_auth.password``,
  ``authorization.credentials``, ``bearer_token``, ``api_url`` of Slack,
  ``smtp_auth_password``, ``smtp_auth_secret``, ``slack_api_url``. The config text is kept
  in the data directory (config revisions), so a secret in it would be written to disk and
  shown back; use the ``*_file`` key (Alertmanager's) or the ``*_env`` key (scalepilot's:
  the name of an environment variable).
- receiver kinds scalepilot has no channel for (``pagerduty_configs``,
  ``opsgenie_configs``, ``msteams_configs``, ...): forward to a real Alertmanager
  (``alertmanager_configs``) to use them.
- every other key Alertmanager has and scalepilot does not (an unknown key is an error
  everywhere in ``scalepilot.yaml``; a silently ignored key is a 3 a.m. surprise).

**Accepted and ignored**

- ``templates`` (Go template files): scalepilot cannot run them; a field that calls one
  (``{{ template "x" . }}``) is rejected when the channel is built.
- ``global.resolve_timeout``: scalepilot's rule engine always sends ``endsAt``.
- ``http_config.enable_http2``.

**scalepilot's own keys**

``external_url``, ``alertmanager_configs`` in a receiver (forwarding), ``*_env`` secret
keys, webhook ``headers``, ``body_template`` and ``timeout``, email ``implicit_tls``,
``maintenance_windows``, ``escalations`` and ``delivery``.
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scalepilot.config.base import Model
from scalepilot.config.durations import Duration, PositiveDuration
from scalepilot.domain.matchers import Matcher, MatchOp

# --- matchers --------------------------------------------------------------------------
_LABEL_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_MATCHER_RE = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!~|!=|=)\s*")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def parse_matchers(text: str) -> list[Matcher]:
    """Matchers in Alertmanager's syntax: ``severity="critical"``, ``env=~"prod|staging"``,
    unquoted values (``team=ops``), several separated by commas, optionally in braces
    (``{a="1", b!="2"}``). Raises ValueError naming the offending text."""
    src = text.strip()
    if src.startswith("{"):
        if not src.endswith("}"):
            raise ValueError(f"missing closing '}}' in {text!r}")
        src = src[1:-1]
    out: list[Matcher] = []
    pos = 0
    while pos < len(src):
        m = _MATCHER_RE.match(src, pos)
        if m is None:
            if not src[pos:].strip():
                break
            raise ValueError(f'invalid matcher {text!r}: expected name="value" at {src[pos:]!r}')
        name, op = m.group(1), m.group(2)
        pos = m.end()
        if pos < len(src) and src[pos] == '"':
            value, pos = _quoted(src, pos, text)
        else:
            end = src.find(",", pos)
            end = len(src) if end < 0 else end
            value = src[pos:end].strip()
            if '"' in value or "{" in value or "}" in value:
                raise ValueError(f"invalid matcher {text!r}: unquoted value {value!r}")
            pos = end
        try:
            out.append(Matcher(name, MatchOp(op), value))
        except ValueError as exc:
            raise ValueError(f"invalid matcher {text!r}: {exc}") from None
        rest = src[pos:].lstrip()
        if rest.startswith(","):
            pos = len(src) - len(rest) + 1
        elif rest:
            raise ValueError(f"invalid matcher {text!r}: unexpected {rest!r}")
        else:
            break
    if not out:
        raise ValueError(f"no matcher in {text!r}")
    return out


def _quoted(src: str, pos: int, text: str) -> tuple[str, int]:
    chars: list[str] = []
    i = pos + 1
    while i < len(src):
        c = src[i]
        if c == "\\" and i + 1 < len(src):
            chars.append(_ESCAPES.get(src[i + 1], "\\" + src[i + 1]))
            i += 2
            continue
        if c == '"':
            return "".join(chars), i + 1
        chars.append(c)
        i += 1
    raise ValueError(f"invalid matcher {text!r}: unterminated quoted value")


def _check_matchers(items: list[str]) -> list[str]:
    for item in items:
        try:
            parse_matchers(item)
        except ValueError as exc:
            raise PydanticCustomError("matcher", "{e}", {"e": str(exc)}) from None
    return items


def _check_regex_map(values: dict[str, str]) -> dict[str, str]:
    for name, pattern in values.items():
        if not _LABEL_RE.fullmatch(name):
            raise PydanticCustomError("label_name", "invalid label name '{n}'", {"n": name})
        try:
            re.compile(pattern)
        except re.error as exc:
            raise PydanticCustomError(
                "regex", "{n}: invalid regular expression: {e}", {"n": name, "e": str(exc)}
            ) from None
    return values


def legacy_matchers(match: dict[str, str], match_re: dict[str, str], matchers: list[str]) -> list[Matcher]:
    """Alertmanager's order: ``match`` (equality), ``match_re`` (anchored regex), then
    ``matchers``."""
    out = [Matcher(k, MatchOp.EQ, v) for k, v in sorted(match.items())]
    out += [Matcher(k, MatchOp.RE, v) for k, v in sorted(match_re.items())]
    for item in matchers:
        out += parse_matchers(item)
    return out


def _inline_secret(value: object, key: str) -> None:
    if value is not None:
        raise PydanticCustomError(
            "inline_secret",
            "inline secrets are not accepted: the config text is kept in the data directory. "
            "Use {key}_file (a file holding it) or {key}_env (an environment variable's name)",
            {"key": key},
        )


_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_RE.fullmatch(value):
        raise PydanticCustomError("env", "'{v}' is not an environment variable name", {"v": value})
    return value


def _one_of(model: Model, names: tuple[str, ...], *, required: bool, what: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) > 1:
        raise PydanticCustomError("one_of", "give only one of {n}", {"n": ", ".join(names)})
    if required and not given:
        raise PydanticCustomError("one_of", "{what}: give one of {n}", {"what": what, "n": ", ".join(names)})


# --- HTTP clients ----------------------------------------------------------------------
class TLSConfig(Model):
    ca_file: Path | None = Field(None, description="CA certificates (PEM) to verify the server with.")
    cert_file: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    key_file: Path | None = Field(None, description="Client key (PEM) for mutual TLS.")
    server_name: str | None = Field(None, description="Name the server's certificate must carry (SNI).")
    insecure_skip_verify: bool = Field(False, description="Do not verify the server's certificate. For tests only.")
    min_version: str | None = Field(None, description="Ignored (Python's defaults: TLS 1.2 or newer).")


class AuthorizationConfig(Model):
    type: str = Field("Bearer", description="The scheme in the Authorization header.")
    credentials: str | None = Field(None, description="Rejected: an inline secret.")
    credentials_file: Path | None = Field(None, description="File holding the credentials.")
    credentials_env: str | None = Field(None, description="Environment variable holding the credentials.")

    @model_validator(mode="after")
    def _source(self) -> AuthorizationConfig:
        _inline_secret(self.credentials, "credentials")
        _check_env_name(self.credentials_env)
        _one_of(self, ("credentials_file", "credentials_env"), required=True, what="authorization")
        return self


class BasicAuthConfig(Model):
    username: str = Field(description="User name (not a secret).")
    password: str | None = Field(None, description="Rejected: an inline secret.")
    password_file: Path | None = Field(None, description="File holding the password.")
    password_env: str | None = Field(None, description="Environment variable holding the password.")

    @model_validator(mode="after")
    def _source(self) -> BasicAuthConfig:
        _inline_secret(self.password, "password")
        _check_env_name(self.password_env)
        _one_of(self, ("password_file", "password_env"), required=False, what="basic_auth")
        return self


class HTTPClientConfig(Model):
    """Alertmanager's ``http_config``, the parts an outgoing notification needs."""

    authorization: AuthorizationConfig | None = None
    basic_auth: BasicAuthConfig | None = None
    bearer_token: str | None = Field(None, description="Rejected: an inline secret.")
    bearer_token_file: Path | None = Field(None, description="File holding a bearer token.")
    bearer_token_env: str | None = Field(None, description="Environment variable holding a bearer token.")
    tls_config: TLSConfig | None = None
    follow_redirects: bool = Field(True, description="Follow 3xx responses, as Alertmanager does.")
    proxy_url: str | None = Field(None, description="HTTP proxy to send through.")
    enable_http2: bool | None = Field(None, description="Ignored: notifications are HTTP/1.1.")

    @model_validator(mode="after")
    def _one_auth(self) -> HTTPClientConfig:
        _inline_secret(self.bearer_token, "bearer_token")
        _check_env_name(self.bearer_token_env)
        kinds = [
            self.authorization is not None,
            self.basic_auth is not None,
            self.bearer_token_file is not None or self.bearer_token_env is not None,
        ]
        if sum(kinds) > 1:
            raise PydanticCustomError("auth", "give at most one of authorization, basic_auth, bearer_token_file")
        return self


def _check_url(value: str | None) -> str | None:
    if value is None:
        return value
    if not re.match(r"https?://[^/\s]+", value):
        raise PydanticCustomError("url", "must be an http:// or https:// URL with a host")
    return value


_TIMEOUT_DOC = (
    "Seconds one attempt may take before it counts as failed (and is retried). 10s: long enough for a slow "
    "receiver, short enough that a hung one does not hold a delivery slot for long."
)


# --- channels --------------------------------------------------------------------------
class WebhookConfig(Model):
    """POST Alertmanager's version-4 JSON to a URL (the webhook channel)."""

    send_resolved: bool = Field(True, description="Also notify when alerts resolve (Alertmanager's default here).")
    url: str | None = Field(None, description="The URL to POST to.")
    url_file: Path | None = Field(None, description="File holding the URL (when it carries a token).")
    url_env: str | None = Field(None, description="Environment variable holding the URL.")
    http_config: HTTPClientConfig | None = None
    max_alerts: int = Field(
        0, ge=0, description="At most this many alerts per message, the rest counted in truncatedAlerts (0 = all)."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers (not secrets: use http_config for tokens)."
    )
    body_template: str | None = Field(
        None, description="A template for the request body instead of the v4 JSON (e.g. for a chat tool)."
    )
    content_type: str = Field("application/json", description="Content-Type of a body_template body.")
    timeout: PositiveDuration = Field(10.0, description=_TIMEOUT_DOC)

    _u = field_validator("url")(classmethod(lambda cls, v: _check_url(v)))
    _e = field_validator("url_env")(classmethod(lambda cls, v: _check_env_name(v)))

    @model_validator(mode="after")
    def _source(self) -> WebhookConfig:
        _one_of(self, ("url", "url_file", "url_env"), required=True, what="webhook")
        return self


class SlackConfig(Model):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat...)."""

    send_resolved: bool = Field(False, description="Also notify when alerts resolve (Alertmanager's default: no).")
    api_url: str | None = Field(None, description="Rejected: the incoming-webhook URL is a secret.")
    api_url_file: Path | None = Field(None, description="File holding the incoming-webhook URL.")
    api_url_env: str | None = Field(None, description="Environment variable holding the incoming-webhook URL.")
    http_config: HTTPClientConfig | None = None
    channel: str | None = Field(None, description="Channel or user to post to (the webhook's own if unset).")
    username: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None
    color: str | None = Field(
        None,
        description="Attachment colour (template). Unset: by severity — critical red, warning orange, "
        "info blue, resolved green.",
    )
    title: str | None = Field(None, description="Attachment title (template); default '[FIRING:n] alertname (...)'.")
    title_link: str | None = Field(None, description="Link of the title (template); default the external URL.")
    pretext: str | None = None
    text: str | None = Field(None, description="Attachment text (template); default one line per alert.")
    footer: str | None = None
    fallback: str | None = None
    timeout: PositiveDuration = Field(10.0, description=_TIMEOUT_DOC)

    _e = field_validator("api_url_env")(classmethod(lambda cls, v: _check_env_name(v)))

    @model_validator(mode="after")
    def _source(self) -> SlackConfig:
        _inline_secret(self.api_url, "api_url")
        _one_of(self, ("api_url_file", "api_url_env"), required=False, what="slack")
        return self


class EmailConfig(Model):
    """E-mail through an SMTP server: a text and an HTML part."""

    model_config = Model.model_config | {"populate_by_name": True}

    send_resolved: bool = Field(False, description="Also notify when alerts resolve (Alertmanager's default: no).")
    to: str = Field(description="Recipients, comma-separated.")
    from_: str | None = Field(None, alias="from", description="Sender; default global.smtp_from.")
    smarthost: str | None = Field(None, description="host:port of the SMTP server; default global.smtp_smarthost.")
    hello: str | None = Field(None, description="Name sent in EHLO; default global.smtp_hello.")
    auth_username: str | None = None
    auth_password: str | None = Field(None, description="Rejected: an inline secret.")
    auth_password_file: Path | None = None
    auth_password_env: str | None = None
    auth_secret: str | None = Field(None, description="Rejected: CRAM-MD5 is not supported.")
    auth_identity: str | None = Field(None, description="Accepted; PLAIN/LOGIN authentication ignores it.")
    require_tls: bool | None = Field(
        None,
        description="Require STARTTLS (refuse a server that does not offer it); default global.smtp_require_tls "
        "(true). Port 465 always uses implicit TLS, as Alertmanager.",
    )
    implicit_tls: bool | None = Field(None, description="Connect with TLS from the start; default: port is 465.")
    tls_config: TLSConfig | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers (templates); Subject overrides.")
    html: str | None = Field(None, description="HTML body (template); default a table of the alerts.")
    text: str | None = Field(None, description="Text body (template); default one block per alert.")
    timeout: PositiveDuration = Field(10.0, description=_TIMEOUT_DOC)

    _e = field_validator("auth_password_env")(classmethod(lambda cls, v: _check_env_name(v)))

    @field_validator("smarthost")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if v is not None:
            host, sep, port = v.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise PydanticCustomError("smarthost", "must be host:port, e.g. smtp.example.org:587")
        return v

    @model_validator(mode="after")
    def _secrets(self) -> EmailConfig:
        _inline_secret(self.auth_password, "auth_password")
        if self.auth_secret is not None:
            raise PydanticCustomError("auth_secret", "auth_secret (CRAM-MD5) is not supported; use auth_password_file")
        _one_of(self, ("auth_password_file", "auth_password_env"), required=False, what="email")
        return self


class AlertmanagerForwardConfig(Model):
    """Forward alerts to a real Alertmanager (``POST /api/v2/alerts``), as Prometheus does."""

    url: str = Field(description="Base URL of the Alertmanager, e.g. http://127.0.0.1:9093.")
    http_config: HTTPClientConfig | None = None
    resend_interval: PositiveDuration = Field(
        60.0,
        description="Firing alerts are posted again this often so Alertmanager does not resolve them at their "
        "endsAt (the rule engine's is 4 minutes ahead). 1m, Prometheus's resend delay.",
    )
    timeout: PositiveDuration = Field(10.0, description=_TIMEOUT_DOC)

    _u = field_validator("url")(classmethod(lambda cls, v: _check_url(v)))


UNSUPPORTED_RECEIVERS = (
    "pagerduty_configs",
    "opsgenie_configs",
    "victorops_configs",
    "pushover_configs",
    "wechat_configs",
    "sns_configs",
    "telegram_configs",
    "webex_configs",
    "discord_configs",
    "msteams_configs",
)

CHANNEL_KEYS = ("webhook_configs", "slack_configs", "email_configs", "alertmanager_configs")
"""The receiver keys scalepilot has a channel for; the integration ``webhook/0`` is item
0 of ``webhook_configs``."""


class ReceiverConfig(Model):
    name: str = Field(description="Unique; routes refer to it.")
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    alertmanager_configs: list[AlertmanagerForwardConfig] = Field(
        default_factory=list, description="scalepilot's: forward to a real Alertmanager. Must be alone in a receiver."
    )

    @model_validator(mode="before")
    @classmethod
    def _unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in UNSUPPORTED_RECEIVERS:
                if key in data:
                    raise PydanticCustomError(
                        "receiver_kind",
                        "{key} is not supported by scalepilot (it has webhook, slack, email and alertmanager); "
                        "forward to a real Alertmanager with alertmanager_configs to use it",
                        {"key": key},
                    )
        return data

    @model_validator(mode="after")
    def _forward_alone(self) -> ReceiverConfig:
        if self.alertmanager_configs and (self.webhook_configs or self.slack_configs or self.email_configs):
            raise PydanticCustomError(
                "forward_alone",
                "alertmanager_configs must be the only channel of its receiver: forwarded alerts are re-posted "
                "every resend_interval, which people on the other channels do not want",
            )
        return self

    def integrations(self) -> list[tuple[str, Any]]:
        """``("webhook/0", settings)`` for every channel of this receiver, in order."""
        out: list[tuple[str, Any]] = []
        for key in CHANNEL_KEYS:
            for i, item in enumerate(getattr(self, key)):
                out.append((f"{key.removesuffix('_configs')}/{i}", item))
        return out


# --- routes and inhibition -------------------------------------------------------------
class RouteConfig(Model):
    """One node of Alertmanager's routing tree."""

    model_config = Model.model_config | {"populate_by_name": True}

    receiver: str | None = Field(None, description="Receiver of matching alerts; inherited from the parent.")
    group_by: list[str] | None = Field(
        None, description="Labels that form a group; ['...'] groups by every label. Inherited."
    )
    continue_: bool = Field(
        False, alias="continue", description="Keep matching the following sibling routes after this one matched."
    )
    matchers: list[str] = Field(default_factory=list, description='Matchers such as severity="critical".')
    match: dict[str, str] = Field(default_factory=dict, description="Old style: label equals value.")
    match_re: dict[str, str] = Field(default_factory=dict, description="Old style: label matches a regex.")
    group_wait: Duration | None = Field(
        None, description="Wait before a new group's first notification, to batch alerts firing together. Root: 30s."
    )
    group_interval: PositiveDuration | None = Field(
        None, description="Wait before notifying about changes in a group already notified. Root: 5m."
    )
    repeat_interval: PositiveDuration | None = Field(
        None, description="Notify an unchanged firing group again after this long. Root: 4h."
    )
    mute_time_intervals: list[str] = Field(default_factory=list, description="Names of time_intervals that mute.")
    active_time_intervals: list[str] = Field(
        default_factory=list, description="Names of time_intervals outside which this route is muted."
    )
    routes: list[RouteConfig] = Field(default_factory=list)

    _m = field_validator("matchers")(classmethod(lambda cls, v: _check_matchers(v)))
    _r = field_validator("match_re")(classmethod(lambda cls, v: _check_regex_map(v)))

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if "..." in v and len(v) > 1:
            raise PydanticCustomError("group_by", "'...' must be the only item of group_by (it means every label)")
        for name in v:
            if name != "..." and not _LABEL_RE.fullmatch(name):
                raise PydanticCustomError("group_by", "invalid label name '{n}'", {"n": name})
        if len(set(v)) != len(v):
            raise PydanticCustomError("group_by", "a label is listed twice")
        return v

    def all_matchers(self) -> list[Matcher]:
        return legacy_matchers(self.match, self.match_re, self.matchers)

    def walk(self) -> list[RouteConfig]:
        out = [self]
        for child in self.routes:
            out += child.walk()
        return out


class InhibitRuleConfig(Model):
    source_matchers: list[str] = Field(default_factory=list, description="Alerts that mute (firing ones).")
    target_matchers: list[str] = Field(default_factory=list, description="Alerts that are muted.")
    source_match: dict[str, str] = Field(default_factory=dict)
    source_match_re: dict[str, str] = Field(default_factory=dict)
    target_match: dict[str, str] = Field(default_factory=dict)
    target_match_re: dict[str, str] = Field(default_factory=dict)
    equal: list[str] = Field(default_factory=list, description="Labels that must have the same value in both.")

    _m = field_validator("source_matchers", "target_matchers")(classmethod(lambda cls, v: _check_matchers(v)))
    _r = field_validator("source_match_re", "target_match_re")(classmethod(lambda cls, v: _check_regex_map(v)))

    def sources(self) -> list[Matcher]:
        return legacy_matchers(self.source_match, self.source_match_re, self.source_matchers)

    def targets(self) -> list[Matcher]:
        return legacy_matchers(self.target_match, self.target_match_re, self.target_matchers)


# --- time intervals --------------------------------------------------------------------
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def _clock_minutes(text: str) -> int:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if m is None or int(m.group(2)) > 59 or int(m.group(1)) > 24 or (int(m.group(1)) == 24 and m.group(2) != "00"):
        raise PydanticCustomError("time", "'{t}' is not a time of day HH:MM (00:00 to 24:00)", {"t": text})
    return int(m.group(1)) * 60 + int(m.group(2))


class TimeRangeConfig(Model):
    start_time: str = Field(description="HH:MM, inclusive.")
    end_time: str = Field(description="HH:MM, exclusive; 24:00 is the end of the day.")

    @model_validator(mode="after")
    def _order(self) -> TimeRangeConfig:
        if _clock_minutes(self.start_time) >= _clock_minutes(self.end_time):
            raise PydanticCustomError("times", "start_time must be before end_time")
        return self

    def minutes(self) -> tuple[int, int]:
        return _clock_minutes(self.start_time), _clock_minutes(self.end_time)


def _range(item: str, names: tuple[str, ...] | None, lo: int, hi: int, what: str) -> tuple[int, int]:
    """``"monday:friday"`` → ``(1, 5)``; names are case-insensitive; numbers allowed where
    ``names`` is None or for months."""

    def one(token: str) -> int:
        t = token.strip().lower()
        if names is not None and t in names:
            return names.index(t) + (1 if what == "month" else 0)
        try:
            n = int(t)
        except ValueError:
            raise PydanticCustomError("range", "'{t}' is not a valid {w}", {"t": token, "w": what}) from None
        if not lo <= n <= hi or (what == "day of month" and n == 0) or (what == "weekday"):
            raise PydanticCustomError("range", "'{t}' is not a valid {w}", {"t": token, "w": what})
        return n

    parts = item.split(":")
    if len(parts) > 2:
        raise PydanticCustomError("range", "'{i}': a range is begin:end", {"i": item})
    begin = one(parts[0])
    end = one(parts[-1])
    if what == "day of month" and (begin < 0) == (end < 0) and begin > end:
        raise PydanticCustomError("range", "'{i}': the range ends before it begins", {"i": item})
    if what == "day of month" and begin > 0 > end:
        pass  # e.g. 1:-1: first to last day, valid as in Alertmanager
    elif what == "day of month" and begin < 0 < end:
        raise PydanticCustomError("range", "'{i}': a negative begin needs a negative end", {"i": item})
    elif what != "day of month" and begin > end:
        raise PydanticCustomError("range", "'{i}': the range ends before it begins", {"i": item})
    return begin, end


class TimeIntervalSpec(Model):
    """Every field that is set must match; an unset field matches always."""

    times: list[TimeRangeConfig] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list, description="e.g. ['monday:friday', 'sunday'].")
    days_of_month: list[str] = Field(default_factory=list, description="e.g. ['1:5', '-1'] (negative: from the end).")
    months: list[str] = Field(default_factory=list, description="e.g. ['january:march', '12'].")
    years: list[str] = Field(default_factory=list, description="e.g. ['2025:2026'].")
    location: str | None = Field(None, description="IANA time zone, e.g. Europe/Istanbul; default UTC.")

    @field_validator("weekdays")
    @classmethod
    def _wd(cls, v: list[str]) -> list[str]:
        for item in v:
            _range(item, WEEKDAYS, 0, 6, "weekday")
        return v

    @field_validator("days_of_month")
    @classmethod
    def _dom(cls, v: list[str]) -> list[str]:
        for item in v:
            _range(item, None, -31, 31, "day of month")
        return v

    @field_validator("months")
    @classmethod
    def _mon(cls, v: list[str]) -> list[str]:
        for item in v:
            _range(item, MONTHS, 1, 12, "month")
        return v

    @field_validator("years")
    @classmethod
    def _yr(cls, v: list[str]) -> list[str]:
        for item in v:
            _range(item, None, 1, 9999, "year")
        return v

    @field_validator("location")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None and v not in ("UTC", "Local"):
            try:
                zoneinfo.ZoneInfo(v)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise PydanticCustomError("location", "unknown time zone '{v}'", {"v": v}) from None
        return v

    def weekday_ranges(self) -> list[tuple[int, int]]:
        return [_range(i, WEEKDAYS, 0, 6, "weekday") for i in self.weekdays]

    def day_ranges(self) -> list[tuple[int, int]]:
        return [_range(i, None, -31, 31, "day of month") for i in self.days_of_month]

    def month_ranges(self) -> list[tuple[int, int]]:
        return [_range(i, MONTHS, 1, 12, "month") for i in self.months]

    def year_ranges(self) -> list[tuple[int, int]]:
        return [_range(i, None, 1, 9999, "year") for i in self.years]


class NamedTimeInterval(Model):
    name: str
    time_intervals: list[TimeIntervalSpec] = Field(
        default_factory=list, description="The interval is on when any of these matches."
    )


# --- global ----------------------------------------------------------------------------
class GlobalConfig(Model):
    resolve_timeout: Duration = Field(300.0, description="Ignored: scalepilot's alerts always carry endsAt.")
    smtp_from: str | None = None
    smtp_smarthost: str | None = None
    smtp_hello: str = "localhost"
    smtp_auth_username: str | None = None
    smtp_auth_password: str | None = Field(None, description="Rejected: an inline secret.")
    smtp_auth_password_file: Path | None = None
    smtp_auth_password_env: str | None = None
    smtp_auth_identity: str | None = None
    smtp_auth_secret: str | None = Field(None, description="Rejected: CRAM-MD5 is not supported.")
    smtp_require_tls: bool = True
    slack_api_url: str | None = Field(None, description="Rejected: an inline secret.")
    slack_api_url_file: Path | None = None
    slack_api_url_env: str | None = None
    http_config: HTTPClientConfig | None = None

    @model_validator(mode="after")
    def _secrets(self) -> GlobalConfig:
        _inline_secret(self.smtp_auth_password, "smtp_auth_password")
        _inline_secret(self.slack_api_url, "slack_api_url")
        if self.smtp_auth_secret is not None:
            raise PydanticCustomError("auth_secret", "smtp_auth_secret (CRAM-MD5) is not supported")
        _check_env_name(self.smtp_auth_password_env)
        _check_env_name(self.slack_api_url_env)
        return self


# --- scalepilot's own -------------------------------------------------------------------
class MaintenanceWindow(Model):
    """A recurring window (e.g. the nightly deploy) during which matching alerts are held;
    whatever still fires when it ends is notified then."""

    name: str
    time_intervals: list[str] = Field(description="Names of time_intervals during which the window is open.")
    matchers: list[str] = Field(default_factory=list, description="Alerts it holds; none: every alert.")
    comment: str = ""

    _m = field_validator("matchers")(classmethod(lambda cls, v: _check_matchers(v)))


class EscalationStep(Model):
    after: PositiveDuration = Field(description="Time since the first notification, unacknowledged, before this step.")
    receiver: str = Field(description="Who is notified at this step.")


class EscalationPolicy(Model):
    """When a notification to ``receiver`` is not acknowledged in time, the next receiver in
    ``steps`` is notified, and so on."""

    receiver: str = Field(description="The receiver whose notifications escalate.")
    steps: list[EscalationStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _increasing(cls, v: list[EscalationStep]) -> list[EscalationStep]:
        for a, b in itertools.pairwise(v):
            if b.after <= a.after:
                raise PydanticCustomError("steps", "each step's after must be longer than the one before")
        return v


class BreakerSettings(Model):
    failures: int = Field(
        5, ge=1, description="Consecutive failed sends to one receiver that open its circuit (stop sending)."
    )
    cooldown: PositiveDuration = Field(
        30.0, description="Seconds an open circuit waits before one probe send tries the receiver again."
    )


class RetrySettings(Model):
    initial: PositiveDuration = Field(1.0, description="Wait before the first retry, in seconds.")
    max: PositiveDuration = Field(
        300.0, description="Longest wait between retries. 5m: a receiver back from an outage hears within 5m."
    )
    multiplier: float = Field(2.0, ge=1.0, le=10.0, description="Growth of the wait per failed attempt.")
    jitter: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Each wait is shortened by a random fraction up to this, so notifications queued together "
        "do not retry in lockstep against a recovering receiver.",
    )

    @model_validator(mode="after")
    def _max_covers_initial(self) -> RetrySettings:
        if self.max < self.initial:
            raise PydanticCustomError("retry", "max must not be shorter than initial")
        return self


class DeliverySettings(Model):
    """The outbox: every notification is stored before it is sent and sent until a
    receiver accepts it (at least once), within these bounds."""

    retry: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    max_attempts: int = Field(
        50, ge=1, description="After this many failed attempts a notification is dead-lettered (an event)."
    )
    max_age: PositiveDuration = Field(
        86400.0,
        description="A notification not delivered within this long is dead-lettered: a day-old page helps nobody.",
    )
    max_in_flight: int = Field(
        8, ge=1, le=256, description="Sends running at once; bounds sockets and threads when many are due."
    )
    keep_delivered: PositiveDuration = Field(
        3600.0, description="Delivered notifications stay in the outbox this long (for `scalepilot alerts`)."
    )
    keep_dead: PositiveDuration = Field(7 * 86400.0, description="Dead-lettered ones stay this long.")


class AlertingSettings(Model):
    """Notification routing. The keys shared with ``alertmanager.yml`` mean what they mean
    there; see the module docstring for what is accepted, rejected and ignored."""

    model_config = Model.model_config | {"populate_by_name": True}

    external_url: str | None = Field(
        None,
        description="This scalepilot's URL as people reach it (externalURL, links); default http://server.address.",
    )
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    route: RouteConfig
    receivers: list[ReceiverConfig] = Field(min_length=1)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    mute_time_intervals: list[NamedTimeInterval] = Field(
        default_factory=list, description="Alertmanager's older name for time_intervals."
    )
    templates: list[str] = Field(default_factory=list, description="Ignored: Go template files are not supported.")
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    escalations: list[EscalationPolicy] = Field(default_factory=list)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)

    _u = field_validator("external_url")(classmethod(lambda cls, v: _check_url(v)))

    def all_time_intervals(self) -> list[NamedTimeInterval]:
        return [*self.time_intervals, *self.mute_time_intervals]

    def receiver(self, name: str) -> ReceiverConfig:
        for r in self.receivers:
            if r.name == name:
                return r
        raise KeyError(name)

    @model_validator(mode="after")
    def _references(self) -> AlertingSettings:
        names = [r.name for r in self.receivers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise PydanticCustomError("receiver", "receiver '{n}' is defined twice", {"n": sorted(dup)[0]})
        intervals = [t.name for t in self.all_time_intervals()]
        dup = {n for n in intervals if intervals.count(n) > 1}
        if dup:
            raise PydanticCustomError("time_interval", "time interval '{n}' is defined twice", {"n": sorted(dup)[0]})
        root = self.route
        if root.receiver is None:
            raise PydanticCustomError("route", "route: the root route must name a receiver")
        if root.all_matchers():
            raise PydanticCustomError("route", "route: the root route must not have matchers")
        if root.continue_:
            raise PydanticCustomError("route", "route: the root route cannot have continue: true")
        if root.mute_time_intervals or root.active_time_intervals:
            raise PydanticCustomError("route", "route: the root route cannot have mute or active time intervals")
        for node in root.walk():
            if node.receiver is not None and node.receiver not in names:
                raise PydanticCustomError("route", "route: undefined receiver '{r}'", {"r": node.receiver})
            for ti in (*node.mute_time_intervals, *node.active_time_intervals):
                if ti not in intervals:
                    raise PydanticCustomError("route", "route: undefined time interval '{t}'", {"t": ti})
        for w in self.maintenance_windows:
            for ti in w.time_intervals:
                if ti not in intervals:
                    raise PydanticCustomError(
                        "maintenance", "maintenance window '{w}': undefined time interval '{t}'", {"w": w.name, "t": ti}
                    )
        seen: set[str] = set()
        for esc in self.escalations:
            if esc.receiver in seen:
                raise PydanticCustomError("escalation", "receiver '{r}' has two escalations", {"r": esc.receiver})
            seen.add(esc.receiver)
            for r in (esc.receiver, *(s.receiver for s in esc.steps)):
                if r not in names:
                    raise PydanticCustomError("escalation", "escalation: undefined receiver '{r}'", {"r": r})
                if self.receiver(r).alertmanager_configs:
                    raise PydanticCustomError(
                        "escalation",
                        "escalation: '{r}' forwards to Alertmanager; people cannot acknowledge there",
                        {"r": r},
                    )
        return self
