"""Settings of the built-in HTTP/1.1 load balancer (``services[].balancer``).

The balancer sits in front of a service's local replicas, so its defaults are tuned for
backends on the same host: connects either succeed at once or are refused, and the
dangerous waits are the ones on a hung replica or a slow client, which are bounded here.
Every limit names what it protects.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from scalepilot.config.base import Model
from scalepilot.config.durations import ByteSize, Duration, PositiveDuration


def split_listen(value: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) as a host and a port number; raises ValueError."""
    host, sep, port = value.rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"not host:port: {value!r}")
    return host, int(port)


class BalancerSettings(Model):
    listen: str = Field(
        "127.0.0.1:0",
        description="host:port the balancer accepts clients on. Loopback by default, so nothing is "
        "exposed to the network unless you say so; port 0 picks a free port (shown in the status).",
    )
    connect_timeout: PositiveDuration = Field(
        2.0,
        description="Seconds a TCP connect to a replica may take before it counts as failed (and the "
        "request is retried on another replica). 2s lets one dropped SYN be retransmitted (Linux "
        "retries after 1s) but gives up quickly on a replica whose accept queue is full.",
    )
    response_timeout: PositiveDuration = Field(
        60.0,
        description="Seconds to wait for a replica's response head once the request is sent, and the "
        "longest silence allowed inside a response body; then 504 (or the connection is cut if the "
        "response had begun). 60s is nginx's proxy_read_timeout: long enough for slow reports, short "
        "enough that a hung replica frees its clients within a minute.",
    )
    client_timeout: PositiveDuration = Field(
        30.0,
        description="Seconds a client has to send a complete request head, and the longest silence "
        "allowed while it sends a request body; then 408 and the connection is closed. Bounds what a "
        "slow or stalled client (slowloris) can hold.",
    )
    client_keepalive: PositiveDuration = Field(
        60.0,
        description="Seconds an idle client connection is kept open for its next request. Longer than "
        "most clients keep idle pooled connections, so clients usually close first and never send on "
        "a connection the balancer is closing.",
    )
    upstream_keepalive: int = Field(
        64,
        ge=0,
        description="Idle keep-alive connections kept per replica for reuse by later requests (0 = a new "
        "connection per request). Connections in use are not limited; one that finishes while this "
        "many are idle is closed, so the value should cover a replica's peak concurrency, or bursts "
        "churn connections (and TIME_WAIT sockets). 64 does for most apps at little cost.",
    )
    upstream_idle_timeout: PositiveDuration = Field(
        4.0,
        description="Seconds an idle upstream connection is kept before the balancer closes it. Below the "
        "5s keep-alive timeout of uvicorn and Node.js, so the balancer closes first and does not send "
        "a request on a connection the app is closing.",
    )
    max_request_body: ByteSize = Field(
        16 * 1024 * 1024,
        description="Largest request body (bytes) passed to a replica; larger ones get 413 (0 = no limit). "
        "Bodies are streamed, so this protects the apps, not the balancer's memory; 16MiB fits API "
        "payloads and form uploads (nginx's 1MiB default is a common surprise).",
    )
    max_header_size: ByteSize = Field(
        32 * 1024,
        ge=1024,
        description="Largest request or response head (request line and headers, bytes, at least 1KiB); "
        "a larger request gets 431, a larger response 502. 32KiB fits large cookies and tokens with "
        "room to spare.",
    )
    retry_on_connect_failure: bool = Field(
        True,
        description="When a replica refuses or times out the connection (nothing has been sent yet), "
        "retry the request once on another ready replica instead of answering 502. Safe for every "
        "method, since the replica never saw the request.",
    )
    retry_after: PositiveDuration = Field(
        1.0,
        description="Value of the Retry-After header (rounded up to whole seconds) when no replica is "
        "ready and the balancer answers 503. Replicas usually become ready within seconds.",
    )
    forwarded: Literal["x-forwarded", "forwarded"] = Field(
        "x-forwarded",
        description="How the client's address reaches the app: X-Forwarded-For and X-Forwarded-Proto "
        "(what most frameworks read), or the standard Forwarded header (RFC 7239). Via is always added.",
    )
    shutdown_grace: Duration = Field(
        10.0,
        description="When the balancer stops, requests in flight get this many seconds to finish before "
        "their connections are cut. Idle connections are closed at once.",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        try:
            split_listen(value)
        except ValueError:
            raise PydanticCustomError("address", "must be host:port, e.g. 127.0.0.1:8080 (port 0 = any)") from None
        return value

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]
