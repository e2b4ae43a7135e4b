"""The HTTP side shared by the webhook, Slack and Alertmanager channels: a client built
from Alertmanager's ``http_config``, and one POST whose failures become notify errors.

Status codes are judged as Alertmanager's retrier judges them: 2xx delivered; 429 and
5xx transient (the receiver is busy or broken, it may recover); any other status
permanent (the same request would be refused again).
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import httpx

from scalepilot.adapters.notify.errors import ReceiverRejected, ReceiverUnavailable, excerpt
from scalepilot.adapters.notify.secrets import read_secret
from scalepilot.config.alertmanager import HTTPClientConfig, TLSConfig


def _path(p: Path, base: Path) -> str:
    return str(p if p.is_absolute() else base / p)


def ssl_context(tls: TLSConfig | None, base_dir: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if tls is None:
        return ctx
    if tls.ca_file is not None:
        ctx.load_verify_locations(_path(tls.ca_file, base_dir))
    if tls.cert_file is not None:
        ctx.load_cert_chain(
            _path(tls.cert_file, base_dir), _path(tls.key_file, base_dir) if tls.key_file is not None else None
        )
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_client(cfg: HTTPClientConfig | None, base_dir: Path, timeout: float) -> httpx.AsyncClient:
    cfg = cfg or HTTPClientConfig()
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        verify=ssl_context(cfg.tls_config, base_dir),
        follow_redirects=cfg.follow_redirects,
        proxy=cfg.proxy_url,
        trust_env=False,
    )


def auth_headers(cfg: HTTPClientConfig | None, base_dir: Path) -> dict[str, str]:
    """The Authorization header, its secret read now (files may be rotated)."""
    if cfg is None:
        return {}
    if cfg.authorization is not None:
        a = cfg.authorization
        token = read_secret(a.credentials_file, a.credentials_env, base_dir, "http_config.authorization")
        return {"Authorization": f"{a.type} {token}"}
    if cfg.bearer_token_file is not None or cfg.bearer_token_env is not None:
        token = read_secret(cfg.bearer_token_file, cfg.bearer_token_env, base_dir, "http_config.bearer_token")
        return {"Authorization": f"Bearer {token}"}
    if cfg.basic_auth is not None:
        b = cfg.basic_auth
        password = read_secret(b.password_file, b.password_env, base_dir, "http_config.basic_auth") or ""
        pair = base64.b64encode(f"{b.username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


def _refused(exc: BaseException | None, depth: int = 0) -> bool:
    """Whether a ConnectionRefusedError is somewhere in the chain: anyio wraps the one
    per address it tried in "All connection attempts failed", in an exception group."""
    if exc is None or depth > 8:
        return False
    if isinstance(exc, ConnectionRefusedError):
        return True
    if isinstance(exc, BaseExceptionGroup) and any(_refused(e, depth + 1) for e in exc.exceptions):
        return True
    return _refused(exc.__cause__, depth + 1) or _refused(exc.__context__, depth + 1)


def describe_transport(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if _refused(exc) or "refused" in text.lower():
        return "connection refused"
    return excerpt(text)


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    what: str,
) -> httpx.Response:
    """POST and judge the answer. ``what`` names the receiver in errors (never the URL,
    which may carry a token)."""
    try:
        resp = await client.post(url, content=content, headers=headers)
    except httpx.TimeoutException as exc:
        raise ReceiverUnavailable(f"{what}: no answer within the timeout") from exc
    except httpx.TransportError as exc:
        raise ReceiverUnavailable(f"{what}: {describe_transport(exc)}") from exc
    if 200 <= resp.status_code < 300:
        return resp
    body = excerpt(resp.text)
    message = f"{what}: HTTP {resp.status_code}" + (f": {body}" if body else "")
    if resp.status_code == 429 or resp.status_code >= 500:
        raise ReceiverUnavailable(message)
    raise ReceiverRejected(message)
