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
    # One token every five seconds, a bucket of one: the first is free, each next one five seconds later.
    waits = [pacing.token_reserve(key=bucket_key, rate=0.2, redis_url=redis_url) for _ in range(4)]
    assert waits[0] == 0
    assert [round(w / 5) for w in waits] == [0, 1, 2, 3]


def test_a_bigger_bucket_lets_a_burst_through_then_paces(redis_url, bucket_key):
    waits = [pacing.token_reserve(key=bucket_key, rate=0.2, capacity=3, redis_url=redis_url) for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert [round(w / 5) for w in waits[3:]] == [1, 2]


def test_concurrent_callers_each_get_their_own_slot(redis_url, bucket_key):
    waits, lock = [], threading.Lock()

    def reserve():
        # One token every five seconds: slots far apart, whenever each thread gets to ask.
        wait = pacing.token_reserve(key=bucket_key, rate=0.2, redis_url=redis_url)
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=reserve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The script runs atomically: twenty distinct slots, none shared.
    assert sorted(round(w / 5) for w in waits) == list(range(20))


def test_buckets_are_per_key(redis_url, bucket_key):
    assert pacing.token_reserve(key=bucket_key, rate=1, redis_url=redis_url) == 0
    assert pacing.token_reserve(key=bucket_key + "-other", rate=1, redis_url=redis_url) == 0


def test_the_bucket_expires_once_full_again(redis_url, bucket_key):
    pacing.token_reserve(key=bucket_key, rate=1, redis_url=redis_url)
    ttl = redis.Redis.from_url(redis_url).pttl(pacing.KEY_PREFIX + bucket_key)
    assert 0 < ttl <= 2000  # a second to fill again, and one more


def test_acquire_sleeps_for_its_reservation(redis_url, bucket_key):
    slept = []
    pacing.token_acquire(key=bucket_key, rate=0.2, redis_url=redis_url, sleep=slept.append)
    pacing.token_acquire(key=bucket_key, rate=0.2, redis_url=redis_url, sleep=slept.append)
    assert [round(s / 5) for s in slept] == [1]


def test_no_rate_means_no_wait_and_no_redis(settings):
    settings.SMS_RATE_PER_SECOND = 0
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert pacing.sms_slot_wait(sender="+12025550199") == 0


def test_the_twilio_backend_waits_for_the_senders_slot(fake_twilio, settings, redis_url, monkeypatch):
    settings.REDIS_URL = redis_url
    settings.SMS_RATE_PER_SECOND = 2
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


def test_a_text_of_two_segments_takes_two_tokens(redis_url, bucket_key):
    # The bucket holds one token: a two-segment text goes at once, and the next text waits two seconds.
    assert pacing.token_reserve(key=bucket_key, rate=1, cost=2, redis_url=redis_url) == 0
    assert round(pacing.token_reserve(key=bucket_key, rate=1, redis_url=redis_url)) == 2
    assert round(pacing.token_reserve(key=bucket_key, rate=1, redis_url=redis_url)) == 3


def test_the_twilio_backend_paces_in_segments(fake_twilio, settings, redis_url, monkeypatch):
    settings.REDIS_URL = redis_url
    settings.SMS_RATE_PER_SECOND = 10
    settings.TWILIO_FROM_NUMBER = f"+1202555{uuid.uuid4().int % 10000:04d}"
    costs = []
    reserve = pacing.token_reserve
    monkeypatch.setattr(pacing, "token_reserve", lambda **kw: costs.append(kw["cost"]) or reserve(**kw))

    backend = get_sms_backend()
    backend.send(to="+12025550101", body="Short text.", message_id=1)
    backend.send(to="+12025550101", body="Long text. " * 20, message_id=2)  # 220 GSM-7 characters: 2 segments
    backend.send(to="+12025550101", body="Dr. Núñez " * 10, message_id=3)  # UCS-2, 100 characters: 2 segments

    assert costs == [1, 2, 2]


def test_a_full_queue_at_the_provider_pauses_the_sender_for_every_worker(fake_twilio, settings, redis_url):
    settings.REDIS_URL = redis_url
    settings.SMS_RATE_PER_SECOND = 2
    settings.TWILIO_FROM_NUMBER = f"+1202555{uuid.uuid4().int % 10000:04d}"
    fake_twilio.fake.config.rules["+12025550177"] = "21611"
    with pytest.raises(SmsSendError) as caught:
        get_sms_backend().send(to="+12025550177", body="x", message_id=1)
    assert (caught.value.code, caught.value.retryable) == ("21611", True)
    # The next text for that sender, to anyone, waits out the pause (5 s) on top of its own slot.
    wait = pacing.token_reserve(key=f"sms:{settings.TWILIO_FROM_NUMBER}", rate=2, redis_url=redis_url)
    assert 5 <= wait <= 6
