"""The schedule follows the patient's road: milestones stop steps, time reminders, and end enrollments."""

from datetime import date, time, timedelta

import pytest
from django.core.exceptions import ValidationError

from reminders.models import (
    CancelSource,
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    MilestoneKind,
    MilestoneSource,
)
from reminders.rendering import render_message
from reminders.selectors.milestones import ScheduleChange, milestone_change_preview
from reminders.services.enrollments import enrollment_pause
from reminders.services.milestones import (
    milestone_correct,
    milestone_record,
    milestone_withdraw,
    step_mute,
    step_unmute,
)
from tests.factories import EnrollmentFactory, ProgramFactory, UserFactory
from tests.moments import DAY, ENROLLED_AT, NOW, utc

pytestmark = pytest.mark.time_machine(NOW, tick=False)  # 2 June 2026, 14:00 in New York (EDT)

BOOKED = MilestoneKind.CONSULTATION_BOOKED
ATTENDED = MilestoneKind.CONSULTATION_ATTENDED


@pytest.fixture
def coordinator(db):
    return UserFactory(username="coord-a")


@pytest.fixture
def program(make_program):
    """A specialist text that stops once a consultation is booked or attended, a scan text that stops at
    the scan, a plain text that listens to nothing, and two reminders timed from a booked consultation."""
    return make_program(steps=[
        {"key": "day3-book-specialist", "offset_days": 3, "send_time": time(10),
         "until": [BOOKED, ATTENDED]},
        {"key": "day5-book-specialist-again", "offset_days": 5, "send_time": time(10), "until": [ATTENDED]},
        {"key": "day6-scan", "offset_days": 6, "send_time": time(10), "until": [MilestoneKind.DXA_DONE]},
        {"key": "day8-keep-moving", "offset_days": 8, "send_time": time(10)},
        {"key": "consultation-evening-before", "relative_to": BOOKED, "offset_days": -1, "send_time": time(18),
         "template": "test/appointment", "max_lateness": timedelta(hours=4)},
        {"key": "consultation-two-hours-before", "relative_to": BOOKED, "offset_days": 0, "offset_hours": -2,
         "send_time": time(0), "template": "test/appointment", "max_lateness": timedelta(hours=1)},
    ])


@pytest.fixture
def enrollment(patient, program):
    return EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)


def statuses(enrollment) -> dict[str, tuple[str, str]]:
    return {m.step.key: (m.status, m.reason) for m in enrollment.messages.select_related("step")
            if m.milestone_id is None}


def reminders(enrollment) -> list[Message]:
    return list(enrollment.messages.filter(milestone__isnull=False).select_related("step").order_by("due_at"))


def test_a_milestone_cancels_exactly_the_steps_that_listen_to_it_with_the_reason(enrollment, patient, coordinator):
    milestone_record(patient=patient, kind=ATTENDED, on=DAY, recorded_by=coordinator)

    after = statuses(enrollment)
    reason = "consultation attended on 2 Jun, recorded by coord-a"
    assert after["day3-book-specialist"] == (MessageStatus.CANCELLED, reason)
    assert after["day5-book-specialist-again"] == (MessageStatus.CANCELLED, reason)
    assert after["day6-scan"] == (MessageStatus.PENDING, "")
    assert after["day8-keep-moving"] == (MessageStatus.PENDING, "")
    assert set(enrollment.messages.filter(status=MessageStatus.CANCELLED).values_list("cancel_source", flat=True)) \
        == {CancelSource.MILESTONE}
    assert reminders(enrollment) == []  # attending is not booking: nothing to remind of


def test_a_booking_stops_only_its_listeners_and_plans_its_reminders(enrollment, patient, coordinator):
    milestone_record(patient=patient, kind=BOOKED, on=date(2026, 6, 12), at=time(14, 30), recorded_by=coordinator)

    after = statuses(enrollment)
    assert after["day3-book-specialist"] == (
        MessageStatus.CANCELLED, "consultation booked for 12 Jun 14:30, recorded by coord-a")
    assert after["day5-book-specialist-again"] == (MessageStatus.PENDING, "")  # stops only at attended
    evening, morning = reminders(enrollment)
    assert (evening.step.key, evening.status) == ("consultation-evening-before", MessageStatus.PENDING)
    assert evening.scheduled_at == utc(2026, 6, 11, 22, 0)  # 11 June 18:00 EDT
    assert (morning.step.key, morning.scheduled_at) == ("consultation-two-hours-before", utc(2026, 6, 12, 16, 30))
    assert render_message(message=evening).text.endswith("your visit is on 12 Jun at 14:30.")


