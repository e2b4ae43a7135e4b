"""The answers the balancer writes itself: errors with a one-line reason.

Every error a client gets from the balancer says why in its body — which replica refused,
which limit was exceeded — because "502 Bad Gateway" alone sends people to the wrong
logs. The body is plain text, one line, starting with the status.
"""

from __future__ import annotations

from http import HTTPStatus

CLOSE_ON = frozenset((400, 408, 413, 431, 501, 505))
"""Statuses after which the request's framing cannot be trusted: the connection closes."""


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_response(status: int, reason: str, *, close: bool, head_only: bool = False, retry_after: int = 0) -> bytes:
    """A complete response. ``head_only`` for HEAD requests (Content-Length still says how
    long the body would have been)."""
    text = phrase(status)
    body = f"{status} {text}: {reason}\n".encode("utf-8", "replace")
    lines = [
        f"HTTP/1.1 {status} {text}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
    ]
    if retry_after > 0:
        lines.append(f"Retry-After: {retry_after}")
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body
