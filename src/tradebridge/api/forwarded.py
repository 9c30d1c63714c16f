"""The client address behind trusted reverse proxies (`[server] trusted_proxies`).

A request's client is the peer of its TCP connection, unless that peer is one of the trusted
proxies: then the hops the proxies recorded (`Forwarded: for=...`, RFC 7239, else
`X-Forwarded-For`) are read from the nearest backwards, trusted proxies skipped, and the first
address that is not one is the client (the scheme follows `proto=` / `X-Forwarded-Proto` of
the nearest proxy). From any other peer these headers are ignored: a client cannot choose the
address its login throttle, rate limits and audit rows are counted under.

This replaces uvicorn's proxy-headers middleware, which trusts 127.0.0.1 (or
`$FORWARDED_ALLOW_IPS`) by default and knows only `X-Forwarded-*`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send


class TrustedProxies:
    """ASGI middleware: `scope["client"]` (and `scheme`) as forwarded by trusted proxies."""

    def __init__(self, app: ASGIApp, proxies: Sequence[str]) -> None:
        self.app = app
        self._networks = [ipaddress.ip_network(p, strict=False) for p in proxies]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if (
            self._networks
            and scope["type"] in ("http", "websocket")
            and client
            and self._trusted(client[0])
        ):
            hops, proto = _forwarded(scope["headers"])
            if hops:
                scope["client"] = (self._client(client[0], hops), 0)
            if proto in ("http", "https"):
                secure = proto == "https"
                if scope["type"] == "websocket":
                    scope["scheme"] = "wss" if secure else "ws"
                else:
                    scope["scheme"] = proto
        await self.app(scope, receive, send)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def _client(self, peer: str, hops: list[str]) -> str:
        """The first hop from the nearest that is not a trusted proxy; the farthest one if
        all are. A hop that is not an address (`unknown`, an obfuscated name) ends the walk at
        the proxy that recorded it."""
        nearest = peer
        for hop in reversed(hops):
            if not _is_address(hop):
                return nearest
            if not self._trusted(hop):
                return hop
            nearest = hop
        return nearest


def _forwarded(headers: Iterable[tuple[bytes, bytes]]) -> tuple[list[str], str | None]:
    """The hops (farthest first) and the nearest proxy's protocol: from `Forwarded` if
    present, else from `X-Forwarded-For` / `X-Forwarded-Proto`."""
    forwarded: list[str] = []
    x_for: list[str] = []
    x_proto: list[str] = []
    for name, value in headers:
        if name == b"forwarded":
            forwarded.append(value.decode("latin-1"))
        elif name == b"x-forwarded-for":
            x_for.append(value.decode("latin-1"))
        elif name == b"x-forwarded-proto":
            x_proto.append(value.decode("latin-1"))
    if forwarded:
        hops: list[str] = []
        proto = None
        for element in ",".join(forwarded).split(","):
            params = _parameters(element)
            hops.append(_node_address(params.get("for", "unknown")))
            proto = params.get("proto", "").lower() or None
        return hops, proto
    hops = [hop.strip() for hop in ",".join(x_for).split(",") if hop.strip()]
    protos = [p.strip().lower() for p in ",".join(x_proto).split(",") if p.strip()]
    return hops, protos[-1] if protos else None


def _parameters(element: str) -> dict[str, str]:
    """`for=1.2.3.4;proto=https` as a dict (keys lower-cased, quotes removed)."""
    params = {}
    for pair in element.split(";"):
        key, sep, value = pair.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return params


def _node_address(node: str) -> str:
    """The address of an RFC 7239 node: `192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::1]:80`."""
    if node.startswith("["):
        return node[1:].partition("]")[0]
    host, sep, port = node.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host
    return node


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
