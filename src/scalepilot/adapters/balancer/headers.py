"""Rewriting heads for the next hop: hop-by-hop headers out, forwarding headers in.

A proxy is two HTTP connections, and the headers that describe *a connection* (RFC 9110
§7.6.1: Connection and the headers it names, Keep-Alive, TE, Upgrade, Proxy-*) belong to
one of them only; passing them on would, say, make a backend keep-alive decision for the
client, or let a client ``Upgrade`` the balancer's pooled connection. Everything else is
forwarded verbatim and in order.

Transfer-Encoding stays: the balancer does not change a body's framing (chunked passes
through chunk for chunk), so the header still describes the bytes that follow. The one
exception is an HTTP/1.0 client, which gets the body decoded and the header dropped.

A client may name headers in Connection to have a proxy strip them; naming the framing
headers or Host that way is ignored, since stripping those would reframe the message.
"""

from __future__ import annotations

from typing import Literal

from scalepilot.adapters.balancer.http1 import RequestHead, ResponseHead

HOP_BY_HOP = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
    )
)
_NEVER_DROPPED = frozenset((b"content-length", b"transfer-encoding", b"host"))
_DECHUNKED = HOP_BY_HOP | {b"transfer-encoding", b"trailer"}
_XFF = b"x-forwarded-for"
_XFP = b"x-forwarded-proto"
_FORWARDED = b"forwarded"
_VIA = {10: b"Via: 1.0 scalepilot", 11: b"Via: 1.1 scalepilot"}
_XFP_LINE = b"X-Forwarded-Proto: http"

ForwardedStyle = Literal["x-forwarded", "forwarded"]


def forwarded_node(client_ip: str) -> bytes:
    """The client address as an RFC 7239 node: IPv6 in brackets and quotes."""
    return f'"[{client_ip}]"'.encode() if ":" in client_ip else client_ip.encode()


def request_head(req: RequestHead, client_ip: bytes, style: ForwardedStyle) -> bytes:
    """The head to send upstream, always as HTTP/1.1 on a persistent connection.

    ``client_ip`` is the address as it goes in X-Forwarded-For (or, for the Forwarded
    style, as an RFC 7239 node from ``forwarded_node``)."""
    out = [req.method + b" " + req.target + b" HTTP/1.1"]
    drop = HOP_BY_HOP | (req.connection - _NEVER_DROPPED) if req.connection else HOP_BY_HOP
    x_style = style == "x-forwarded"
    own = _XFF if x_style else _FORWARDED
    previous: list[bytes] = []
    for lname, line in req.fields:
        if lname in drop:
            continue
        if lname == own:
            value = line[line.index(b":") + 1 :].strip(b" \t")
            if value:
                previous.append(value)
            continue
        if x_style and lname == _XFP:
            continue
        out.append(line)
    if x_style:
        previous.append(client_ip)
        out.append(b"X-Forwarded-For: " + b", ".join(previous))
        out.append(_XFP_LINE)
    else:
        previous.append(b"for=" + client_ip + b";proto=http")
        out.append(b"Forwarded: " + b", ".join(previous))
    out.append(_VIA[req.version])
    out.append(b"\r\n")
    return b"\r\n".join(out)


def response_head(resp: ResponseHead, *, close: bool, announce_keep_alive: bool, dechunk: bool) -> bytes:
    """The head to send to the client.

    ``close`` adds ``Connection: close`` (the balancer closes the client connection after
    this response); ``announce_keep_alive`` adds ``Connection: keep-alive`` (an HTTP/1.0
    client that asked for it); ``dechunk`` drops Transfer-Encoding and Trailer because
    the body is sent decoded."""
    out = [b"HTTP/1.1 " + resp.status_line]
    base = _DECHUNKED if dechunk else HOP_BY_HOP
    drop = base | (resp.connection - _NEVER_DROPPED) if resp.connection else base
    for lname, line in resp.fields:
        if lname not in drop:
            out.append(line)
    out.append(_VIA[resp.version])
    if close:
        out.append(b"Connection: close")
    elif announce_keep_alive:
        out.append(b"Connection: keep-alive")
    out.append(b"\r\n")
    return b"\r\n".join(out)
