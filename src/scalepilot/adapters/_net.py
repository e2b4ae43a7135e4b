"""Turning network failures into short reasons a person can act on.

Shared by the adapters that open connections (scrape, probes). httpx wraps the OS error
several layers deep ("All connection attempts failed"); the useful fact — refused, reset,
unreachable, unknown host — is at the bottom of the cause chain.
"""

from __future__ import annotations

import errno
import socket


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def describe_connect_failure(exc: BaseException) -> str:
    for cause in reversed(_chain(exc)):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by peer"
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve host: {cause.strerror or cause}"
        if isinstance(cause, OSError) and cause.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "host unreachable"
    text = str(exc) or type(exc).__name__
    return f"cannot connect: {text}"
