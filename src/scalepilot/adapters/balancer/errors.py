"""Errors of the balancer boundary.

::

    ScalepilotError
    └── BalancerError                   the balancer could not do what was asked
        ├── BindError                   the listen address cannot be bound          (permanent)
        ├── BalancerStateError          control API used out of order (a caller bug) (permanent)
        ├── InvalidBackends             duplicate ids, bad ports, bad group weights  (permanent)
        ├── MalformedMessage            an HTTP/1.1 message breaks the framing rules (permanent)
        │                               carries the status to answer (400, 413, 431, 501, 505)
        └── UpstreamError               one exchange with a replica failed          (transient)
            │                           carries the backend, the stats ``kind`` and the status
            ├── ConnectFailed           refused, timed out, unreachable             → 502
            ├── UpstreamTimeout         no response within response_timeout        → 504
            ├── UpstreamClosed          closed before a complete response head     → 502
            ├── BadResponse             a response breaking HTTP/1.1 framing       → 502
            └── UpstreamAborted         closed in the middle of a response body    (cut)

Only ``start()`` and the control calls raise; the per-request errors are not raised
through the event loop but turned into an answer to the client whose body is
``str(error)``, one line a person can act on, and counted in ``stats().upstream_errors``
by ``kind``.
"""

from __future__ import annotations

from scalepilot.domain.errors import ScalepilotError


class BalancerError(ScalepilotError):
    pass


class BindError(BalancerError):
    """The listen address is in use, not local, or needs privileges; names the address."""


class BalancerStateError(BalancerError):
    """``start()`` twice, ``address`` before ``start()``: a bug in the caller."""


class InvalidBackends(BalancerError):
    pass


class MalformedMessage(BalancerError):
    """An HTTP message that cannot be framed safely. ``status`` is what a client is answered."""

    def __init__(self, reason: str, status: int = 400) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason)


class UpstreamError(BalancerError):
    """One exchange with one replica failed; the next request may well succeed."""

    transient = True
    kind = "error"
    """Key in ``BalancerStats.upstream_errors``."""
    status = 502
    """What the client is answered when nothing of the response was sent yet."""

    def __init__(self, backend_id: str, reason: str, *, kind: str | None = None) -> None:
        self.backend_id = backend_id
        self.reason = reason
        if kind is not None:
            self.kind = kind
        super().__init__(f"backend {backend_id} {reason}")


class ConnectFailed(UpstreamError):
    kind = "connect_error"


class UpstreamTimeout(UpstreamError):
    kind = "timeout"
    status = 504


class UpstreamClosed(UpstreamError):
    kind = "closed"


class BadResponse(UpstreamError):
    kind = "bad_response"


class UpstreamAborted(UpstreamError):
    kind = "aborted"
