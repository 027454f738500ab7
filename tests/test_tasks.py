"""The engine on the real stack: a Celery worker consuming from a real Redis broker."""

import threading
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker

from harness.fakes.twilio import FakeConfig
from project.celery import app
from reminders.models import Message, MessageStatus
from tests.factories import EnrollmentFactory
from tests.moments import DAY0_DUE, ENROLLED_AT
from reminders.redis_client import BEAT_HEARTBEAT_KEY
from reminders.services.delivery import unknown_messages_settle
from reminders.services.claims import leases_recover, messages_claim
from reminders.services.dispatch import messages_send
from reminders.tasks import dispatch_due_messages, send_messages, settle_unknown_messages

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(celery_broker):
    assert app.conf.broker_url == celery_broker
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues:
            conn.default_channel.queue_purge(queue)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING",
                          shutdown_timeout=20) as celery_worker:
            yield celery_worker
    finally:
        app.conf.task_always_eager = True  # as the test settings have it


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def enroll(patient, program):
    """Enrolled on the reference day before the day-0 text (the Twilio fake's tests use it too)."""
    return EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)


def test_beat_dispatch_sends_a_due_message_through_the_worker(worker, patient, program, sms_outbox, clock):
    enrollment = enroll(patient, program)
    message = enrollment.messages.get(step__key="day0")
    with clock.at(DAY0_DUE + timedelta(seconds=2), tick=True):
        # What beat does every few seconds: a task on the broker, run by the worker.
        dispatch_due_messages.delay()
        assert wait_for(lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SENT), (
            Message.objects.values("status", "reason").get(pk=message.pk))
    assert [s.message_id for s in sms_outbox] == [message.pk]
    # Only the due message went; the later ones are still rows in the database.
    assert enrollment.messages.filter(status=MessageStatus.PENDING).count() == 2


def test_a_send_task_delivered_twice_by_the_broker_sends_once(worker, patient, program, sms_outbox, clock):
    from reminders.services.claims import messages_claim

    enrollment = enroll(patient, program)
    message = enrollment.messages.get(step__key="day0")
    marker = enrollment.messages.get(step__key="day1")
    with clock.at(DAY0_DUE + timedelta(seconds=2), tick=True):
        assert messages_claim() == [message.pk]
        send_messages.delay([message.pk])
        send_messages.delay([message.pk])
        # A third claimed message queued behind the two: the solo worker runs tasks
        # in order, so once it is sent both deliveries of the first have run.
        Message.objects.filter(pk=marker.pk).update(status=MessageStatus.QUEUED)
        send_messages.delay([marker.pk])
        assert wait_for(lambda: Message.objects.get(pk=marker.pk).status == MessageStatus.SENT)
    assert [s.message_id for s in sms_outbox] == [message.pk, marker.pk]
    assert Message.objects.get(pk=message.pk).attempts == 1


finished: list[int] = []


@app.task(name="tests.test_tasks.touch_database")
def touch_database() -> None:
    Message.objects.exists()
    finished.append(1)


@pytest.mark.parametrize(("max_age", "made"), [(60, 1), (0, 3)])
def test_the_worker_keeps_its_database_connection_between_tasks_on_djangos_terms(worker, monkeypatch, max_age, made):
    from django.db import connections
    from django.db.backends.signals import connection_created

    # The worker's thread makes its connection from these settings, at its first task.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", max_age)
    created, finished[:] = [], []

    def count(sender, connection, **kwargs):
        created.append(connection.alias)

    connection_created.connect(count)
    try:
        for sent in range(1, 4):
            touch_database.delay()
            assert wait_for(lambda n=sent: len(finished) == n)
        time.sleep(0.2)  # the last task's after-run hook
    finally:
        connection_created.disconnect(count)
    # Kept from task to task while young; past CONN_MAX_AGE, closed after the task, as after a web request.
    assert len(created) == made


# What independent fault testing found (issue 11), on the real stack: a real
# worker on real Redis, and the project's fake Twilio on a loopback port.

def _status(message_id: int) -> str:
    return Message.objects.get(pk=message_id).status


def test_a_server_error_after_the_provider_created_the_text_is_settled_never_sent_twice(
        worker, fake_twilio, patient, program, settings, clock):
    settings.UNKNOWN_SETTLE_AFTER_SECONDS = 0
    settings.SMS_RETRY_BASE_SECONDS = 0  # a blind retry would go out at the very next tick
    # Twilio (or a proxy in front of it) creates the message, then answers 500.
    fake_twilio.fake.configure(FakeConfig(rules={patient.mobile.as_e164: "created:500"}))
    message = enroll(patient, program).messages.get(step__key="day0")
    with clock.at(DAY0_DUE + timedelta(seconds=2), tick=True):
        dispatch_due_messages.delay()
        assert wait_for(lambda: _status(message.pk) not in ("pending", "queued", "sending"))
        dispatch_due_messages.delay()  # beat's next ticks
        dispatch_due_messages.delay()
        settle_unknown_messages.delay()
        assert wait_for(lambda: _status(message.pk) == MessageStatus.SENT), (
            Message.objects.values("status", "reason").get(pk=message.pk))
    [recorded] = fake_twilio.fake.recorded()
    message.refresh_from_db()
    assert (message.provider_message_id, message.attempts) == (recorded["sid"], 1)
    stats = fake_twilio.fake.stats()
    assert (stats["accepted"], stats["duplicates"]) == (1, 0)


