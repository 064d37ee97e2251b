"""SSRF guard: outgoing webhooks reach only global internet addresses, and the address checked is
the address connected to.

A check that resolves the host and then lets the HTTP client resolve it again can be beaten by DNS
rebinding (a public answer for the check, a private one for the connect). So the notifier's HTTP
client resolves through `GuardedResolver` (shared/notify/http.py): one lookup, every answer
checked here, and only checked addresses handed to aiohttp's connector, which connects to them as
given (TLS SNI and the Host header still carry the hostname). A literal IP in the URL never reaches
a resolver: `check_literal` checks it before the request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlsplit

# `is_global` already says no to private, loopback, link-local and 100.64.0.0/10 (shared address
# space: Alibaba Cloud's metadata service answers on 100.100.100.200). The IPv6 forms below carry
# an IPv4 address inside, which `ipaddress` (3.11) calls global, or tunnel to one.
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the low 32 bits are an IPv4 address
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use prefix (RFC 8215): site-specific


class UnsafeUrl(ValueError):
    pass


class HostUnresolved(UnsafeUrl):
    """DNS said nothing (yet): refused when a channel is saved, retried when a message is sent."""


def refusal(ip: str | IPv4Address | IPv6Address) -> str | None:
    """Why an outgoing webhook may not connect to this address; None for a global unicast address."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, IPv6Address):
        if addr.ipv4_mapped is not None:
            return f"an IPv4-mapped IPv6 address (of {addr.ipv4_mapped})"
        if addr in TEREDO:
            return "a Teredo tunnel address (2001::/32)"
        if addr.sixtofour is not None:
            return f"a 6to4 address (2002::/16, embedding {addr.sixtofour})"
        if addr in NAT64_LOCAL:
            return "a local-use NAT64 address (64:ff9b:1::/48)"
        if addr in NAT64:
            # An IPv6-only network reaches IPv4 vendors through NAT64: allowed if what it embeds is.
            embedded = IPv4Address(int(addr) & 0xFFFFFFFF)
            reason = refusal(embedded)
            return f"a NAT64 address embedding {embedded}, {reason}" if reason else None
    if addr.is_unspecified:
        return "the unspecified address"
    if addr.is_loopback:
        return "a loopback address"
    if addr in SHARED_ADDRESS_SPACE:
        return "in the shared address space 100.64.0.0/10 (carrier-grade NAT, cloud metadata)"
    if addr.is_link_local:
        return "a link-local address (cloud metadata 169.254.169.254 lives there)"
    if addr.is_multicast:
        return "a multicast address"
    if addr.is_private:
        return "a private address"
    if addr.is_reserved or not addr.is_global:
        return "a reserved, non-global address"
    return None


def literal_ip(host: str) -> IPv4Address | IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url_shape(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl("must be an absolute https:// URL")
    if parts.scheme != "https" and not allow_private:
        raise UnsafeUrl("must use https")
    if parts.username or parts.password:
        raise UnsafeUrl("must not carry credentials")


def check_address(host: str, ip: str, *, allow_private: bool) -> None:
    """Raise UnsafeUrl unless `ip` (an answer for `host`) may be connected to."""
    if allow_private:
        return
    reason = refusal(ip)
    if reason is not None:
        shown = ip if host == ip else f"{ip} (from {host!r})"
        raise UnsafeUrl(f"{shown} is {reason}")


def check_literal(url: str, *, allow_private: bool) -> None:
    """The URL's shape, and its host if it is an IP literal (no resolver ever sees those)."""
    check_url_shape(url, allow_private=allow_private)
    host = urlsplit(url).hostname or ""
    ip = literal_ip(host)
    if ip is not None:
        check_address(str(ip), str(ip), allow_private=allow_private)


async def check_url_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL whose host is or resolves to a non-global address: said at once when a channel
    is saved. Sending does not rely on this answer: it pins what it checks (GuardedResolver)."""
    check_literal(url, allow_private=allow_private)
    host = urlsplit(url).hostname or ""
    if allow_private or literal_ip(host) is not None:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostUnresolved(f"host {host!r} does not resolve") from exc
    for info in infos:
        check_address(host, str(info[4][0]), allow_private=False)
