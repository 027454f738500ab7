"""Needs action: who is past a target of their road with nothing recorded, worked out by hand.

The reference day is 2 June 2026 (14:00 in New York); the clinic's consultation
target is 14 days, the scan's 84 and the bone medicine decision's 112.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reminders.models import ContactAttempt, Enrollment, EnrollmentStatus, MilestoneKind
from reminders.selectors.needs_action import needs_action_list
from reminders.services.contact_attempts import contact_attempt_record
from tests.factories import EnrollmentFactory, MilestoneFactory, PatientFactory, UserFactory
from tests.moments import DAY, NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

CONSULTATION, DXA, MEDICINE = "consultation", "dxa", "medicine"


@pytest.fixture
def road(clinic, program):
    """``road(days_ago, ...)``: a patient of the clinic enrolled ``days_ago`` days before the reference day."""

    def make(days_ago: int, *, status=None, patient=None, enrolled_in=None, **patient_fields):
        patient = patient or PatientFactory(clinic=clinic, **patient_fields)
        enrollment = EnrollmentFactory(patient=patient, program=enrolled_in or program)
        Enrollment.objects.filter(pk=enrollment.pk).update(
            anchor_date=DAY - timedelta(days=days_ago), **({"status": status} if status else {}))
        return patient

    return make


def missed(clinic) -> dict[int, list[tuple[str, int]]]:
    """Patient id -> [(target, days past)] as the list has it, in its order."""
    return {row.patient.pk: [(m.target.key, m.days_past) for m in row.missed]
            for row in needs_action_list(clinics=[clinic])}


def test_the_target_day_itself_is_still_in_time_and_the_day_after_is_one_day_past(clinic, road):
    on_day = road(14)  # consultation target day: today
    past = road(15)
    scan_day, scan_past = road(84), road(85)
    medicine_day, medicine_past = road(112), road(113)

    found = missed(clinic)
    assert on_day.pk not in found
    assert found[past.pk] == [(CONSULTATION, 1)]
    assert found[scan_day.pk] == [(CONSULTATION, 70)]
    assert found[scan_past.pk] == [(CONSULTATION, 71), (DXA, 1)]
    assert found[medicine_day.pk] == [(CONSULTATION, 98), (DXA, 28)]
    assert found[medicine_past.pk] == [(CONSULTATION, 99), (DXA, 29), (MEDICINE, 1)]


def test_the_clinics_own_consultation_target_counts(clinic, road):
    clinic.consultation_target_days = 21
    clinic.save()
    on_day, past = road(21), road(22)
    found = missed(clinic)
    assert on_day.pk not in found
    assert found[past.pk] == [(CONSULTATION, 1)]


def test_today_is_the_patients_own_day(clinic, road):
    # 18:00 UTC is 14:00 on 2 June in New York, 08:00 on 3 June on Kiritimati (UTC+14).
    new_york = road(14)
    kiritimati = road(14, time_zone="Pacific/Kiritimati")
    found = missed(clinic)
    assert new_york.pk not in found
    assert found[kiritimati.pk] == [(CONSULTATION, 1)]


@pytest.mark.parametrize("kind", [MilestoneKind.CONSULTATION_BOOKED, MilestoneKind.CONSULTATION_ATTENDED])
def test_a_consultation_booked_counts_as_done_as_much_as_one_attended(clinic, road, kind):
    patient = road(20)
    # Booked for a day long after the target: it is recorded, so nothing is missing.
    MilestoneFactory(patient=patient, kind=kind, date=DAY + timedelta(days=30))
    assert patient.pk not in missed(clinic)


def test_each_target_is_met_by_any_of_its_milestones(clinic, road):
    scan = road(120)
    MilestoneFactory(patient=scan, kind=MilestoneKind.DXA_BOOKED, date=DAY + timedelta(days=3))
    declined = road(120)
    MilestoneFactory(patient=declined, kind=MilestoneKind.TREATMENT_DECLINED, date=DAY - timedelta(days=5))
    unrelated = road(120)
    MilestoneFactory(patient=unrelated, kind=MilestoneKind.FALL, date=DAY)

    found = missed(clinic)
    assert [key for key, _ in found[scan.pk]] == [CONSULTATION, MEDICINE]
    assert [key for key, _ in found[declined.pk]] == [CONSULTATION, DXA]
    assert [key for key, _ in found[unrelated.pk]] == [CONSULTATION, DXA, MEDICINE]


def test_a_withdrawn_milestone_does_not_count(clinic, road):
    patient = road(20)
    MilestoneFactory(patient=patient, kind=MilestoneKind.CONSULTATION_ATTENDED, date=DAY - timedelta(days=10),
                     withdrawn_at=NOW, withdrawal_reason="wrong patient")
    assert missed(clinic)[patient.pk] == [(CONSULTATION, 6)]


def test_a_milestone_before_the_anchor_date_belongs_to_an_earlier_fracture(clinic, road):
    patient = road(20)
    MilestoneFactory(patient=patient, kind=MilestoneKind.CONSULTATION_ATTENDED, date=DAY - timedelta(days=21))
    assert missed(clinic)[patient.pk] == [(CONSULTATION, 6)]
    MilestoneFactory(patient=patient, kind=MilestoneKind.CONSULTATION_ATTENDED, date=DAY - timedelta(days=20))
    assert patient.pk not in missed(clinic)  # on the anchor day itself: this fracture's


@pytest.mark.parametrize("kind", [MilestoneKind.DIED, MilestoneKind.MOVED_AWAY])
def test_died_or_moved_away_takes_the_patient_off_the_list_unless_withdrawn(clinic, road, kind):
    gone = road(30)
    MilestoneFactory(patient=gone, kind=kind, date=DAY - timedelta(days=40))  # even dated before the anchor
    back = road(30)
    MilestoneFactory(patient=back, kind=kind, date=DAY, withdrawn_at=NOW, withdrawal_reason="wrong patient")

    found = missed(clinic)
    assert gone.pk not in found
    assert back.pk in found


def test_only_open_enrollments_and_patients_not_forgotten_count(clinic, road):
    paused = road(20, status=EnrollmentStatus.PAUSED)
    completed = road(20, status=EnrollmentStatus.COMPLETED)
    cancelled = road(20, status=EnrollmentStatus.CANCELLED)
    forgotten = road(20)
    type(forgotten).objects.filter(pk=forgotten.pk).update(forgotten_at=timezone.now())

    assert set(missed(clinic)) == {paused.pk}
    assert {completed.pk, cancelled.pk}.isdisjoint(missed(clinic))


def test_a_patient_in_two_programs_is_one_row_from_the_earliest_anchor(clinic, road, make_program):
    patient = road(10)
    road(40, patient=patient, enrolled_in=make_program(slug="second"))
    [row] = needs_action_list(clinics=[clinic])
    assert row.patient == patient and row.enrollment.anchor_date == DAY - timedelta(days=40)
    assert [(m.target.key, m.days_past) for m in row.missed] == [(CONSULTATION, 26)]


def test_most_overdue_first_with_the_last_call_attempt(clinic, road):
    newer, older, oldest = road(16), road(30), road(100)
    coordinator = UserFactory(username="coord-a")
    contact_attempt_record(patient=older, note="no answer", made_by=coordinator)
    ContactAttempt.objects.filter(patient=older).update(created_at=NOW - timedelta(days=1))
    contact_attempt_record(patient=older, note="left a voicemail", made_by=coordinator)

    rows = needs_action_list(clinics=[clinic])
    assert [row.patient for row in rows] == [oldest, older, newer]
    assert [row.days_past for row in rows] == [86, 16, 2]
    assert (rows[1].last_attempt.note, rows[1].last_attempt.made_by) == ("left a voicemail", coordinator)
    assert rows[0].last_attempt is None


def test_only_the_clinics_asked_for(clinic, clinic_b, road, program):
    ours = road(20)
    theirs = PatientFactory(clinic=clinic_b)
    road(20, patient=theirs)
    assert [row.patient for row in needs_action_list(clinics=[clinic])] == [ours]
    assert needs_action_list(clinics=[]) == []


def test_the_query_count_does_not_grow_with_the_patients(clinic, road):
    for days in range(15, 20):
        patient = road(days)
        contact_attempt_record(patient=patient, note="no answer")
    with CaptureQueriesContext(connection) as few:
        assert len(needs_action_list(clinics=[clinic])) == 5
    for days in range(20, 45):
        patient = road(days)
        contact_attempt_record(patient=patient, note="no answer")
        MilestoneFactory(patient=patient, kind=MilestoneKind.FALL, date=DAY)
    with CaptureQueriesContext(connection) as many:
        assert len(needs_action_list(clinics=[clinic])) == 30
    assert len(few) == len(many) == 2  # the patients, then their last call attempts


def test_at_most_two_queries_for_many_patients(clinic, road, django_assert_max_num_queries):
    for days in range(15, 55):
        road(days)
    with django_assert_max_num_queries(2):
        rows = needs_action_list(clinics=[clinic])
        assert len(rows) == 40 and all(row.patient.zone for row in rows)
