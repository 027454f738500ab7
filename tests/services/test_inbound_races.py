"""Two replies at once, each on its own thread and database connection (PostgreSQL)."""

import threading
from datetime import time

import pytest
from django.db import connection

from reminders.models import Escalation, Message, MessageStatus
from reminders.services import inbound
from reminders.services.inbound import inbound_receive
from tests.factories import EnrollmentFactory
from tests.moments import REPLIES_AT

NUMBER = "+12025550101"

# The clock stands still for every thread: time-machine's clock is the process's.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.time_machine(REPLIES_AT, tick=False)]


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("two connections writing at once need PostgreSQL (SQLite serialises the writers)")


@pytest.fixture
def pain_check(clinic, patient, make_program):
    clinic.alert_email = "oncall@riverside.example"
    clinic.save()
    program = make_program(slug="pain", steps=[{
        "key": "pain14", "offset_days": 0, "send_time": time(10, 0), "asks": "pain_score",
        "escalate_when": ">=7", "escalation_note": "call the patient about a specialist review"}])
    enrollment = EnrollmentFactory(patient=patient, program=program)
    Message.objects.filter(enrollment=enrollment).update(status=MessageStatus.SENT, sent_at=REPLIES_AT)
    return enrollment


def receive_at_once(monkeypatch, bodies: list[str]) -> list[inbound.InboundResult]:
    """Each body through inbound_receive on a thread of its own.

    Both threads wait for each other once they are inside their transactions and
    have recorded their reply, just before they look for an open escalation: both
    look before either has committed, as two webhook requests a moment apart do.
    """
    both_inside = threading.Barrier(len(bodies), timeout=10)
    signs = inbound.warning_signs

    def warning_signs_when_both_are_inside(body):
        both_inside.wait()
        return signs(body)

    monkeypatch.setattr(inbound, "warning_signs", warning_signs_when_both_are_inside)
    results, errors = {}, []

    def receive(index: int, body: str) -> None:
        try:
            results[index] = inbound_receive(provider_message_id=f"SM{index:032d}", from_number=NUMBER, body=body)
        except Exception as exc:  # reported below, with the test's failure
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=receive, args=(index, body)) for index, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return [results[index] for index in range(len(bodies))]


def test_two_warning_sign_replies_at_once_open_one_escalation_one_alert_and_one_reply(monkeypatch, pain_check):
    results = receive_at_once(monkeypatch, ["I have chest pain", "chest pain and short of breath"])

    escalation = Escalation.objects.get()
    assert (escalation.kind, escalation.urgency) == ("red_flag", 1)
    # One alert is asked for (the webhook sends it, once its reply is committed).
    assert [r.alert_escalation_id for r in results if r.alert_escalation_id] == [escalation.pk]
    replies = [r.reply for r in results if r.reply]
    assert len(replies) == 1 and "call 911 now" in replies[0]
    assert {r.inbound.kind for r in results} == {"red_flag"}


def test_two_high_scores_at_once_open_one_check_in_escalation(monkeypatch, pain_check):
    results = receive_at_once(monkeypatch, ["8", "9"])

    escalation = Escalation.objects.get()
    assert (escalation.kind, escalation.step.key, escalation.enrollment) == ("check_in", "pain14", pain_check)
    assert sorted(a.value for a in pain_check.answers.all()) == ["8", "9"]
    assert all("we got your answer" in r.reply for r in results)  # each answer is thanked for
