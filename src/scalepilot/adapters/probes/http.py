"""HTTP probes, shaped like the blackbox exporter's http module: a method, a set of
acceptable status codes and an optional body regex, all within one deadline."""

from __future__ import annotations

import asyncio
import re
import time

import httpx

from scalepilot import __version__
from scalepilot.adapters._net import describe_connect_failure
from scalepilot.adapters.probes.result import ProbeResult

# A probe only needs to see enough of the body to find a health marker; reading a
# multi-megabyte page every few seconds would be the probe hurting the service.
MAX_BODY_BYTES = 256 * 1024


class HTTPProber:
    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(
            headers={"User-Agent": f"scalepilot-probe/{__version__}"},
            follow_redirects=True,
            timeout=httpx.Timeout(None),
        )

    async def probe(
        self,
        url: str,
        *,
        timeout_s: float,
        method: str = "GET",
        expect_status: frozenset[int] | set[int] = frozenset(range(200, 300)),
        body_regex: re.Pattern[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> ProbeResult:
        started = time.perf_counter()

        def done(ok: bool, error: str = "", status: int | None = None) -> ProbeResult:
            return ProbeResult(ok, time.perf_counter() - started, error, status)

        try:
            async with asyncio.timeout(timeout_s):
                async with self._client.stream(method, url, headers=headers or {}) as resp:
                    body = b""
                    if body_regex is not None:
                        async for chunk in resp.aiter_bytes():
                            body += chunk
                            if len(body) >= MAX_BODY_BYTES:
                                break
        except TimeoutError:
            return done(False, f"no answer within the {timeout_s:g}s timeout")
        except httpx.ConnectError as exc:
            return done(False, describe_connect_failure(exc))
        except httpx.RemoteProtocolError:
            return done(False, "connection closed by the server before it answered")
        except httpx.HTTPError as exc:
            return done(False, f"{type(exc).__name__}: {exc}")
        if resp.status_code not in expect_status:
            return done(False, f"unexpected HTTP status {resp.status_code}", resp.status_code)
        if body_regex is not None:
            text = body.decode(resp.encoding or "utf-8", "replace")
            if body_regex.search(text) is None:
                return done(False, f"body does not match /{body_regex.pattern}/", resp.status_code)
        return done(True, status=resp.status_code)

    async def aclose(self) -> None:
        await self._client.aclose()
