"""Consent given again: the messages its withdrawal cancelled are planned again, and only those."""

import pytest

from reminders.models import ConsentEvent, Message, MessageStatus, Patient
from reminders.services.consent import consent_record
from reminders.services.enrollments import enrollment_cancel, enrollment_pause, enrollment_resume
from reminders.services.patients import patient_save
from tests.factories import EnrollmentFactory
from tests.moments import ENROLLED_AT, utc

# Enrolled at ENROLLED_AT, 09:00 in New York on the anchor day.
WITHDRAWN = utc(2026, 6, 2, 13, 30)
GIVEN = utc(2026, 6, 3, 18, 0)  # day 0's text (due 14:00 UTC on 2 June) is now too late


@pytest.fixture
def withdraw(clock):
    """``withdraw(patient, channel)``: STOP (or an unsubscribe) at WITHDRAWN."""

    def withdraw(patient, channel="sms"):
        with clock.at(WITHDRAWN):
            consent_record(patient=patient, channel=channel, given=False, actor="patient_keyword",
                           source="STOP keyword")

    return withdraw


@pytest.fixture
def give(clock):
    """``give(patient, channel)``: START at GIVEN; the consent event."""

    def give(patient, channel="sms", **kwargs):
        with clock.at(GIVEN):
            return consent_record(patient=patient, channel=channel, given=True, actor="patient_keyword",
                                  source="START keyword", **kwargs)

    return give


def states(enrollment) -> dict[tuple[str, str], str]:
    return {(m.step.key, m.channel): m.status for m in enrollment.messages.select_related("step")}


def test_only_what_the_withdrawal_cancelled_comes_back(make_patient, program, make_program, withdraw, give):
    """Day 0 is past its late policy; day 1 was cancelled for another reason; the day-7 email by
    the email unsubscribe; an enrollment cancelled since keeps its texts cancelled."""
    patient = make_patient(email_consent=True)
    enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    day3_only = make_program(slug="other", steps=[{"key": "day3", "offset_days": 3}])
    other = EnrollmentFactory(patient=patient, program=day3_only, enrolled_at=ENROLLED_AT)
    withdraw(patient, channel="email")
    withdraw(patient)
    day1 = enrollment.messages.get(step__key="day1")
    Message.objects.filter(pk=day1.pk).update(reason="cancelled: a coordinator's action")
    enrollment_cancel(enrollment=other, reason="moved away")

    event = give(patient)

    assert states(enrollment) == {("day0", "sms"): "cancelled", ("day1", "sms"): "cancelled",
                                  ("day7", "sms"): "pending", ("day7", "email"): "cancelled"}
    assert states(other) == {("day3", "sms"): "cancelled"}
    assert Message.objects.get(pk=day1.pk).reason == "cancelled: a coordinator's action"
    assert event.source == "START keyword; 1 text planned again"


def test_a_paused_enrollment_gets_its_texts_back_held(patient, enrollment, clock, withdraw, give):
    withdraw(patient)
    enrollment_pause(enrollment=enrollment, reason="admitted to hospital")

    give(patient)

    day7 = enrollment.messages.get(step__key="day7")
    assert (day7.status, day7.reason) == (MessageStatus.PAUSED, "paused: admitted to hospital")
    assert day7.due_at == utc(2026, 6, 9, 15, 0)
    with clock.at(GIVEN):
        enrollment_resume(enrollment=enrollment)
    assert states(enrollment) == {("day0", "sms"): "cancelled", ("day1", "sms"): "pending",
                                  ("day7", "sms"): "pending"}


def test_a_coordinator_ticking_sms_consent_again_plans_the_texts_again(patient, enrollment, admin_user, clock,
                                                                      withdraw):
    withdraw(patient)

    patient = Patient.objects.get(pk=patient.pk)
    patient.sms_consent = True
    with clock.at(GIVEN):
        patient_save(patient=patient, recorded_by=admin_user)

    assert states(enrollment) == {("day0", "sms"): "cancelled", ("day1", "sms"): "pending",
                                  ("day7", "sms"): "pending"}
    event = ConsentEvent.objects.order_by("id").last()
    assert (event.given, event.actor, event.recorded_by, event.source) == (
        True, "coordinator", admin_user, "admin; 2 texts planned again")


def test_email_consent_given_again_plans_the_emails_again(make_patient, program, withdraw, give):
    patient = make_patient(email_consent=True)
    enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    withdraw(patient, channel="email")

    event = give(patient, channel="email")

    assert states(enrollment)[("day7", "email")] == "pending"
    assert event.source == "START keyword; 1 email planned again"


@pytest.mark.parametrize("given_at", [GIVEN, utc(2026, 6, 30, 12, 0)])
def test_consent_given_twice_plans_nothing_twice(patient, enrollment, clock, withdraw, give, given_at):
    withdraw(patient)
    give(patient)
    assert states(enrollment)[("day7", "sms")] == "pending"
    before = list(enrollment.messages.order_by("id").values())

    with clock.at(given_at):
        event = consent_record(patient=patient, channel="sms", given=True, actor="coordinator", source="admin")

    assert list(enrollment.messages.order_by("id").values()) == before
    assert event.source == "admin"
