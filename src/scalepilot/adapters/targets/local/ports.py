"""Free loopback ports for replicas.

The kernel picks a free port (bind to port 0) and we close the socket again, so the
replica can bind it. Between the two another program may take it; the replica then
fails to bind, exits, and its restart gets a port that is free again — rare enough that
handing the socket itself to the child is not worth requiring every service to accept
one. A replica keeps its port across restarts while the port is free, so its
``instance`` label (``127.0.0.1:port``) and the balancer's entry stay the same.
"""

from __future__ import annotations

import socket
from collections.abc import Container

LOOPBACK = "127.0.0.1"
_ATTEMPTS = 100


def is_free(port: int, host: str = LOOPBACK) -> bool:
    """True if a server could listen on ``port`` now. ``SO_REUSEADDR`` as servers set it,
    so connections of an exited replica lingering in TIME_WAIT do not count as taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def allocate(exclude: Container[int], host: str = LOOPBACK) -> int:
    """A port that is free now and not in ``exclude`` (ports our other replicas hold,
    even while they are restarting and not listening)."""
    for _ in range(_ATTEMPTS):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port: int = s.getsockname()[1]
        if port not in exclude:
            return port
    raise OSError(f"no free port on {host} after {_ATTEMPTS} attempts")