def test_a_check_in_already_answered_by_a_milestone_is_planned_cancelled_at_enrolment(patient, program, coordinator):
    milestone_record(patient=patient, kind=ATTENDED, on=DAY, recorded_by=coordinator)
    enrollment = EnrollmentFactory(patient=patient, program=program)

    assert statuses(enrollment)["day3-book-specialist"][0] == MessageStatus.CANCELLED
    assert statuses(enrollment)["day8-keep-moving"][0] == MessageStatus.PENDING


def test_a_milestone_dated_before_the_anchor_belongs_to_an_earlier_fracture(enrollment, patient, coordinator):
    milestone_record(patient=patient, kind=ATTENDED, on=DAY - timedelta(days=400), recorded_by=coordinator)

    assert statuses(enrollment)["day3-book-specialist"] == (MessageStatus.PENDING, "")


def test_withdrawing_a_milestone_plans_again_what_it_stopped_if_still_in_time(
        enrollment, patient, coordinator, clock):
    attended = milestone_record(patient=patient, kind=ATTENDED, on=DAY, recorded_by=coordinator)
    # 6 June 12:00 in New York: the day-3 text (5 June 10:00) is past its 12 hours; day 5 is not due yet.
    clock.move_to(utc(2026, 6, 6, 16, 0))
    milestone_withdraw(milestone=attended, reason="recorded on the wrong patient", withdrawn_by=coordinator)

    after = statuses(enrollment)
    assert after["day3-book-specialist"][0] == MessageStatus.CANCELLED  # too late now: it stays cancelled
    assert after["day5-book-specialist-again"] == (MessageStatus.PENDING, "")
    message = enrollment.messages.get(step__key="day5-book-specialist-again")
    assert (message.scheduled_at, message.cancel_source) == (utc(2026, 6, 7, 14, 0), "")
    attended.refresh_from_db()
    assert attended.withdrawn_by == coordinator and attended.withdrawal_reason == "recorded on the wrong patient"


def test_a_message_cancelled_for_another_reason_does_not_come_back(enrollment, patient, coordinator):
    message = enrollment.messages.get(step__key="day3-book-specialist")
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.CANCELLED, reason="SMS consent withdrawn (x)")
    attended = milestone_record(patient=patient, kind=ATTENDED, on=DAY, recorded_by=coordinator)
    milestone_withdraw(milestone=attended, reason="mistake", withdrawn_by=coordinator)

    assert statuses(enrollment)["day3-book-specialist"] == (MessageStatus.CANCELLED, "SMS consent withdrawn (x)")
    assert statuses(enrollment)["day5-book-specialist-again"] == (MessageStatus.PENDING, "")


def test_an_appointment_moved_twice_leaves_one_reminder_at_the_right_local_time_across_dst(
        enrollment, patient, coordinator):
    # Booked for 30 October (EDT), moved to 3 November, then to 5 November 09:00 (EST: clocks went back 1 Nov).
    booking = milestone_record(patient=patient, kind=BOOKED, on=date(2026, 10, 30), at=time(11),
                               recorded_by=coordinator)
    assert [m.scheduled_at for m in reminders(enrollment)] == [utc(2026, 10, 29, 22), utc(2026, 10, 30, 13)]
    milestone_correct(milestone=booking, on=date(2026, 11, 3), at=time(10), changed_by=coordinator)
    milestone_correct(milestone=booking, on=date(2026, 11, 5), at=time(9), changed_by=coordinator)

    evening, morning = reminders(enrollment)
    assert evening.scheduled_at == utc(2026, 11, 4, 23)  # 4 November 18:00 EST
    assert morning.scheduled_at == utc(2026, 11, 5, 12)  # 07:00 EST, two hours before 09:00
    assert (evening.status, morning.status) == (MessageStatus.PENDING, MessageStatus.PENDING)
    assert enrollment.messages.filter(milestone=booking).count() == 2  # one per step: moved, never doubled
    booking.refresh_from_db()
    assert [h.date for h in booking.history.order_by("history_date")] == [
        date(2026, 10, 30), date(2026, 11, 3), date(2026, 11, 5)]


