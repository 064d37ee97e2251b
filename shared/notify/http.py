"""The notifier's HTTP client: aiohttp, whose C parser and connection pool sustain thousands of
signed deliveries per second per process (httpx managed about 500 on this machine; see
bench/notifier.py). Redirects are never followed: one could lead a webhook past the SSRF guard."""

from __future__ import annotations

from types import TracebackType

import aiohttp

USER_AGENT = "Closeloop-Notifier/0.2"
TransportError = (aiohttp.ClientError,)


class Sender:
    def __init__(self, *, max_connections: int = 100) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=60),
                headers={"User-Agent": USER_AGENT},
                auto_decompress=True,
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST and read the whole answer (callers bound the time with asyncio.timeout)."""
        async with self._open().post(url, data=body, headers=headers, allow_redirects=False) as response:
            return response.status, await response.read()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
