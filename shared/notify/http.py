"""The notifier's HTTP client: aiohttp, whose C parser and connection pool sustain thousands of
signed deliveries per second per process (httpx managed about 500 on this machine; see
bench/notifier.py). Redirects are never followed: one could lead a webhook past the SSRF guard.

Every connection goes to an address the SSRF guard checked, once: the connector resolves through
`GuardedResolver`, which looks the host up, refuses the whole answer if any address in it is not
global, and hands aiohttp only those checked addresses. aiohttp connects to them as given and
keeps the URL's hostname for TLS (SNI, certificate check) and the Host header
(`TCPConnector._create_direct_connection`: `server_hostname = req.server_hostname or host`); its
DNS cache holds only what this resolver returned. A literal IP never reaches a resolver, so
`post` checks it first."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from shared.notify.ssrf import check_address, check_literal

USER_AGENT = "Closeloop-Notifier/0.2"
TransportError = (aiohttp.ClientError,)


class GuardedResolver(AbstractResolver):
    """Resolves through `inner` (aiohttp's threaded getaddrinfo by default) and returns only
    addresses the SSRF guard allows; one refused address refuses the host (UnsafeUrl)."""

    def __init__(self, *, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self.allow_private = allow_private
        self.inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self.inner.resolve(host, port, family=family)
        for answer in answers:
            check_address(host, answer["host"], allow_private=self.allow_private)
        return answers

    async def close(self) -> None:
        await self.inner.close()


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = ""


class Sender:
    def __init__(self, *, max_connections: int = 100, resolver: AbstractResolver | None = None) -> None:
        self.max_connections = max_connections
        self._inner_resolver = resolver  # tests inject a DNS that changes its answers
        # One pool per guard setting: a connection or cached answer allowed for a private target
        # must never serve a send that is not allowed one.
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    def _open(self, allow_private: bool) -> aiohttp.ClientSession:
        if allow_private not in self._sessions:
            resolver = GuardedResolver(allow_private=allow_private, inner=self._inner_resolver)
            self._sessions[allow_private] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=60, resolver=resolver),
                headers={"User-Agent": USER_AGENT},
                auto_decompress=True,
            )
        return self._sessions[allow_private]

    async def post(self, url: str, body: bytes, headers: dict[str, str], *, allow_private: bool = False) -> Reply:
        """POST to an address the SSRF guard allowed and read the whole answer (callers bound the
        time with asyncio.timeout). Raises UnsafeUrl for a refused target."""
        check_literal(url, allow_private=allow_private)
        async with self._open(allow_private).post(url, data=body, headers=headers, allow_redirects=False) as response:
            return Reply(response.status, await response.read(), response.headers.get("Content-Type", ""))

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