def test_an_appointment_moved_into_the_past_skips_its_reminder_in_words(enrollment, patient, coordinator, clock):
    booking = milestone_record(patient=patient, kind=BOOKED, on=date(2026, 6, 12), at=time(14), recorded_by=coordinator)
    clock.move_to(utc(2026, 6, 3, 16))  # 3 June, noon: the booking was in fact yesterday
    milestone_correct(milestone=booking, on=date(2026, 6, 2), at=time(11), changed_by=coordinator)

    evening, morning = reminders(enrollment)
    assert evening.status == MessageStatus.SKIPPED
    assert evening.reason == "too late: due 1 Jun 18:00 EDT, allowed 4 hours"
    assert (morning.status, morning.reason) == (MessageStatus.SKIPPED, "too late: due 2 Jun 09:00 EDT, allowed 1 hour")


def test_withdrawing_a_booking_cancels_its_reminders_and_brings_back_what_it_stopped(
        enrollment, patient, coordinator):
    booking = milestone_record(patient=patient, kind=BOOKED, on=date(2026, 6, 12), recorded_by=coordinator)
    milestone_withdraw(milestone=booking, reason="the patient cancelled", withdrawn_by=coordinator)

    assert statuses(enrollment)["day3-book-specialist"] == (MessageStatus.PENDING, "")
    evening, morning = sorted(reminders(enrollment), key=lambda m: m.step.key)
    assert evening.status == MessageStatus.CANCELLED
    assert evening.reason == "consultation booked for 12 Jun, recorded by coord-a: withdrawn"
    # No time recorded for the booking: "two hours before" cannot be planned, and says so.
    assert (morning.status, morning.reason) == (MessageStatus.SKIPPED, "no time recorded for the appointment")


def test_a_reminder_of_a_paused_enrollment_is_planned_held(enrollment, patient, coordinator):
    enrollment_pause(enrollment=enrollment, reason="Admitted to hospital")
    milestone_record(patient=patient, kind=BOOKED, on=date(2026, 6, 12), at=time(14), recorded_by=coordinator)

    assert {(m.status, m.reason) for m in reminders(enrollment)} == {
        (MessageStatus.PAUSED, "paused: Admitted to hospital")}


def test_died_ends_every_enrollment_at_once_and_withdrawing_it_opens_them_again(
        enrollment, patient, coordinator, make_program):
    other = EnrollmentFactory(patient=patient, program=make_program(slug="other"), enrolled_at=ENROLLED_AT)
    died = milestone_record(patient=patient, kind=MilestoneKind.DIED, on=DAY, recorded_by=coordinator)

    for each in (enrollment, other):
        each.refresh_from_db()
        assert each.status == EnrollmentStatus.CANCELLED
        assert each.status_reason == "died on 2 Jun, recorded by coord-a"
        assert not each.messages.filter(status__in=[MessageStatus.PENDING, MessageStatus.PAUSED]).exists()
    assert Message.objects.filter(enrollment__patient=patient, status=MessageStatus.CANCELLED,
                                  reason="cancelled: died on 2 Jun, recorded by coord-a").count() == 4 + 1

    milestone_withdraw(milestone=died, reason="wrong patient", withdrawn_by=coordinator)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert statuses(enrollment)["day8-keep-moving"] == (MessageStatus.PENDING, "")


def test_moved_away_ends_the_enrollments_with_that_reason(enrollment, patient, coordinator):
    milestone_record(patient=patient, kind=MilestoneKind.MOVED_AWAY, on=DAY, recorded_by=coordinator)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.status_reason) == (
        EnrollmentStatus.CANCELLED, "moved away on 2 Jun, recorded by coord-a")


