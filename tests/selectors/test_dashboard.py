from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reminders.models import CheckInAnswer, Escalation, InboundMessage, Message, MessageStatus
from reminders.selectors.dashboard import dashboard_build
from reminders.services.enrollments import enrollment_cancel
from tests.factories import EnrollmentFactory
from tests.moments import NOW, UTC, utc


@pytest.fixture
def pathway(make_program):
    return make_program(slug="pathway", steps=[
        {"key": "consult", "offset_days": 3, "topic": "specialist_consultation", "asks": "yes_no"},
        {"key": "bone", "offset_days": 10, "topic": "bone_health", "asks": "yes_no"},
        {"key": "treat", "offset_days": 20, "topic": "medication", "asks": "yes_no"},
    ])


def enrolled_on(anchor: date, clinic, program):
    """A new patient of ``clinic``, enrolled on the afternoon of the anchor date."""
    return EnrollmentFactory(patient__clinic=clinic, program=program, anchor_date=anchor,
                             enrolled_at=datetime.combine(anchor, time(16, 0), tzinfo=UTC))


def answer(enrollment, step_key, value, at: datetime):
    inbound = InboundMessage.objects.create(
        provider_message_id=f"SM{enrollment.pk}{step_key}", from_number=str(enrollment.patient.mobile),
        kind="answer", clinic=enrollment.patient.clinic, patient=enrollment.patient, enrollment=enrollment)
    item = CheckInAnswer.objects.create(enrollment=enrollment, step=enrollment.program.steps.get(key=step_key),
                                        inbound=inbound, value=value)
    CheckInAnswer.objects.filter(pk=item.pk).update(created_at=at)


def by_key(board):
    return {m.key: (m.cohort, m.on_time, m.late, m.overdue, m.not_yet_due) for m in board.milestones}


def test_milestones_count_only_what_is_recorded_and_when(clinic, clinic_b, pathway, clock):
    on_time = enrolled_on(date(2026, 5, 10), clinic, pathway)
    answer(on_time, "consult", "Yes", utc(2026, 5, 20, 15))
    answer(on_time, "bone", "yes", utc(2026, 5, 25, 15))
    late = enrolled_on(date(2026, 5, 10), clinic, pathway)
    answer(late, "consult", "yes", utc(2026, 5, 30, 15))
    said_no = enrolled_on(date(2026, 5, 10), clinic, pathway)
    answer(said_no, "consult", "no", utc(2026, 5, 15, 15))
    enrolled_on(date(2026, 6, 1), clinic, pathway)  # target not reached yet
    attended = enrolled_on(date(2026, 5, 12), clinic, pathway)
    with clock.at(utc(2026, 5, 15, 15)):
        enrollment_cancel(enrollment=attended, reason="Consultation attended")
    died = enrolled_on(date(2026, 5, 12), clinic, pathway)
    enrollment_cancel(enrollment=died, reason="Deceased")
    enrolled_on(date(2026, 5, 10), clinic_b, pathway)  # another clinic

    board = dashboard_build(clinics=[clinic], now=NOW)
    # consultation target: 14 days (the clinic's default)
    assert by_key(board)["consultation"] == (5, 2, 1, 1, 1)
    assert by_key(board)["bone_density"] == (5, 1, 0, 0, 4)
    assert by_key(board)["treatment"] == (5, 0, 0, 0, 5)


def test_reply_1_to_a_numbered_check_in_records_the_milestone(clinic, make_program):
    numbered = make_program(slug="numbered", steps=[
        {"key": "bone", "offset_days": 10, "topic": "bone_health", "asks": "choice_1_3"},
        {"key": "treat", "offset_days": 20, "topic": "medication", "asks": "choice_1_3"},
    ])
    enrollment = enrolled_on(date(2026, 5, 10), clinic, numbered)
    answer(enrollment, "bone", "1", utc(2026, 5, 25, 15))  # "1 if done or booked"
    answer(enrollment, "treat", "2", utc(2026, 5, 30, 15))  # "2 if not yet"
    board = dashboard_build(clinics=[clinic], now=NOW)
    assert by_key(board)["bone_density"] == (1, 1, 0, 0, 0)
    assert by_key(board)["treatment"] == (1, 0, 0, 0, 1)


