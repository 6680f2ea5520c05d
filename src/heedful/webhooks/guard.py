"""SSRF guard: where a webhook may be delivered.

The target host is resolved before every delivery and each address checked; the POST then goes
to the address that was checked (the connection is pinned to it, with the original Host header
and TLS server name), so a DNS answer that changes between check and connect cannot redirect it.

Production refuses loopback, private, link-local (cloud metadata lives there), shared, reserved,
multicast and unspecified addresses: anything not globally routable. Development mode also
allows loopback. `HEEDFUL_WEBHOOK_ALLOW_HOSTS` lists host names, addresses or networks
(`hooks.internal,10.0.0.0/8`) that are allowed whatever they resolve to.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(Exception):
    """The webhook URL points somewhere deliveries may not go."""


@dataclass(frozen=True)
class Target:
    """Where to connect: `url` has the checked address as its host."""

    url: str
    host_header: str
    server_name: str | None  # for TLS: the original host name


@dataclass(frozen=True)
class TargetPolicy:
    development: bool
    allow_hosts: tuple[str, ...] = ()
    _names: frozenset[str] = field(init=False)
    _networks: tuple[IPNetwork, ...] = field(init=False)

    def __post_init__(self) -> None:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in self.allow_hosts:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                names.add(entry.strip().lower().rstrip("."))
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_networks", tuple(networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why `address` is refused, or None when deliveries may go there."""
        if any(address in network for network in self._networks):
            return None
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            return self.refusal(mapped)
        # IPv6 forms Python still calls global: 6to4 carries an IPv4 address that a host with
        # a 6to4 route sends to; site-local is deprecated but still routed inside networks.
        embedded = getattr(address, "sixtofour", None)
        if embedded is not None:
            return self.refusal(embedded)
        if getattr(address, "is_site_local", False):
            return "a site-local address"
        if address.is_loopback:
            return None if self.development else "a loopback address"
        if address.is_link_local:
            return "a link-local address (cloud metadata)"
        if address.is_private:
            return "a private address"
        if address.is_multicast or address.is_unspecified or address.is_reserved:
            return "a reserved address"
        if not address.is_global:
            return "an address that is not publicly routable"
        return None

    def literal_refusal(self, host: str) -> str | None:
        """Why a URL whose host is an address literal is refused, or None (a name is only
        checked on delivery, once resolved)."""
        if host.lower().rstrip(".") in self._names:
            return None
        address = literal_address(host)
        return None if address is None else self.refusal(address)

    async def resolve(self, url: str) -> Target:
        """Check `url`'s host and pin the connection to an allowed address of it."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host:
            raise TargetRefused("the URL has no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = await _addresses(host, port)
        if not addresses:
            raise TargetRefused(f"{host} did not resolve")
        if host.rstrip(".") in self._names:
            allowed = addresses
        else:
            allowed = []
            for address in addresses:
                reason = self.refusal(address)
                if reason is not None:
                    raise TargetRefused(
                        f"{host} resolves to {address}, {reason}; deliveries there are refused "
                        f"(allow it with HEEDFUL_WEBHOOK_ALLOW_HOSTS)"
                    )
                allowed.append(address)
        # IPv4 first: local receivers usually listen on 127.0.0.1 only.
        chosen = sorted(allowed, key=lambda a: a.version)[0]
        return Target(
            url=_with_host(parts, chosen),
            host_header=parts.netloc.rpartition("@")[2],
            server_name=host if parts.scheme == "https" else None,
        )


def literal_address(host: str) -> IPAddress | None:
    """`host` read as an address the way the system resolver reads it, the legacy IPv4
    spellings included (`2130706433`, `0x7f000001`, `127.1` are all 127.0.0.1); None for a
    host name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError):
        return None


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await _getaddrinfo(host, port)
    except OSError as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc}") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def _getaddrinfo(host: str, port: int) -> list[Any]:
    """The system resolver on a thread of its own. Not `loop.getaddrinfo`: that takes a thread
    of the loop's small default pool, which the dispatcher's database work shares, and a
    lookup cannot be cancelled; a few names on a name server that never answers then held
    every thread past their deliveries' timeouts, stalling every other delivery (and ending
    `asyncio.run` only once they ended). An abandoned lookup here ends with the resolver's
    own timeout and just drops its answer."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[list[Any]] = loop.create_future()

    def settle(result: list[Any] | None, error: BaseException | None) -> None:
        if answer.done():  # the delivery timed out meanwhile
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result or [])

    def lookup() -> None:
        try:
            found: list[Any] | None = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            failure: BaseException | None = None
        except Exception as exc:  # handed to the awaiting delivery
            found, failure = None, exc
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(settle, found, failure)

    threading.Thread(target=lookup, name="heedful-webhook-dns", daemon=True).start()
    return await answer


def _with_host(parts: SplitResult, address: IPAddress) -> str:
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
