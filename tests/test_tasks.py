"""The engine on the real stack: a Celery worker consuming from a real Redis broker."""

import time
from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker

from project.celery import app
from reminders.models import Message, MessageStatus
from reminders.services.enrollments import enrollment_create
from reminders.tasks import dispatch_due_messages, send_messages

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

UTC = timezone.utc
DAY0_DUE = datetime(2026, 6, 2, 14, 0, tzinfo=UTC)


@pytest.fixture
def worker(celery_broker):
    assert app.conf.broker_url == celery_broker
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING",
                      shutdown_timeout=20) as celery_worker:
        yield celery_worker


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def enroll(patient, program):
    with time_machine.travel(datetime(2026, 6, 2, 13, 0, tzinfo=UTC), tick=False):
        return enrollment_create(patient=patient, program=program, anchor_event="pvp",
                                 anchor_date=date(2026, 6, 2))


def test_beat_dispatch_sends_a_due_message_through_the_worker(worker, patient, program, sms_outbox):
    enrollment = enroll(patient, program)
    message = enrollment.messages.get(step__key="day0")
    with time_machine.travel(DAY0_DUE + timedelta(seconds=2), tick=True):
        # What beat does every few seconds: a task on the broker, run by the worker.
        dispatch_due_messages.delay()
        assert wait_for(lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SENT), (
            Message.objects.values("status", "reason").get(pk=message.pk))
    assert [s.message_id for s in sms_outbox] == [message.pk]
    # Only the due message went; the later ones are still rows in the database.
    assert enrollment.messages.filter(status=MessageStatus.PENDING).count() == 2


def test_a_send_task_delivered_twice_by_the_broker_sends_once(worker, patient, program, sms_outbox):
    from reminders.services.dispatch import messages_claim

    enrollment = enroll(patient, program)
    message = enrollment.messages.get(step__key="day0")
    marker = enrollment.messages.get(step__key="day1")
    with time_machine.travel(DAY0_DUE + timedelta(seconds=2), tick=True):
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
