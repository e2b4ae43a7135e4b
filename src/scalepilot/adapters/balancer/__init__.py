"""A built-in HTTP/1.1 load balancer for local services.

One listening port per service, least-outstanding-requests over the ready replicas with
weights per replica group, keep-alive on both sides, bodies streamed. See
:mod:`.balancer` for the control API, :mod:`.exchange` for how a request is relayed and
:mod:`.errors` for what can go wrong.
"""

from scalepilot.adapters.balancer.backend import Backend
from scalepilot.adapters.balancer.balancer import Balancer
from scalepilot.adapters.balancer.errors import (
    BadResponse,
    BalancerError,
    BalancerStateError,
    BindError,
    ConnectFailed,
    InvalidBackends,
    MalformedMessage,
    UpstreamAborted,
    UpstreamClosed,
    UpstreamError,
    UpstreamTimeout,
)
from scalepilot.adapters.balancer.stats import (
    LATENCY_BUCKETS,
    BackendStats,
    BalancerStats,
    GroupStats,
    LatencyHistogram,
)

__all__ = [
    "LATENCY_BUCKETS",
    "Backend",
    "BackendStats",
    "BadResponse",
    "Balancer",
    "BalancerError",
    "BalancerStateError",
    "BalancerStats",
    "BindError",
    "ConnectFailed",
    "GroupStats",
    "InvalidBackends",
    "LatencyHistogram",
    "MalformedMessage",
    "UpstreamAborted",
    "UpstreamClosed",
    "UpstreamError",
    "UpstreamTimeout",
]