def test_emails_of_unknown_outcome_are_settled_by_their_own_rule_and_never_hold_up_the_sms(
        worker, fake_twilio, make_patient, make_program, program, settings, mailoutbox, clock):
    settings.UNKNOWN_SETTLE_AFTER_SECONDS = 0
    settings.SMS_RETRY_BASE_SECONDS = 0
    emails = make_program(slug="emails", steps=[{"key": f"e{i}", "channel": "email", "template": "test/both"}
                                                for i in range(101)])
    email_only = make_patient(first_name="Ana", mobile="", sms_consent=False, email="ana@example.com",
                              email_consent=True)
    both = make_patient(first_name="Bea", mobile="+12025550177", email="bea@example.com", email_consent=True)
    texted = make_patient(first_name="Cy", mobile="+12025550178")
    long_ago = DAY0_DUE - timedelta(hours=1)
    # 101 emails whose hand-over to the mail server was interrupted (the oldest first) ...
    email_ids = list(enroll(email_only, emails).messages.values_list("pk", flat=True))
    email_ids.append(enroll(both, program).messages.get(step__key="day7", channel="email").pk)
    Message.objects.filter(pk__in=email_ids).update(status=MessageStatus.UNKNOWN, updated_at=long_ago,
                                                    body="Email body", subject="Subject")
    # ... and one SMS the provider never got, behind them.
    sms = enroll(texted, program).messages.get(step__key="day0")
    Message.objects.filter(pk=sms.pk).update(status=MessageStatus.UNKNOWN, updated_at=DAY0_DUE, body="Lost text")
    with clock.at(DAY0_DUE + timedelta(seconds=2), tick=True):
        # Beat's settling, twice: a hundred messages at a time, the oldest first.
        settle_unknown_messages.delay()
        settle_unknown_messages.delay()
        assert wait_for(lambda: _status(sms.pk) == MessageStatus.PENDING), (
            Message.objects.values("status", "reason").get(pk=sms.pk))
    assert set(Message.objects.filter(pk__in=email_ids).values_list("status", "error_code")) == {("failed", "unknown")}
    assert "mail server" in Message.objects.get(pk=email_ids[-1]).reason
    assert mailoutbox == []  # never sent again
    # The provider was asked about the SMS alone, never about an email's text.
    assert fake_twilio.fake.stats()["lookups"] == 1


def _close_connection_after(target):
    from django.db import connection

    def run():
        try:
            target()
        finally:
            connection.close()

    return run


def test_a_stale_worker_whose_claim_was_taken_back_overwrites_nothing(
        worker, fake_twilio, patient, program, settings, clock):
    """Worker A's lease runs out mid-send; worker B sends the message again; A's late answer writes nothing."""
    settings.CLAIM_LEASE = timedelta(seconds=1)
    settings.TWILIO_READ_TIMEOUT = 4.0
    settings.UNKNOWN_SETTLE_AFTER_SECONDS = 0
    settings.SMS_RETRY_BASE_SECONDS = 0
    fake = fake_twilio.fake
    number = patient.mobile.as_e164
    # A's answer, a refusal of the number, is slow to come (and a refusal creates nothing).
    fake.configure(FakeConfig(delay=2.5, rules={number: "21211"}))
    message = enroll(patient, program).messages.get(step__key="day0")
    with clock.at(DAY0_DUE + timedelta(seconds=2), tick=True):
        [message_id] = messages_claim()
        stale = threading.Thread(target=_close_connection_after(lambda: messages_send(message_ids=[message_id])))
        stale.start()
        assert wait_for(lambda: fake.stats()["creates"] == 1)
        time.sleep(0.3)  # A's answer is on its way, slowly
        # B's send will be accepted, and its answer held past B's read timeout.
        fake.configure(FakeConfig(rules={number: "timeout"}, hold_seconds=10))
        time.sleep(1.1)
        assert leases_recover() == 1  # A's lease ran out: unknown
        assert unknown_messages_settle() == 1  # the provider has nothing: sent again
        dispatch_due_messages.delay()  # worker B takes it
        assert wait_for(lambda: fake.stats()["creates"] == 2)
        stale.join(timeout=10)
        message.refresh_from_db()
        # A's refusal came while B held the message: B's claim is untouched.
        assert message.status == MessageStatus.SENDING
        assert message.error_code != "21211"
        assert wait_for(lambda: _status(message.pk) == MessageStatus.UNKNOWN)  # B's read timeout
        assert unknown_messages_settle() == 1
    message.refresh_from_db()
    [recorded] = fake.recorded()
    assert (message.status, message.provider_message_id) == (MessageStatus.SENT, recorded["sid"])
    assert not message.enrollment.messages.filter(fallback_for=message).exists()


def test_beats_tick_runs_on_time_behind_a_backlog_of_sends(worker, fake_twilio, clinic, program, settings, clock):
    """With one queue, a tick waited behind the sends until it expired; beat's tasks have a queue of their own."""
    fake_twilio.fake.configure(FakeConfig(delay=0.2))
    EnrollmentFactory.create_batch(30, patient__clinic=clinic, program=program, enrolled_at=ENROLLED_AT)
    redis_client = __import__("redis").Redis.from_url(settings.REDIS_URL)
    with clock.at(DAY0_DUE + timedelta(seconds=2), tick=True):
        ids = messages_claim()
        assert len(ids) == 30
        for message_id in ids:  # about 6 s of sends for the one worker
            send_messages.delay([message_id])
        # The tick as beat publishes it, with the schedule's options (it expires after one interval).
        entry = settings.CELERY_BEAT_SCHEDULE["dispatch-due-messages"]
        app.send_task(entry["task"], **entry["options"])
        assert wait_for(lambda: redis_client.get(BEAT_HEARTBEAT_KEY) is not None, timeout=entry["options"]["expires"])
        # It ran while the backlog was still being sent.
        assert Message.objects.filter(pk__in=ids, status__in=["queued", "sending"]).exists()
        assert wait_for(lambda: not Message.objects.filter(pk__in=ids, status__in=["queued", "sending"]).exists())
