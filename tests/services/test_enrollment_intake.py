from datetime import date, time

import pytest
from django.core.exceptions import ValidationError

from reminders.models import ConsentEvent, Enrollment, Patient
from reminders.services.enrollment_intake import (
    PatientIntake,
    enrollment_intake_check,
    enrollment_intake_create,
)
from tests.moments import NOW, utc

pytestmark = pytest.mark.time_machine(NOW, tick=False)  # 14:00 in New York


def intake(clinic, program, **overrides) -> PatientIntake:
    fields = dict(clinic=clinic, first_name="Ann", last_name="Lee", mobile="+12025550111", email="",
                  sms_consent=True, email_consent=False, discreet=False, time_zone="", language="en",
                  program=program, anchor_event="pvp", anchor_date=date(2026, 6, 2))
    return PatientIntake(**{**fields, **overrides})


def test_the_check_plans_the_timeline_in_the_patients_zone_and_writes_nothing(clinic, program):
    check = enrollment_intake_check(intake=intake(clinic, program, time_zone="Europe/London"))
    assert [(p.step.key, p.channel, p.due_at) for p in check.timeline] == [
        ("day0", "sms", utc(2026, 6, 2, 9, 0)),  # 10:00 BST
        ("day1", "sms", utc(2026, 6, 3, 8, 30)),
        ("day7", "sms", utc(2026, 6, 9, 10, 0)),
    ]
    assert not Patient.objects.exists() and not Enrollment.objects.exists()


def test_the_check_marks_steps_already_too_late(clinic, program):
    check = enrollment_intake_check(intake=intake(clinic, program, anchor_date=date(2026, 5, 31)))
    assert [p.step.key for p in check.skipped] == ["day0", "day1"]
    assert all(p.reason.startswith("too late") for p in check.skipped)


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"mobile": "12345"}, "mobile", "not valid"),
    ({"mobile": ""}, "mobile", "needed to send SMS"),
    ({"time_zone": "Mars/Base"}, "time_zone", "not a known time zone"),
    ({"anchor_date": date(2026, 6, 9)}, "anchor_date", "in the future"),
    ({"anchor_event": "diagnosis"}, "anchor_event", "does not start"),
    ({"sms_consent": False, "mobile": ""}, "patient", "no channel"),
])
def test_a_bad_intake_is_refused_on_its_field(clinic, program, overrides, field, words):
    with pytest.raises(ValidationError) as caught:
        enrollment_intake_check(intake=intake(clinic, program, **overrides))
    assert words in " ".join(caught.value.message_dict[field])


def test_creating_writes_patient_consent_and_schedule_in_one_go(clinic, program, admin_user):
    enrollment = enrollment_intake_create(
        intake=intake(clinic, program, email="ann@example.com", email_consent=True), enrolled_by=admin_user)
    assert enrollment.enrolled_by == admin_user
    assert enrollment.messages.count() == 4  # three SMS and day 7's email
    assert set(ConsentEvent.objects.values_list("channel", "given", "actor", "recorded_by")) == {
        ("sms", True, "coordinator", admin_user.pk), ("email", True, "coordinator", admin_user.pk)}
    assert enrollment.patient.history.first().history_user == admin_user


def test_a_failing_enrollment_leaves_no_patient_behind(clinic, make_program, admin_user):
    program = make_program(steps=[{"send_time": time(10)}])
    program.is_active = False
    program.save()
    with pytest.raises(ValidationError):
        enrollment_intake_create(intake=intake(clinic, program), enrolled_by=admin_user)
    assert not Patient.objects.exists()
    assert not ConsentEvent.objects.exists()
