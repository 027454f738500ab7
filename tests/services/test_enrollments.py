from datetime import date, time

import pytest
from django.core.exceptions import ValidationError

from reminders.models import Enrollment, EnrollmentStatus, Message, MessageStatus
from reminders.services.enrollments import (
    enrollment_cancel,
    enrollment_create,
    enrollment_pause,
    enrollment_resume,
)
from tests.factories import EnrollmentFactory
from tests.moments import NOW, utc

pytestmark = pytest.mark.time_machine(NOW, tick=False)  # a Tuesday afternoon in New York


def test_enrolling_plans_one_message_per_step_and_channel(patient, program):
    patient.email_consent = True
    patient.save()
    enrollment = EnrollmentFactory(patient=patient, program=program)

    rows = list(enrollment.messages.order_by("scheduled_at", "channel").values_list(
        "step__key", "channel", "scheduled_at", "status"))
    assert rows == [
        ("day0", "sms", utc(2026, 6, 2, 14, 0), "pending"),  # 10:00 EDT
        ("day1", "sms", utc(2026, 6, 3, 13, 30), "pending"),  # 09:30 EDT
        ("day7", "email", utc(2026, 6, 9, 15, 0), "pending"),
        ("day7", "sms", utc(2026, 6, 9, 15, 0), "pending"),
    ]


def test_only_the_patients_channels_are_planned(patient, program):
    enrollment = EnrollmentFactory(patient=patient, program=program)  # SMS only
    assert set(enrollment.messages.values_list("channel", flat=True)) == {"sms"}
    assert enrollment.messages.count() == 3


def test_patient_time_zone_wins_over_the_clinics(make_patient, program):
    patient = make_patient(time_zone="Europe/London")
    enrollment = EnrollmentFactory(patient=patient, program=program)
    first = enrollment.messages.get(step__key="day0")
    assert first.scheduled_at == utc(2026, 6, 2, 9, 0)  # 10:00 BST


def test_an_sms_planned_inside_quiet_hours_is_moved_to_their_end(patient, make_program):
    program = make_program(steps=[{"key": "late", "offset_days": 1, "send_time": time(22, 30)}])
    message = EnrollmentFactory(patient=patient, program=program).messages.get()
    assert message.scheduled_at == utc(2026, 6, 4, 2, 30)  # 22:30 EDT on day 1
    assert message.due_at == utc(2026, 6, 4, 12, 0)  # 08:00 EDT next morning


def test_a_back_dated_enrollment_skips_what_is_already_too_late(patient, program):
    enrollment = EnrollmentFactory(patient=patient, program=program, anchor_date=date(2026, 5, 31))
    statuses = dict(enrollment.messages.values_list("step__key", "status"))
    assert statuses == {"day0": "skipped", "day1": "skipped", "day7": "pending"}
    reason = enrollment.messages.get(step__key="day0").reason
    assert reason.startswith("too late")


def test_messages_are_unique_per_enrollment_step_and_channel(patient, program):
    from django.db import IntegrityError, transaction

    enrollment = EnrollmentFactory(patient=patient, program=program)
    message = enrollment.messages.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(enrollment=enrollment, step=message.step, channel=message.channel,
                               scheduled_at=message.scheduled_at, due_at=message.due_at)


@pytest.mark.parametrize(
    ("anchor", "field", "words"),
    [
        (date(2026, 6, 3), "anchor_date", "in the future"),
        (date(2026, 4, 1), "anchor_date", "at most 30 days back"),
    ],
)
def test_anchor_dates_out_of_range_are_refused_and_nothing_is_written(patient, program, anchor, field, words):
    with pytest.raises(ValidationError) as caught:
        EnrollmentFactory(patient=patient, program=program, anchor_date=anchor)
    assert words in " ".join(caught.value.message_dict[field])
    assert not Enrollment.objects.exists()
    assert not Message.objects.exists()


def test_anchor_date_uses_the_patients_today(make_patient, program):
    # 18:00 UTC on 2 June is already 3 June in Tokyo.
    patient = make_patient(time_zone="Asia/Tokyo")
    assert EnrollmentFactory(patient=patient, program=program, anchor_date=date(2026, 6, 3)).pk


def test_anchor_event_must_match_the_program(patient, program):
    with pytest.raises(ValidationError) as caught:
        enrollment_create(patient=patient, program=program, anchor_event="diagnosis",
                          anchor_date=date(2026, 6, 2))
    assert "anchor_event" in caught.value.message_dict


def test_a_patient_without_any_channel_cannot_be_enrolled(make_patient, program):
    patient = make_patient(mobile="", sms_consent=False, email_consent=False)
    with pytest.raises(ValidationError) as caught:
        EnrollmentFactory(patient=patient, program=program)
    assert "patient" in caught.value.message_dict


def test_one_open_enrollment_per_program(patient, program):
    EnrollmentFactory(patient=patient, program=program)
    with pytest.raises(ValidationError, match="already enrolled"):
        EnrollmentFactory(patient=patient, program=program)
    assert Enrollment.objects.count() == 1


def test_pause_holds_pending_messages_and_resume_releases_them(patient, program):
    enrollment = EnrollmentFactory(patient=patient, program=program)
    enrollment_pause(enrollment=enrollment, reason="admitted to hospital")
    assert set(enrollment.messages.values_list("status", flat=True)) == {"paused"}

    enrollment = enrollment_resume(enrollment=enrollment)
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert set(enrollment.messages.values_list("status", flat=True)) == {"pending"}


def test_cancel_stops_every_unsent_message_with_the_reason(patient, program):
    enrollment = EnrollmentFactory(patient=patient, program=program)
    sent = enrollment.messages.get(step__key="day0")
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.SENT)

    enrollment_cancel(enrollment=enrollment, reason="procedure done")

    statuses = dict(enrollment.messages.values_list("step__key", "status"))
    assert statuses == {"day0": "sent", "day1": "cancelled", "day7": "cancelled"}
    assert enrollment.messages.get(step__key="day1").reason == "cancelled: procedure done"


def test_cancel_needs_a_reason_and_an_open_enrollment(patient, program):
    enrollment = EnrollmentFactory(patient=patient, program=program)
    with pytest.raises(ValidationError) as caught:
        enrollment_cancel(enrollment=enrollment, reason="  ")
    assert "reason" in caught.value.message_dict
    enrollment_cancel(enrollment=enrollment, reason="moved away")
    with pytest.raises(ValidationError) as caught:
        enrollment_pause(enrollment=enrollment, reason="x")
    assert "status" in caught.value.message_dict
