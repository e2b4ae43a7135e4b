"""Finding the end of a chunked body in a byte stream, without buffering it.

The balancer forwards chunked bodies as they are (both sides speak HTTP/1.1), so all it
needs is to know which bytes belong to the body and where it ends; the chunk data itself
is sliced through untouched, whatever its size. For an HTTP/1.0 client, which cannot
read chunked, the reader also *decodes*: it hands back the data without the framing.

Strict like the head parser: chunk sizes are hex digits only (``int(x, 16)`` alone would
accept ``0x``, ``_`` and spaces), lines end with CRLF, sizes are bounded.
"""

from __future__ import annotations

import re

from scalepilot.adapters.balancer.errors import MalformedMessage

_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_MAX_LINE = 4096
_MAX_TRAILERS = 32 * 1024

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedReader:
    """Feed it the bytes that follow a head; it says where the body ends."""

    __slots__ = ("_line", "_max_body", "_remaining", "_state", "_trailer_bytes", "decode", "decoded", "done", "size")

    def __init__(self, *, max_body: int = 0, decode: bool = False) -> None:
        self._state = _SIZE
        self._remaining = 0
        self._line = b""
        self._trailer_bytes = 0
        self._max_body = max_body
        self.decode = decode
        self.decoded: list[bytes] = []
        """Chunk data seen since the caller last cleared it (decode mode only)."""
        self.done = False
        self.size = 0
        """Data bytes so far (the body without its framing)."""

    def feed(self, data: bytes, start: int = 0) -> int:
        """Consume ``data[start:]`` up to the end of the body; return the index just past
        the last byte that belongs to it (``len(data)`` if the body goes on). Raises
        MalformedMessage (413 when the data exceeds ``max_body``)."""
        if self.done:
            return start
        i = start
        n = len(data)
        while i < n:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, n - i)
                if self.decode:
                    self.decoded.append(data[i : i + take])
                i += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _DATA_END
            elif state == _DATA_END:
                piece = data[i : i + 2 - len(self._line)]
                self._line += piece
                i += len(piece)
                if len(self._line) == 2:
                    if self._line != b"\r\n":
                        raise MalformedMessage("chunk data not followed by CRLF")
                    self._line = b""
                    self._state = _SIZE
            else:
                j = data.find(b"\n", i)
                if j < 0:
                    self._line += data[i:]
                    if len(self._line) > _MAX_LINE:
                        raise MalformedMessage("chunk size or trailer line too long")
                    return n
                line = self._line + data[i : j + 1] if self._line else data[i : j + 1]
                self._line = b""
                i = j + 1
                if len(line) > _MAX_LINE:
                    raise MalformedMessage("chunk size or trailer line too long")
                if line[-2:-1] != b"\r":
                    raise MalformedMessage("bare LF in chunked framing (lines must end with CRLF)")
                if state == _SIZE:
                    self._size_line(line[:-2])
                else:
                    self._trailer_line(line[:-2])
                    if self._state == _DONE:
                        return i
        return n

    def _size_line(self, line: bytes) -> None:
        size_text = line.split(b";", 1)[0].rstrip(b" \t")
        if _HEX.fullmatch(size_text) is None:
            raise MalformedMessage(f"invalid chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            self._state = _TRAILER
            return
        self.size += size
        if self._max_body and self.size > self._max_body:
            raise MalformedMessage(f"body larger than {self._max_body} bytes", 413)
        self._remaining = size
        self._state = _DATA

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._state = _DONE
            self.done = True
            return
        self._trailer_bytes += len(line)
        if self._trailer_bytes > _MAX_TRAILERS or b":" not in line or line[:1] in (b" ", b"\t", b":"):
            raise MalformedMessage("invalid trailer section")
