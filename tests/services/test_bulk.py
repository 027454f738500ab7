"""Writing checked intakes in bulk: what enrolling them one by one writes, in batches."""

from datetime import date

import pytest

from reminders.models import ConsentEvent, Enrollment, Message, Patient
from reminders.services.bulk import enrollments_bulk_write
from reminders.services.enrollment_intake import PatientIntake, enrollment_intake_check, enrollment_intake_create
from tests.factories import UserFactory
from tests.moments import ENROLLED_AT


def intake(clinic, program, **fields):
    defaults = {"clinic": clinic, "first_name": "Ana", "last_name": "Reyes", "mobile": "+12025550101",
                "email": "ana@example.com", "sms_consent": True, "email_consent": True, "discreet": False,
                "time_zone": "", "language": "en", "program": program, "anchor_event": "pvp",
                "anchor_date": date(2026, 6, 1)}
    return PatientIntake(**{**defaults, **fields})


@pytest.fixture
def staff(db):
    return UserFactory(username="coord")


def test_a_bulk_write_is_what_enrolling_one_by_one_writes(clinic, program, staff, clock):
    intakes = [intake(clinic, program, last_name=f"Reyes {'ABC'[i]}", mobile=f"+1202555{i:04d}",
                      email_consent=i != 1, discreet=i == 2) for i in range(3)]
    with clock.at(ENROLLED_AT):
        for checked in intakes:
            enrollment_intake_check(intake=checked)
        result = enrollments_bulk_write(intakes=intakes, enrolled_by=staff, source="CSV import")
        # One of the same, enrolled alone, for comparison.
        single = enrollment_intake_create(intake=intake(clinic, program, last_name="Solo", mobile="+12025559999"),
                                          enrolled_by=staff, actor="import", source="CSV import")

    assert len(result.enrollments) == 3
    expected = sorted(single.messages.values_list("step__key", "channel", "due_at", "status"))
    for enrollment, given in zip(result.enrollments, intakes, strict=False):
        enrollment = Enrollment.objects.get(pk=enrollment.pk)
        assert (enrollment.enrolled_by, enrollment.patient.discreet) == (staff, given.discreet)
        channels = {"sms", "email"} if given.email_consent else {"sms"}
        assert sorted(enrollment.messages.values_list("step__key", "channel", "due_at", "status")) == [
            m for m in expected if m[1] in channels]
    assert result.messages == Message.objects.exclude(enrollment=single).count()
    events = ConsentEvent.objects.filter(actor="import", source="CSV import", recorded_by=staff)
    assert sorted(events.values_list("channel", flat=True)) == ["email"] * 3 + ["sms"] * 4
    assert Patient.history.filter(history_user=staff).count() == 4
    assert Enrollment.history.filter(history_user=staff).count() == 4


def test_nothing_is_written_for_no_intakes(db):
    assert enrollments_bulk_write(intakes=[]).messages == 0
    assert Patient.objects.count() == 0
