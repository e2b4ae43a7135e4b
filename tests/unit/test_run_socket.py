"""The API's listening socket makes asyncio switch Nagle's algorithm off on every
connection: with it on, each keep-alive response waited 44 ms for a delayed ACK."""

from __future__ import annotations

import asyncio
import socket

from scalepilot.faces.cli.run_cmd import _bind


async def test_accepted_connections_have_tcp_nodelay() -> None:
    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            conn = transport.get_extra_info("socket")
            accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