def test_milestones_on_the_patients_road_count_and_an_ending_one_leaves_the_cohort(clinic, pathway):
    from reminders.models import MilestoneKind
    from reminders.services.milestones import milestone_record, milestone_withdraw

    booked = enrolled_on(date(2026, 5, 10), clinic, pathway)
    milestone_record(patient=booked.patient, kind=MilestoneKind.CONSULTATION_BOOKED, on=date(2026, 5, 24))
    scanned_late = enrolled_on(date(2026, 3, 1), clinic, pathway)  # day 84 is 24 May
    milestone_record(patient=scanned_late.patient, kind=MilestoneKind.DXA_DONE, on=date(2026, 5, 25))
    milestone_record(patient=scanned_late.patient, kind=MilestoneKind.TREATMENT_STARTED, on=date(2026, 3, 20))
    withdrawn = enrolled_on(date(2026, 5, 10), clinic, pathway)
    mistake = milestone_record(patient=withdrawn.patient, kind=MilestoneKind.CONSULTATION_ATTENDED,
                               on=date(2026, 5, 12))
    milestone_withdraw(milestone=mistake, reason="wrong patient")
    earlier_fracture = enrolled_on(date(2026, 5, 10), clinic, pathway)
    milestone_record(patient=earlier_fracture.patient, kind=MilestoneKind.CONSULTATION_ATTENDED,
                     on=date(2025, 9, 1))
    died = enrolled_on(date(2026, 5, 10), clinic, pathway)
    milestone_record(patient=died.patient, kind=MilestoneKind.DIED, on=date(2026, 5, 20))

    board = by_key(dashboard_build(clinics=[clinic], now=NOW))
    # Four enrollments (the one that died is left out); the consultation target is 14 days (24 May).
    assert board["consultation"] == (4, 1, 0, 3, 0)  # booked on day 14: on time; the rest overdue on 2 June
    assert board["bone_density"] == (4, 0, 1, 0, 3)  # scanned on day 85: late
    assert board["treatment"] == (4, 1, 0, 0, 3)


def test_the_clinics_target_days_are_used(clinic, pathway):
    clinic.consultation_target_days = 30
    clinic.save()
    enrollment = enrolled_on(date(2026, 5, 10), clinic, pathway)
    answer(enrollment, "consult", "yes", utc(2026, 5, 30, 15))
    assert by_key(dashboard_build(clinics=[clinic], now=NOW))["consultation"] == (1, 1, 0, 0, 0)


def test_messages_per_day_delivery_and_failures(clinic, patient, program):
    enrollment = EnrollmentFactory(patient=patient, program=program, anchor_date=date(2026, 5, 31),
                                   enrolled_at=utc(2026, 5, 31, 13))
    day0, day1, _day7 = enrollment.messages.order_by("due_at")
    Message.objects.filter(pk=day0.pk).update(status=MessageStatus.DELIVERED)
    Message.objects.filter(pk=day1.pk).update(status=MessageStatus.FAILED, error_code="30003")
    board = dashboard_build(clinics=[clinic], now=NOW)
    assert str(board.zone) == "America/New_York"
    counts = {day.day: day.counts for day in board.per_day if day.counts}
    assert counts == {date(2026, 5, 31): {"delivered": 1}, date(2026, 6, 1): {"failed": 1}}
    assert len(board.per_day) == 14 and board.per_day[-1].day == date(2026, 6, 2)
    sms = next(row for row in board.delivery if row.channel == "sms")
    assert (sms.attempted, sms.accepted, sms.delivered, sms.failed, sms.accepted_rate) == (2, 1, 1, 1, 0.5)
    assert board.failures == [("30003", 1)]
    assert {day.day: day.counts for day in board.due_next if day.counts} == {date(2026, 6, 7): {"sms": 1}}


def test_open_escalations_most_urgent_then_oldest_with_age(clinic, patient):
    old = Escalation.objects.create(clinic=clinic, patient=patient, kind="check_in", urgency=2, summary="old")
    urgent = Escalation.objects.create(clinic=clinic, patient=patient, kind="red_flag", urgency=1, summary="urgent")
    Escalation.objects.create(clinic=clinic, patient=patient, kind="red_flag", urgency=1, summary="done",
                              acknowledged_at=NOW)
    Escalation.objects.filter(pk=old.pk).update(created_at=NOW - timedelta(days=3))
    Escalation.objects.filter(pk=urgent.pk).update(created_at=NOW - timedelta(hours=2))
    board = dashboard_build(clinics=[clinic], now=NOW)
    assert [(e.escalation.summary, e.age) for e in board.open_escalations] == [
        ("urgent", timedelta(hours=2)), ("old", timedelta(days=3))]
    assert board.open_escalation_total == 2


def test_days_are_counted_in_utc_across_zones(clinic, clinic_b):
    assert str(dashboard_build(clinics=[clinic, clinic_b], now=NOW).zone) == "UTC"


def test_the_query_count_does_not_grow_with_the_data(clinic, pathway, program):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            dashboard_build(clinics=[clinic], now=NOW)
        return len(queries)

    enrollment = enrolled_on(date(2026, 5, 20), clinic, pathway)
    answer(enrollment, "consult", "yes", utc(2026, 5, 25))
    Escalation.objects.create(clinic=clinic, patient=enrollment.patient, kind="check_in", summary="x")
    few = count()
    for index in range(8):
        more = enrolled_on(date(2026, 5, 20 + index), clinic, pathway if index % 2 else program)
        if index % 2:
            answer(more, "bone", "yes", utc(2026, 5, 29))
        Escalation.objects.create(clinic=clinic, patient=more.patient, kind="check_in", summary="y")
        more.messages.filter(step__offset_days=0).update(status=MessageStatus.FAILED, error_code=f"3000{index}")
    assert count() == few
