"""Authentication, roles and security headers for every route, in one middleware.

A token travels only in ``Authorization: Bearer <token>``: no cookies and no query
strings, so a browser never sends one on its own (no CSRF) and none lands in a log.
The role a request needs comes from :func:`scalepilot.domain.auth.required_role`; the
answer is 401 (no, unknown or expired token) or 403 (role too low), JSON with a reason.
Failed attempts are rate limited per client address; a valid token always passes, so
someone guessing from a shared address cannot lock its users out.

When auth is on, the identity of a write is ``token:<name>``, whatever the request body
claims (:func:`actor`); the routes record it in their events.

Security headers go on every response. ``/docs`` (Swagger UI, vendored) gets a CSP that
allows inline styles and data: images, which it needs; everything else, the dashboard
included, gets the strict one.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from scalepilot.config.durations import parse_duration
from scalepilot.domain.auth import FailureLimiter, Role, required_role
from scalepilot.service.tokens import TokenError, TokenStore

STRICT_CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# Swagger UI (vendored, served from /docs/) styles itself inline and draws icons from
# data: URIs; its script is still only our own files, so no script can be injected.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
)
_DOCS_PAGES = "/docs"
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def actor(request: Request, claimed: str) -> str:
    """Who made this write: the token's name when auth is on, else what the body says."""
    name = getattr(request.state, "token_name", None)
    return f"token:{name}" if name else claimed


def _refuse(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return JSONResponse({"detail": reason}, status_code=status, headers={**extra, **(headers or {})})


def install(
    app: FastAPI,
    tokens: TokenStore,
    *,
    enabled: bool,
    public_metrics: bool,
    failures_per_minute: int,
    clock: Callable[[], float],
) -> None:
    limiter = FailureLimiter(failures_per_minute, clock)

    def check(request: Request) -> Response | None:
        need = required_role(request.method, request.url.path, public_metrics=public_metrics)
        if need is None:
            return None
        address = request.client.host if request.client else "unknown"
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        record = tokens.authenticate(secret.strip()) if scheme.lower() == "bearer" and secret.strip() else None
        if record is None:
            wait = limiter.retry_after(address)
            if wait > 0:
                return _refuse(
                    429,
                    "too many failed authentications from this address; try again later",
                    {"Retry-After": str(max(1, math.ceil(wait)))},
                )
            limiter.failed(address)
            if not header:
                return _refuse(401, "authentication required: send Authorization: Bearer <token>")
            if scheme.lower() != "bearer":
                return _refuse(401, "only Authorization: Bearer <token> is accepted")
            return _refuse(401, "unknown, revoked or expired token")
        request.state.token_name = record.name
        request.state.token_role = record.role.label
        if record.role < need:
            return _refuse(
                403, f"token {record.name!r} has role {record.role.label}; this needs {need.label} or higher"
            )
        return None

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        refused = check(request) if enabled else None
        response = refused if refused is not None else await call_next(request)
        path = request.url.path
        docs = path == _DOCS_PAGES or path.startswith(_DOCS_PAGES + "/")
        response.headers["Content-Security-Policy"] = DOCS_CSP if docs else STRICT_CSP
        response.headers.update(HEADERS)
        return response


_AUTH_ANSWERS = {
    "401": "No token, or an unknown, revoked or expired one.",
    "403": "The token's role is too low for this.",
    "429": "Too many failed authentications from this address; see Retry-After.",
}


# Every refusal of ours is {"detail": "<reason>"}; FastAPI's own request validation
# answers 422 with a list of errors. The spec says both, so clients can parse either.
_PROBLEM = {
    "title": "Problem",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "What was wrong, for people."}},
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_CONTENT = {"application/json": {"schema": _PROBLEM_REF}}


def _either_422(responses: dict[str, Any]) -> None:
    answer = responses.get("422")
    if answer is None:
        return
    content = answer.setdefault("content", {}).setdefault("application/json", {})
    declared = content.get("schema")
    content["schema"] = {"anyOf": [declared, _PROBLEM_REF]} if declared else _PROBLEM_REF


def describe_security(app: FastAPI, *, enabled: bool, public_metrics: bool) -> None:
    """Put the bearer scheme and each operation's need for it into ``/openapi.json``, so
    Swagger UI's Authorize button works and clients generated from the spec send the
    header. With auth off a token is optional (``{}`` is an allowed alternative). The
    error answers' shapes go in too: 401/403/429 and our 422s are ``{"detail": str}``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token (`scalepilot token create --role viewer|operator|admin`). "
                "Roles: viewer reads, operator also scales, pauses, silences and acknowledges, admin also "
                "manages tokens.",
            }
        }
        needed: list[dict[str, list[str]]] = [{"bearer": []}] if enabled else [{}, {"bearer": []}]
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                open_ = required_role(method, path, public_metrics=public_metrics) is None
                operation["security"] = [] if open_ else needed
                responses = operation.setdefault("responses", {})
                if not open_:
                    for code, text in _AUTH_ANSWERS.items():
                        responses.setdefault(code, {"description": text, "content": _PROBLEM_CONTENT})
                _either_422(responses)
                for code, answer in responses.items():
                    if code.startswith(("4", "5")) and "content" not in answer:
                        answer["content"] = _PROBLEM_CONTENT  # every refusal of ours is a Problem
        schema["components"].setdefault("schemas", {})["Problem"] = _PROBLEM
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="A name people recognise: who or what uses it.")
    role: str = Field(description="viewer, operator or admin.")
    expires: str | None = Field(None, description="Lifetime, e.g. 90d; omit for no expiry.")


class TokenView(BaseModel):
    name: str
    role: str = Field(description="viewer, operator or admin.")
    created: float = Field(description="Unix seconds.")
    expires: float | None = Field(description="Unix seconds; null: never.")
    last_used: float | None = Field(description="Unix seconds of the last request made with it.")


class NewTokenView(TokenView):
    token: str = Field(description="The secret: shown in this answer only, never stored.")


def tokens_router(tokens: TokenStore) -> APIRouter:
    """``/api/v1/tokens``: admin only (see the role table), used by ``scalepilot token``
    while scalepilot runs and owns the data directory."""
    router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])

    @router.get("", response_model=list[TokenView])
    async def list_tokens() -> list[dict[str, Any]]:
        """Every token's name, role, creation, expiry and last use; never the secret."""
        return [t.public() for t in tokens.list()]

    @router.post("", status_code=201, response_model=NewTokenView)
    async def create_token(body: TokenRequest, request: Request) -> dict[str, Any]:
        """Create a token. The answer holds the secret; it is not stored and never shown again."""
        try:
            role = Role.parse(body.role)
            expires_in = None if body.expires is None else parse_duration(body.expires)
            secret, record = tokens.create(body.name, role, expires_in=expires_in, actor=actor(request, "api"))
        except (TokenError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from exc
        return {**record.public(), "token": secret}

    @router.delete("/{name}", responses={404: {"description": "No token of that name."}}, response_model=TokenView)
    async def revoke_token(name: str, request: Request) -> dict[str, Any]:
        """Revoke a token now: the next request with it is refused."""
        try:
            record = tokens.revoke(name, actor=actor(request, "api"))
        except TokenError as exc:
            raise HTTPException(404, str(exc)) from exc
        return record.public()

    return router
