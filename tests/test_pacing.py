"""Pacing: one token bucket per sender in real Redis, shared by every worker."""

import threading
import uuid

import pytest
import redis

from reminders import pacing
from reminders.backends.sms import SmsSendError, get_sms_backend


@pytest.fixture
def bucket_key():
    return f"test-{uuid.uuid4().hex}"


def test_tokens_are_handed_out_one_per_period_in_the_order_asked(redis_url, bucket_key):
    # One token a second, a bucket of one: the first is free, each next one a second later.
    waits = [pacing.token_reserve(key=bucket_key, rate=1, redis_url=redis_url) for _ in range(4)]
    assert waits[0] == 0
    assert [round(w) for w in waits] == [0, 1, 2, 3]


def test_a_bigger_bucket_lets_a_burst_through_then_paces(redis_url, bucket_key):
    waits = [pacing.token_reserve(key=bucket_key, rate=1, capacity=3, redis_url=redis_url) for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert [round(w) for w in waits[3:]] == [1, 2]


def test_concurrent_callers_each_get_their_own_slot(redis_url, bucket_key):
    waits, lock = [], threading.Lock()

    def reserve():
        wait = pacing.token_reserve(key=bucket_key, rate=1, redis_url=redis_url)
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=reserve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The script runs atomically: twenty distinct slots a second apart, none shared.
    assert sorted(round(w) for w in waits) == list(range(20))


def test_buckets_are_per_key(redis_url, bucket_key):
    assert pacing.token_reserve(key=bucket_key, rate=1, redis_url=redis_url) == 0
    assert pacing.token_reserve(key=bucket_key + "-other", rate=1, redis_url=redis_url) == 0


def test_the_bucket_expires_once_full_again(redis_url, bucket_key):
    pacing.token_reserve(key=bucket_key, rate=1, redis_url=redis_url)
    ttl = redis.Redis.from_url(redis_url).pttl(pacing.KEY_PREFIX + bucket_key)
    assert 0 < ttl <= 2000


def test_acquire_sleeps_for_its_reservation(redis_url, bucket_key):
    slept = []
    pacing.token_acquire(key=bucket_key, rate=1, redis_url=redis_url, sleep=slept.append)
    pacing.token_acquire(key=bucket_key, rate=1, redis_url=redis_url, sleep=slept.append)
    assert [round(s) for s in slept] == [1]


def test_no_rate_means_no_wait_and_no_redis(settings):
    settings.SMS_RATE_PER_SECOND = 0
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert pacing.sms_slot_wait(sender="+12025550199") == 0


def test_the_twilio_backend_waits_for_the_senders_slot(fake_twilio, settings, redis_url, monkeypatch):
    settings.REDIS_URL = redis_url
    settings.SMS_RATE_PER_SECOND = 20
    settings.TWILIO_FROM_NUMBER = f"+1202555{uuid.uuid4().int % 10000:04d}"
    waits = []
    acquire = pacing.token_acquire
    monkeypatch.setattr(pacing, "token_acquire", lambda **kw: waits.append(acquire(**kw)) or waits[-1])

    for index in range(3):
        get_sms_backend().send(to="+12025550101", body=f"text {index}", message_id=index)

    assert waits[0] == 0 and all(w > 0 for w in waits[1:])
    assert fake_twilio.fake.stats()["accepted"] == 3
    assert redis.Redis.from_url(redis_url).exists(f"{pacing.KEY_PREFIX}sms:{settings.TWILIO_FROM_NUMBER}")


def test_an_unreachable_limiter_sends_nothing_and_is_retryable(fake_twilio, settings):
    settings.SMS_RATE_PER_SECOND = 10
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with pytest.raises(SmsSendError) as caught:
        get_sms_backend().send(to="+12025550101", body="x", message_id=1)
    assert (caught.value.code, caught.value.retryable) == ("pacing", True)
    assert fake_twilio.fake.stats()["creates"] == 0
