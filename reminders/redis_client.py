"""The one Redis (REDIS_URL, also Celery's broker) for the service's own small notes:
beat's heartbeat and which operations alerts are open."""

from functools import lru_cache

import redis
from django.conf import settings

# Keys, all under one prefix.
BEAT_HEARTBEAT_KEY = "reminders:beat:last_dispatch"
OPS_ALERT_KEY_PREFIX = "reminders:ops:alert:"


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # Short timeouts: a health check or a send must answer even when Redis does not.
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def get_redis(url: str | None = None) -> redis.Redis:
    """The client for ``url`` (default REDIS_URL), one per URL, kept."""
    return _client(url or settings.REDIS_URL)
