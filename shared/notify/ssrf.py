"""SSRF guard: outgoing webhooks may not reach private, loopback or link-local addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeUrl(ValueError):
    pass


class HostUnresolved(UnsafeUrl):
    """DNS said nothing (yet): refused when a channel is saved, retried when a message is sent."""


def _is_public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    return not (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


def check_url_shape(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl("must be an absolute https:// URL")
    if parts.scheme != "https" and not allow_private:
        raise UnsafeUrl("must use https")
    if parts.username or parts.password:
        raise UnsafeUrl("must not carry credentials")


async def check_url_target(url: str, *, allow_private: bool) -> None:
    """Resolve the host and refuse private targets (done on create and again before each send)."""
    check_url_shape(url, allow_private=allow_private)
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostUnresolved(f"host {host!r} does not resolve") from exc
    for info in infos:
        if not _is_public(str(info[4][0])):
            raise UnsafeUrl(f"host {host!r} resolves to a private or loopback address")
