"""HTTP/1.1 message heads: parsing and the framing decisions a proxy needs.

Plain bytes operations (``find``, ``split``, ``partition``, one compiled regex per field
name), because a proxy parses two heads per request and a general parser (h11) costs more
than the rest of the request. Only what a proxy must know is extracted — framing
(Content-Length, Transfer-Encoding), persistence (Connection), Host, Expect — and every
header line is kept verbatim, in order, to be forwarded as received.

The strictness is on purpose. Ambiguous framing is how requests are smuggled past a
proxy to a backend that frames them differently, so anything two parsers could read two
ways is refused: Content-Length with Transfer-Encoding, differing Content-Lengths, bare CR
or LF, control characters, obsolete line folding, whitespace before the colon.
"""

from __future__ import annotations

import re
from enum import IntEnum

from scalepilot.adapters.balancer.errors import MalformedMessage

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(rb"[^\x00-\x20\x7f]+")
_BAD_CHARS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_LENGTH_DIGITS = 18


class Framing(IntEnum):
    """How a message body ends."""

    NONE = 0
    LENGTH = 1
    CHUNKED = 2
    UNTIL_CLOSE = 3
    """Responses only: neither length nor chunked, the body ends when the connection does."""


class Head:
    """What both request and response heads carry."""

    __slots__ = ("chunked", "close", "connection", "fields", "keep_alive", "length", "version")

    def __init__(self) -> None:
        self.version = 11
        """11 for HTTP/1.1, 10 for HTTP/1.0."""
        self.fields: list[tuple[bytes, bytes]] = []
        """(lower-case name, the raw ``Name: value`` line), in order received."""
        self.length = -1
        """Content-Length, or -1 when absent."""
        self.chunked = False
        """Transfer-Encoding ends with ``chunked``."""
        self.connection: frozenset[bytes] = frozenset()
        """Lower-case tokens of the Connection headers."""
        self.keep_alive = True
        """The sender wants the connection kept open after this message."""
        self.close = False
        """Transfer-Encoding is present but not ending in chunked (a response read to close)."""


class RequestHead(Head):
    __slots__ = ("expect_continue", "method", "target")

    def __init__(self) -> None:
        super().__init__()
        self.method = b""
        self.target = b""
        self.expect_continue = False

    @property
    def framing(self) -> Framing:
        if self.chunked:
            return Framing.CHUNKED
        return Framing.LENGTH if self.length > 0 else Framing.NONE


class ResponseHead(Head):
    __slots__ = ("status", "status_line")

    def __init__(self) -> None:
        super().__init__()
        self.status = 0
        self.status_line = b""
        """Everything after the version: ``200 OK``."""

    def framing(self, request_method: bytes) -> Framing:
        """RFC 9112 §6.3: HEAD answers, 1xx, 204 and 304 have no body whatever they say."""
        status = self.status
        if request_method == b"HEAD" or status < 200 or status in (204, 304):
            return Framing.NONE
        if self.chunked:
            return Framing.CHUNKED
        if self.close:
            return Framing.UNTIL_CLOSE
        if self.length >= 0:
            return Framing.LENGTH if self.length > 0 else Framing.NONE
        return Framing.UNTIL_CLOSE


def _check_chars(head: bytes) -> None:
    crlf = head.count(b"\r\n")
    if head.count(b"\r") != crlf:
        raise MalformedMessage("bare CR in message head")
    if head.count(b"\n") != crlf:
        raise MalformedMessage("bare LF in message head (lines must end with CRLF)")
    m = _BAD_CHARS.search(head)
    if m is not None:
        raise MalformedMessage(f"control character {m.group()!r} in message head")


def _parse_fields(lines: list[bytes], into: Head) -> tuple[int, list[bytes], bytes]:
    """Fill ``into.fields``/``length``/``connection``; returns (Host count, Transfer-Encoding
    values, Expect value)."""
    fields = into.fields
    hosts = 0
    te: list[bytes] = []
    expect = b""
    lengths: list[bytes] = []
    connection: list[bytes] = []
    token = _TOKEN.fullmatch
    for k in range(1, len(lines)):
        line = lines[k]
        i = line.find(b":")
        if i <= 0:
            if line[:1] in (b" ", b"\t"):
                raise MalformedMessage("obsolete line folding in header (continuation lines are not allowed)")
            if i == 0:
                raise MalformedMessage("empty header name")
            raise MalformedMessage(f"header line without a colon: {line[:40]!r}")
        name = line[:i]
        if token(name) is None:
            if line[:1] in (b" ", b"\t"):
                raise MalformedMessage("obsolete line folding in header (continuation lines are not allowed)")
            raise MalformedMessage(f"invalid header name {name[:40]!r}")
        lname = name.lower()
        fields.append((lname, line))
        if lname in _SPECIAL:
            value = line[i + 1 :].strip(b" \t")
            if lname == b"content-length":
                lengths.append(value)
            elif lname == b"transfer-encoding":
                te.append(value)
            elif lname == b"connection":
                connection.append(value)
            elif lname == b"host":
                hosts += 1
            else:
                expect = value
    if lengths:
        into.length = _content_length(lengths)
    if connection:
        into.connection = frozenset(t.strip(b" \t").lower() for v in connection for t in v.split(b","))
    return hosts, te, expect


