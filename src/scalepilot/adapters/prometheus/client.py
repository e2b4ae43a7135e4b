"""An external Prometheus as a :class:`~scalepilot.domain.query.MetricSource`.

Queries go to ``/api/v1/query`` and ``/api/v1/query_range`` as form-encoded POSTs (what
Grafana does: a long expression never hits a URL length limit), with Prometheus's own
``timeout`` parameter set so the server abandons work the client has given up on.

Each attempt runs under one deadline around the whole request — httpx's timeouts are
per read, and a server dripping bytes would never trip them. Transient failures are
retried with exponential backoff; after the last attempt the source is *down*
(:class:`~.errors.PrometheusDown`, ``kind="unavailable"``) with the reason, and its
:class:`~.health.SourceHealth` says so until a query succeeds again. A query Prometheus
rejects is the query's fault: reported as it is, never retried, the source stays up.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from scalepilot import __version__
from scalepilot.adapters._net import describe_connect_failure
from scalepilot.adapters.prometheus.decode import decode_data
from scalepilot.adapters.prometheus.errors import PrometheusDown, PrometheusRejected, excerpt
from scalepilot.adapters.prometheus.health import SourceHealth
from scalepilot.adapters.prometheus.params import format_duration, format_time
from scalepilot.domain.query import QueryResult

USER_AGENT = f"scalepilot/{__version__}"
MAX_BACKOFF_S = 2.0
# errorTypes that say the server, not the query, is in trouble.
_SERVER_TROUBLE = frozenset({"unavailable", "internal"})
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class PrometheusSource:
    """Answers PromQL by asking a Prometheus server over its HTTP API."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.25,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        on_health_change: Callable[[SourceHealth, str], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``headers`` may hold secrets (``Authorization``): they are sent, never shown.
        ``on_health_change`` hears of each transition (and the previous health). ``transport`` lets
        a test put a fake server in place of the network."""
        self.url = url.rstrip("/")
        self.name = f"prometheus at {self.url}"
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.health = SourceHealth(self.name, on_change=on_health_change)
        self._header_names = sorted(headers or {})
        self._clock = clock
        self._client = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            # The deadline is enforced around each whole attempt, see above.
            timeout=httpx.Timeout(None),
            follow_redirects=False,
            transport=transport,
        )

    # --- MetricSource ---------------------------------------------------------------------
    async def query(self, expr: str, at_ms: int) -> QueryResult:
        return await self._ask("query", {"query": expr, "time": format_time(at_ms)})

    async def query_range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        form = {
            "query": expr,
            "start": format_time(start_ms),
            "end": format_time(end_ms),
            "step": format_duration(step_ms),
        }
        return await self._ask("query_range", form)

    async def aclose(self) -> None:
        await self._client.aclose()

    def status(self) -> dict[str, Any]:
        """For ``/status``: where, how, and whether it is up (header names only)."""
        return {
            "type": "prometheus",
            "name": self.name,
            "url": self.url,
            "timeout_seconds": self.timeout_s,
            "retries": self.retries,
            "headers": self._header_names,
            **self.health.to_dict(),
        }

    # --- one question, with retries ---------------------------------------------------
    async def _ask(self, endpoint: str, form: dict[str, str]) -> QueryResult:
        form = {**form, "timeout": format_duration(round(self.timeout_s * 1000))}
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                result = await self._attempt(endpoint, form)
            except PrometheusRejected:
                self.health.succeeded(self._now_ms())  # it answered: up, the query is at fault
                raise
            except PrometheusDown as exc:
                if exc.transient and attempt < attempts:
                    await asyncio.sleep(min(MAX_BACKOFF_S, self.backoff_s * 2 ** (attempt - 1)))
                    continue
                tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                reason = f"{exc}{tries}"
                self.health.failed(self._now_ms(), reason)
                raise PrometheusDown(f"{self.name} is down: {reason}", transient=exc.transient) from exc
            self.health.succeeded(self._now_ms())
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(self, endpoint: str, form: dict[str, str]) -> QueryResult:
        try:
            async with asyncio.timeout(self.timeout_s):
                resp = await self._client.post(f"{self.url}/api/v1/{endpoint}", data=form)
        except TimeoutError as exc:
            raise PrometheusDown(f"no answer within the {self.timeout_s:g}s timeout") from exc
        except httpx.ConnectError as exc:
            raise PrometheusDown(describe_connect_failure(exc)) from exc
        except httpx.RemoteProtocolError as exc:
            raise PrometheusDown("connection closed by the server before it answered") from exc
        except httpx.HTTPError as exc:
            raise PrometheusDown(f"{type(exc).__name__}: {exc}") from exc
        return _interpret(resp)

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)


def _interpret(resp: httpx.Response) -> QueryResult:
    """The result in a Prometheus answer, or the error it stands for."""
    status = resp.status_code
    try:
        body: Any = json.loads(resp.content)
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
        text = excerpt(resp.content.decode("utf-8", "replace"))
        if status in _RETRY_STATUSES or status >= 500:
            raise PrometheusDown(f"HTTP {status}: {text}" if text else f"HTTP {status}")
        if status == 200:
            raise PrometheusDown(f"the answer is not Prometheus API JSON: {text}", transient=False)
        raise PrometheusDown(f"HTTP {status}: {text}" if text else f"HTTP {status}", transient=False)
    if body["status"] == "error":
        kind = str(body.get("errorType") or "internal")
        message = excerpt(str(body.get("error", "")))
        if kind in _SERVER_TROUBLE:
            raise PrometheusDown(f"{kind}: {message} (HTTP {status})")
        raise PrometheusRejected(message, kind=kind)
    try:
        result = decode_data(body.get("data"))
    except ValueError as exc:
        raise PrometheusDown(f"the answer is not a Prometheus query result: {exc}", transient=False) from exc
    warnings = body.get("warnings")
    if isinstance(warnings, list) and warnings:
        extra = tuple(str(w) for w in warnings)
        result = QueryResult(
            result.type, result.vector, result.matrix, result.scalar, result.string, result.warnings + extra
        )
    return result
