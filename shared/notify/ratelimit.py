"""Per-bot rate limits shared by every notifier replica, kept in Redis.

A sliding log per bot and window (a sorted set of send times), checked and updated by one Lua
script with Redis's own clock, so replicas on different machines agree and two of them can never
both take the last slot. Each window is kept a little longer than the vendor's (a margin) so
that network jitter between our grant and the vendor's arrival stamp cannot push a burst over.
A vendor that says "throttled" (DingTalk 130101) blocks the bot for everyone until it ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis


@dataclass(frozen=True)
class Window:
    limit: int
    per_s: float


VENDOR_LIMITS: dict[str, tuple[Window, ...]] = {
    "feishu": (Window(5, 1.0), Window(100, 60.0)),
    "dingtalk": (Window(20, 60.0),),
    "wecom": (Window(20, 60.0),),
    "webhook": (),
    # The app API allows 5 messages a second to one group, shared by every bot in it.
    "feishu_app": (Window(5, 1.0), Window(100, 60.0)),
}
UNLIMITED = 1_000_000_000


def limits_for(kind: str, override: Sequence[dict[str, Any]] | None, *, scale: float = 1.0) -> tuple[Window, ...]:
    """The channel's own limits if it has any, else its vendor's; `scale` shortens every window
    (tests run a 60 s window in a few seconds, as botsim's `window_scale` does)."""
    raw = [Window(int(w["limit"]), float(w["per_s"])) for w in override] if override else VENDOR_LIMITS.get(kind, ())
    return tuple(Window(w.limit, w.per_s * scale) for w in raw)


_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local record = tonumber(ARGV[2])
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0') * 1000
if blocked > now then return {-1, blocked - now} end
local cap = 1000000000
local wait = 0
local windows = (#ARGV - 2) / 2
for i = 1, windows do
  local limit = tonumber(ARGV[1 + i * 2])
  local per = tonumber(ARGV[2 + i * 2])
  local key = KEYS[2 + i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per - 1)
  local count = redis.call('ZCARD', key)
  if limit - count < cap then cap = limit - count end
  if n > limit then return {-2, 0} end
  if count + n > limit then
    local e = redis.call('ZRANGE', key, count + n - limit - 1, count + n - limit - 1, 'WITHSCORES')
    local w = tonumber(e[2]) + per - now + 1
    if w > wait then wait = w end
  end
end
if record == 0 then return {cap, wait} end
if wait > 0 then return {0, wait} end
for i = 1, windows do
  local per = tonumber(ARGV[2 + i * 2])
  local key = KEYS[2 + i]
  for j = 1, n do
    local seq = redis.call('INCR', KEYS[2])
    redis.call('ZADD', key, now, now .. '-' .. seq)
  end
  redis.call('PEXPIRE', key, math.floor(per / 1000) + 1000)
end
redis.call('PEXPIRE', KEYS[2], 86400000)
return {1, now}
"""


# Extend a block (never shorten it), atomically: the value is the end, in ms of Redis time.
_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < until_ms then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]))
end
return 1
"""


class RateLimiter:
    def __init__(self, redis: Redis, *, prefix: str = "closeloop:rl", margin_s: float = 2.0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.margin_s = margin_s
        self._script = redis.register_script(_SCRIPT)
        self._block = redis.register_script(_BLOCK)
        self.last_grant_us: int | None = None  # Redis time of the last grant (for logs and tests)

    def _keys(self, key: str, windows: Sequence[Window]) -> list[str]:
        base = f"{self.prefix}:{key}"
        return [f"{base}:blocked", f"{base}:seq", *(f"{base}:w{w.limit}/{w.per_s:g}" for w in windows)]

    def _args(self, windows: Sequence[Window], n: int, record: bool) -> list[Any]:
        args: list[Any] = [n, 1 if record else 0]
        for w in windows:
            # The margin: at most a tenth of the window, so a 1 s window is not doubled.
            margin = min(self.margin_s, w.per_s / 10)
            args += [w.limit, int((w.per_s + margin) * 1_000_000)]  # microseconds
        return args

    async def acquire(self, key: str, windows: Sequence[Window], n: int = 1) -> float:
        """Take `n` sends now if every window has room (0.0), else take nothing and return how
        many seconds until they would fit."""
        if not windows:
            return 0.0
        status, us = await self._script(keys=self._keys(key, windows), args=self._args(windows, n, True))
        if int(status) == -2:
            raise ValueError(f"{n} sends can never fit these windows")
        if int(status) == 1:
            self.last_grant_us = int(us)
            return 0.0
        return max(int(us), 1) / 1_000_000

    async def peek(self, key: str, windows: Sequence[Window]) -> tuple[int, float]:
        """(sends that would be granted now, seconds until one would be if none), recording nothing."""
        if not windows:
            return UNLIMITED, 0.0
        status, us = await self._script(keys=self._keys(key, windows), args=self._args(windows, 1, False))
        if int(status) == -1:  # blocked
            return 0, max(int(us), 1) / 1_000_000
        return max(0, int(status)), max(int(us), 0) / 1_000_000

    async def capacity(self, key: str, windows: Sequence[Window]) -> int:
        """How many sends would be granted right now (0 while blocked), recording nothing."""
        if not windows:
            return UNLIMITED
        status, _ = await self._script(keys=self._keys(key, windows), args=self._args(windows, 1, False))
        return max(0, int(status))

    async def block(self, key: str, seconds: float) -> None:
        """Nobody sends to this bot for `seconds` (the vendor throttled it); a longer block that
        is already in place stays."""
        if seconds > 0:
            await self._block(keys=[f"{self.prefix}:{key}:blocked"], args=[max(1, int(seconds * 1000))])

    async def blocked_for(self, key: str) -> float:
        raw = await self.redis.get(f"{self.prefix}:{key}:blocked")
        if raw is None:
            return 0.0
        now_s, now_us = await self.redis.time()
        return max(0.0, (int(raw) - (now_s * 1000 + now_us // 1000)) / 1000)
