"""Errors of the external-Prometheus boundary.

::

    ScalepilotError
    └── QueryError (domain.query)         kind = Prometheus's errorType
        └── PrometheusError               an external Prometheus did not give a result
            ├── PrometheusDown            kind "unavailable": the source is down
            │     transient: refused or reset connection, no answer within the
            │       timeout, HTTP 429 / 5xx, a server still starting (retried with
            │       backoff, then reported)
            │     permanent: 401 / 403 / 404, or an answer that is not Prometheus's
            │       JSON (a wrong URL, a login page of a proxy): a person must fix it
            └── PrometheusRejected        Prometheus answered ``"status": "error"``:
                  the query is at fault (bad_data, execution), not the source;
                  kind is its errorType; never retried; the source stays up

Either way the scaling reading is missing (the engine then never scales down on it);
only :class:`PrometheusDown` marks the source down in ``/status``. Bodies from the
server are cut to a short excerpt before they reach a message.
"""

from __future__ import annotations

from scalepilot.domain.query import QueryError

EXCERPT_CHARS = 200


def excerpt(text: str) -> str:
    """An untrusted body, cut and flattened to one line for a message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS] + "…"


class PrometheusError(QueryError):
    pass


class PrometheusDown(PrometheusError):
    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message, kind="unavailable")
        self.transient = transient


class PrometheusRejected(PrometheusError):
    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message, kind=kind)
