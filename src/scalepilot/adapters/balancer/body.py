"""Where a message body ends in a byte stream, whatever its framing.

The one question both directions ask of every packet: which of these bytes belong to the
body being relayed, and is it over? Bytes past the end belong to the next message (a
pipelined request) or are a protocol error (a backend sending more than it announced).
"""

from __future__ import annotations

from scalepilot.adapters.balancer.chunked import ChunkedReader
from scalepilot.adapters.balancer.http1 import Framing


class BodyReader:
    __slots__ = ("_chunks", "_left", "done", "framing")

    def __init__(self, framing: Framing, length: int = 0, *, max_body: int = 0, decode: bool = False) -> None:
        """``length`` for Framing.LENGTH; ``max_body`` (413) and ``decode`` (for HTTP/1.0
        clients) apply to chunked bodies."""
        self.framing = framing
        self._left = length
        self._chunks = ChunkedReader(max_body=max_body, decode=decode) if framing == Framing.CHUNKED else None
        self.done = framing == Framing.NONE

    def feed(self, data: bytes, start: int = 0) -> tuple[bytes, int]:
        """The body bytes in ``data[start:]`` to forward (decoded, in decode mode) and the
        index where the body ended (``len(data)`` when it goes on). Raises MalformedMessage."""
        n = len(data)
        framing = self.framing
        if framing == Framing.LENGTH:
            end = min(n, start + self._left)
            self._left -= end - start
            self.done = self._left == 0
            return (data if start == 0 and end == n else data[start:end]), end
        chunks = self._chunks
        if chunks is not None:
            end = chunks.feed(data, start)
            self.done = chunks.done
            if chunks.decode:
                piece = b"".join(chunks.decoded)
                chunks.decoded.clear()
                return piece, end
            return (data if start == 0 and end == n else data[start:end]), end
        if framing == Framing.UNTIL_CLOSE:
            return (data if start == 0 else data[start:]), n
        return b"", start
