"""Bulk enrollment: the same checks and schedule as enrolling one patient, all or nothing."""

from datetime import date, datetime, timezone

import pytest
import time_machine

from reminders.models import ConsentEvent, Enrollment, Message, Patient
from reminders.services.bulk import BulkEnrollmentRow, enrollments_bulk_create
from reminders.services.enrollments import enrollment_create

NOW = datetime(2026, 6, 2, 13, 0, tzinfo=timezone.utc)


def row(program, **fields):
    defaults = {"first_name": "Ana", "last_name": "Reyes", "mobile": "+12025550101", "email": "ana@example.com",
                "sms_consent": True, "email_consent": True, "program": program, "anchor_event": "pvp",
                "anchor_date": date(2026, 6, 1)}
    return BulkEnrollmentRow(**{**defaults, **fields})


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("coord", password="x")


def test_every_row_gets_a_patient_consent_an_enrollment_and_its_messages(clinic, program, make_patient, staff):
    rows = [row(program, last_name=f"Reyes {'ABC'[i]}", mobile=f"+1202555{i:04d}") for i in range(3)]
    with time_machine.travel(NOW, tick=False):
        result = enrollments_bulk_create(clinic=clinic, rows=rows, enrolled_by=staff)
        # The schedule one enrollment would get, for comparison.
        single = enrollment_create(patient=make_patient(email_consent=True), program=program,
                                   anchor_event="pvp", anchor_date=date(2026, 6, 1))

    assert (result.ok, result.patients, result.enrollments) == (True, 3, 3), result.errors
    expected = sorted(single.messages.values_list("step__key", "channel", "due_at", "status"))
    for enrollment in Enrollment.objects.exclude(pk=single.pk):
        assert enrollment.enrolled_by == staff
        assert sorted(enrollment.messages.values_list("step__key", "channel", "due_at", "status")) == expected
    assert result.messages == Message.objects.exclude(enrollment=single).count() == 3 * len(expected)
    imported = ConsentEvent.objects.filter(actor="import")
    assert sorted(imported.values_list("channel", "given")) == [("email", True)] * 3 + [("sms", True)] * 3
    assert Patient.history.filter(history_user=staff).count() == 3


def test_one_bad_row_writes_nothing_and_says_which_row_and_field(clinic, program):
    rows = [row(program), row(program, mobile="+1202"), row(program, anchor_date=date(2026, 7, 1))]
    with time_machine.travel(NOW, tick=False):
        result = enrollments_bulk_create(clinic=clinic, rows=rows)

    assert not result.ok
    assert set(result.errors) == {2, 3}
    assert "mobile" in result.errors[2]
    assert "future" in result.errors[3]["anchor_date"][0]
    assert (Patient.objects.count(), Enrollment.objects.count(), Message.objects.count()) == (0, 0, 0)


def test_a_row_without_any_channel_is_refused(clinic, program):
    with time_machine.travel(NOW, tick=False):
        result = enrollments_bulk_create(clinic=clinic, rows=[
            row(program, sms_consent=False, email_consent=False)])
    assert list(result.errors[1]) == ["patient"]