_SPECIAL = frozenset((b"content-length", b"transfer-encoding", b"connection", b"host", b"expect"))


def _content_length(values: list[bytes]) -> int:
    found: set[bytes] = set()
    for value in values:
        for raw in value.split(b","):
            item = raw.strip(b" \t")
            if not item.isdigit() or len(item) > _MAX_LENGTH_DIGITS:
                raise MalformedMessage(f"invalid Content-Length {value[:40]!r}")
            found.add(item.lstrip(b"0") or b"0")
    if len(found) != 1:
        raise MalformedMessage("conflicting Content-Length values")
    return int(found.pop())


def _codings(values: list[bytes]) -> list[bytes]:
    return [c.strip(b" \t").lower() for v in values for c in v.split(b",") if c.strip(b" \t")]


def parse_request_head(head: bytes) -> RequestHead:
    """Parse a request head (without the blank line ending it). Raises MalformedMessage
    with the status to answer: 400, 501 (unsupported transfer coding) or 505."""
    _check_chars(head)
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise MalformedMessage(f"malformed request line {lines[0][:60]!r}")
    method, target, version = parts
    req = RequestHead()
    if version == b"HTTP/1.1":
        req.version = 11
    elif version == b"HTTP/1.0":
        req.version = 10
    elif version.startswith(b"HTTP/") and len(version) == 8 and version[5:6].isdigit():
        raise MalformedMessage(f"HTTP version {version[5:].decode('ascii', 'replace')} is not supported", 505)
    else:
        raise MalformedMessage(f"malformed request line {lines[0][:60]!r}")
    if _TOKEN.fullmatch(method) is None:
        raise MalformedMessage(f"invalid method {method[:20]!r}")
    if _TARGET.fullmatch(target) is None:
        raise MalformedMessage("invalid request target")
    req.method = method
    req.target = target
    hosts, te, expect = _parse_fields(lines, req)
    if req.version == 11 and hosts != 1:
        raise MalformedMessage("missing Host header" if hosts == 0 else "more than one Host header")
    if te:
        if req.version == 10:
            raise MalformedMessage("Transfer-Encoding in an HTTP/1.0 request")
        if req.length >= 0:
            raise MalformedMessage("both Content-Length and Transfer-Encoding")
        codings = _codings(te)
        if not codings or codings[-1] != b"chunked":
            raise MalformedMessage("Transfer-Encoding of a request must end with chunked")
        if len(codings) > 1:
            unsupported = codings[0].decode("ascii", "replace")
            raise MalformedMessage(f"transfer coding {unsupported!r} is not supported", 501)
        req.chunked = True
    tokens = req.connection
    req.keep_alive = b"close" not in tokens if req.version == 11 else b"keep-alive" in tokens
    if expect and req.version == 11:
        req.expect_continue = expect.lower() == b"100-continue"
    return req


def parse_response_head(head: bytes) -> ResponseHead:
    """Parse a response head (without the blank line ending it). Raises MalformedMessage."""
    _check_chars(head)
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    resp = ResponseHead()
    if version == b"HTTP/1.1":
        resp.version = 11
    elif version == b"HTTP/1.0":
        resp.version = 10
    else:
        raise MalformedMessage(f"malformed status line {lines[0][:60]!r}")
    code = rest[:3]
    if len(code) != 3 or not code.isdigit() or rest[3:4] not in (b"", b" ") or code[:1] == b"0":
        raise MalformedMessage(f"malformed status line {lines[0][:60]!r}")
    resp.status = int(code)
    resp.status_line = rest
    _, te, _ = _parse_fields(lines, resp)
    if te:
        if resp.length >= 0:
            raise MalformedMessage("both Content-Length and Transfer-Encoding")
        codings = _codings(te)
        if codings and codings[-1] == b"chunked":
            resp.chunked = True
        else:
            resp.close = True
    tokens = resp.connection
    resp.keep_alive = b"close" not in tokens if resp.version == 11 else b"keep-alive" in tokens
    return resp
