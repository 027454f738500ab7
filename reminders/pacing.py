"""
Pacing: a send rate per sender shared by every worker, as a token bucket in Redis.

The bucket lives in one Redis hash per key and is only ever changed by one Lua
script, so workers on any number of machines draw from it atomically, on
Redis's clock. A caller that finds the bucket empty reserves the next token
(the bucket goes into debt) and is told how long to wait for it; each caller
holds at most one reservation at a time, so a wait is at most about
(concurrent senders / rate) seconds, and tokens are handed out evenly, one
every 1/rate seconds, in the order they were asked for.
"""

import time
from collections.abc import Callable
from functools import cache

from django.conf import settings

from .redis_client import get_redis

# KEYS[1]: the bucket. ARGV[1]: tokens per second. ARGV[2]: capacity (the burst).
# Returns the seconds to wait before the reserved token may be used, as a string
# (a Lua number would be truncated to an integer on the way out).
_RESERVE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
if tokens >= 0 then
  return '0'
end
return tostring(-tokens / rate)
"""

KEY_PREFIX = "pacing:"


@cache
def _script(url: str):
    return get_redis(url).register_script(_RESERVE)


def token_reserve(*, key: str, rate: float, capacity: float = 1.0, redis_url: str | None = None) -> float:
    """Take a token from the bucket ``key``; returns the seconds to wait before using it (0: now)."""
    url = redis_url or settings.REDIS_URL
    return float(_script(url)(keys=[KEY_PREFIX + key], args=[rate, capacity]))


def token_acquire(
    *, key: str, rate: float, capacity: float = 1.0, redis_url: str | None = None,
    sleep: Callable[[float], None] | None = None,
) -> float:
    """Wait for a token from the bucket ``key``; returns how long it waited. Raises redis.RedisError."""
    wait = token_reserve(key=key, rate=rate, capacity=capacity, redis_url=redis_url)
    if wait > 0:
        (sleep or time.sleep)(wait)
    return wait


def sms_slot_wait(*, sender: str) -> float:
    """Wait for ``sender``'s next send slot under ``SMS_RATE_PER_SECOND`` (0: no limit, no wait).

    The bucket holds one token, so sends are spaced 1/rate seconds apart rather
    than let through in bursts. Raises redis.RedisError when Redis cannot be asked.
    """
    rate = settings.SMS_RATE_PER_SECOND
    if rate <= 0:
        return 0.0
    return token_acquire(key=f"sms:{sender}", rate=rate)
