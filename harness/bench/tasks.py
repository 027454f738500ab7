"""The broker baseline's task: it does nothing but count itself.

Only benchmark workers load it (``celery worker --include harness.bench.tasks``).
"""

import time
from functools import cache

import redis
from celery import shared_task
from django.conf import settings

NOOP_KEY = "bench:noop"


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@shared_task(ignore_result=True)
def noop() -> None:
    now = time.time()
    pipe = _redis().pipeline(transaction=False)
    pipe.incr(NOOP_KEY)
    pipe.setnx(f"{NOOP_KEY}:first", now)
    pipe.set(f"{NOOP_KEY}:last", now)
    pipe.execute()
