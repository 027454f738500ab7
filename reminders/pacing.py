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

import redis
from django.conf import settings

from .redis_client import get_redis

# KEYS[1]: the bucket. ARGV[1]: tokens per second. ARGV[2]: capacity (the burst). ARGV[3]: the
# tokens this call takes (a text's segments): more than the capacity only deepens the debt.
# Returns the seconds to wait before the reserved tokens may be used, as a string
# (a Lua number would be truncated to an integer on the way out).
_RESERVE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
local before = math.min(capacity, tokens + math.max(0, now - at) * rate)
tokens = before - tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
-- A call may go once one token is there; what it takes beyond that is the next caller's wait.
if before >= 1 then
  return '0'
end
return tostring((1 - before) / rate)
"""

KEY_PREFIX = "pacing:"


@cache
def _script(url: str):
    return get_redis(url).register_script(_RESERVE)


def token_reserve(*, key: str, rate: float, capacity: float = 1.0, cost: float = 1.0,
                  redis_url: str | None = None) -> float:
    """Take ``cost`` tokens from the bucket ``key``; returns the seconds to wait before using them (0: now)."""
    url = redis_url or settings.REDIS_URL
    return float(_script(url)(keys=[KEY_PREFIX + key], args=[rate, capacity, cost]))


def token_acquire(
    *, key: str, rate: float, capacity: float = 1.0, cost: float = 1.0, redis_url: str | None = None,
    sleep: Callable[[float], None] | None = None,
) -> float:
    """Wait for ``cost`` tokens from the bucket ``key``; returns how long it waited. Raises redis.RedisError."""
    wait = token_reserve(key=key, rate=rate, capacity=capacity, cost=cost, redis_url=redis_url)
    if wait > 0:
        (sleep or time.sleep)(wait)
    return wait


def sms_slot_wait(*, sender: str, segments: int = 1, rate: float | None = None) -> float:
    """Wait for ``sender``'s next send slot under ``SMS_RATE_PER_SECOND`` (0: no limit, no wait).

    The rate is in segments, as providers count a sender's throughput: a text of
    two segments takes two tokens, so a sender allowed one segment a second sends
    it and waits two seconds. The bucket holds one token, so sends are spaced
    rather than let through in bursts. ``rate``: the sender's own (None: the
    service's, ``SMS_RATE_PER_SECOND``). Raises redis.RedisError when Redis cannot be asked.
    """
    rate = settings.SMS_RATE_PER_SECOND if rate is None else rate
    if rate <= 0:
        return 0.0
    return token_acquire(key=f"sms:{sender}", rate=rate, cost=max(segments, 1))


# How long a sender pauses when the provider says its queue is full or asks us to slow down.
QUEUE_FULL_PAUSE_SECONDS = 5.0


def sms_sender_slow_down(*, sender: str, rate: float | None = None, seconds: float = QUEUE_FULL_PAUSE_SECONDS) -> None:
    """Put ``sender``'s bucket ``seconds`` into debt, so every worker's next text for it waits.

    Best effort: a Redis error here changes nothing (the refusal is retried anyway).
    """
    rate = settings.SMS_RATE_PER_SECOND if rate is None else rate
    if rate <= 0:
        return
    try:
        token_reserve(key=f"sms:{sender}", rate=rate, cost=rate * seconds)
    except redis.RedisError:  # the limiter being down must not turn a refusal into a crash
        return