def test_one_step_muted_for_one_patient_and_unmuted(enrollment, patient, coordinator):
    step = enrollment.program.steps.get(key="day8-keep-moving")
    mute = step_mute(enrollment=enrollment, step=step, reason="bed-bound, advice does not apply", muted_by=coordinator)
    assert statuses(enrollment)["day8-keep-moving"] == (
        MessageStatus.CANCELLED, "muted by coord-a: bed-bound, advice does not apply")
    assert statuses(enrollment)["day6-scan"] == (MessageStatus.PENDING, "")
    with pytest.raises(ValidationError, match="already muted"):
        step_mute(enrollment=enrollment, step=step, reason="again", muted_by=coordinator)

    step_unmute(mute=mute, unmuted_by=coordinator)
    assert statuses(enrollment)["day8-keep-moving"] == (MessageStatus.PENDING, "")


def test_a_mute_needs_a_reason_and_a_step_of_the_program(enrollment, coordinator, program):
    step = program.steps.first()
    with pytest.raises(ValidationError) as error:
        step_mute(enrollment=enrollment, step=step, reason="  ", muted_by=coordinator)
    assert error.value.message_dict == {"reason": ["Give a reason."]}
    alien = ProgramFactory(slug="alien").steps.first()
    with pytest.raises(ValidationError) as error:
        step_mute(enrollment=enrollment, step=alien, reason="x", muted_by=coordinator)
    assert "step" in error.value.message_dict


@pytest.mark.parametrize(("fields", "field"), [
    ({"kind": ATTENDED, "on": DAY + timedelta(days=2)}, "date"),
    ({"kind": ATTENDED, "on": DAY, "at": time(10)}, "time"),
    ({"kind": "lunch", "on": DAY}, "kind"),
    ({"kind": ATTENDED, "on": DAY, "detail": "bad\x00text"}, "detail"),
])
def test_bad_input_names_the_field_and_records_nothing(enrollment, patient, coordinator, fields, field):
    before = list(enrollment.messages.values_list("pk", "status", "reason"))
    with pytest.raises(ValidationError) as error:
        milestone_record(patient=patient, recorded_by=coordinator, **fields)
    assert field in error.value.message_dict
    assert not patient.milestones.exists()
    assert list(enrollment.messages.values_list("pk", "status", "reason")) == before


def test_the_preview_shows_what_recording_would_change_and_writes_nothing(enrollment, patient, coordinator):
    before = list(enrollment.messages.values_list("pk", "status"))
    [changes] = milestone_change_preview(patient=patient, kind=BOOKED, on=date(2026, 6, 12), at=time(14),
                                         recorded_by=coordinator)
    assert changes.count(ScheduleChange.CANCELS) == 1
    assert changes.count(ScheduleChange.PLANS) == 2
    assert list(enrollment.messages.values_list("pk", "status")) == before
    assert not patient.milestones.exists()


def test_a_check_in_answer_records_the_milestone_it_stands_for(enrollment, patient, program):
    from reminders.services.inbound import inbound_receive

    step = program.steps.get(key="day5-book-specialist-again")
    step.asks, step.answer_milestones = "choice_1_3", {"1": ATTENDED}
    step.save()
    message = enrollment.messages.get(step=step)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT, sent_at=NOW)
    inbound_receive(provider_message_id="SM" + "a" * 32, from_number=str(patient.mobile), body="1")

    milestone = patient.milestones.get()
    assert (milestone.kind, milestone.date, milestone.source) == (ATTENDED, DAY, MilestoneSource.PATIENT_REPLY)
    assert statuses(enrollment)["day3-book-specialist"] == (
        MessageStatus.CANCELLED, "consultation attended on 2 Jun, from the patient's reply")


def test_only_open_enrollments_follow(enrollment, patient, coordinator):
    Enrollment.objects.filter(pk=enrollment.pk).update(status=EnrollmentStatus.COMPLETED)
    milestone_record(patient=patient, kind=ATTENDED, on=DAY, recorded_by=coordinator)
    assert statuses(enrollment)["day3-book-specialist"] == (MessageStatus.PENDING, "")
