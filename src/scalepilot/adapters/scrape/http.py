"""Fetching a metrics page over HTTP.

One shared ``httpx.AsyncClient`` serves every target (connection reuse matters at a 5 s
interval), but each fetch runs under its own deadline: httpx's timeouts are per
operation, so a server that drips one byte a second would never trip them. The body is
read incrementally after decompression so a runaway page is cut at ``body_size_limit``
rather than after it has filled memory.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from scalepilot import __version__
from scalepilot.adapters._net import describe_connect_failure
from scalepilot.adapters.scrape.errors import BadStatus, BodyTooLarge, FetchError, ScrapeTimeout

USER_AGENT = f"scalepilot/{__version__}"


@dataclass(frozen=True, slots=True)
class FetchResult:
    body: bytes
    content_type: str | None
    status: int
    duration_s: float


class Fetcher:
    def __init__(self, accept: str, *, client: httpx.AsyncClient | None = None) -> None:
        self._accept = accept
        self._client = client or httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
            follow_redirects=True,
            limits=httpx.Limits(max_keepalive_connections=100, max_connections=200),
            # The deadline is enforced around the whole fetch in fetch(), see above.
            timeout=httpx.Timeout(None),
        )

    async def fetch(self, url: str, *, timeout_s: float, body_size_limit: int = 0) -> FetchResult:
        started = time.perf_counter()
        headers = {
            "Accept": self._accept,
            # Prometheus tells exporters how long it will wait so they can cut work short.
            "X-Prometheus-Scrape-Timeout-Seconds": f"{timeout_s:g}",
        }
        try:
            async with asyncio.timeout(timeout_s):
                async with self._client.stream("GET", url, headers=headers) as resp:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if body_size_limit and size > body_size_limit:
                            raise BodyTooLarge(f"body exceeds body_size_limit of {body_size_limit} bytes")
                        chunks.append(chunk)
                    body = b"".join(chunks)
                    if not 200 <= resp.status_code < 300:
                        excerpt = body[:120].decode("utf-8", "replace").strip()
                        raise BadStatus(resp.status_code, excerpt)
                    return FetchResult(
                        body=body,
                        content_type=resp.headers.get("content-type"),
                        status=resp.status_code,
                        duration_s=time.perf_counter() - started,
                    )
        except TimeoutError as exc:
            raise ScrapeTimeout(f"no complete answer within the {timeout_s:g}s timeout") from exc
        except httpx.DecodingError as exc:
            raise FetchError(f"cannot decode the response body: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(_describe(exc)) from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def _describe(exc: httpx.HTTPError) -> str:
    """A short, human reason: 'connection refused' beats a wrapped traceback."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return describe_connect_failure(exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed by the server before it answered"
    return f"{type(exc).__name__}: {text}"
