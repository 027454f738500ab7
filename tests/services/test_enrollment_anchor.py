from datetime import date, time, timedelta

import pytest
from django.core.exceptions import ValidationError

from reminders.models import Message, MessageStatus
from reminders.selectors.enrollments import AnchorChange, enrollment_anchor_change_preview
from reminders.services.enrollment_anchor import enrollment_change_anchor
from reminders.services.enrollments import enrollment_cancel, enrollment_pause
from tests.factories import EnrollmentFactory
from tests.moments import NOW, utc

CORRECTED_AT = NOW + timedelta(days=3)  # 5 June, 14:00 in New York: the anchor date is corrected then

pytestmark = pytest.mark.time_machine(CORRECTED_AT, tick=False)


@pytest.fixture
def enrollment(patient, make_program):
    program = make_program(steps=[
        {"key": "day0", "offset_days": 0, "send_time": time(10)},
        {"key": "day2", "offset_days": 2, "send_time": time(10)},
        {"key": "day5", "offset_days": 5, "send_time": time(10)},
        {"key": "day9", "offset_days": 9, "send_time": time(10)},
    ])
    enrollment = EnrollmentFactory(patient=patient, program=program, anchor_date=date(2026, 6, 4))
    # Day 0 already went out.
    enrollment.messages.filter(step__key="day0").update(status=MessageStatus.SENT, sent_at=CORRECTED_AT)
    return enrollment


def by_step(preview):
    return {row.message.step.key: row for row in preview.rows}


def test_the_preview_tells_what_moves_what_was_sent_and_what_is_now_too_late(enrollment):
    # Moved three days back to 1 June: day 2 (3 June 10:00) is now beyond its 12 h lateness.
    preview = enrollment_anchor_change_preview(enrollment=enrollment, anchor_date=date(2026, 6, 1))
    rows = by_step(preview)
    assert rows["day0"].change == AnchorChange.SENT
    assert rows["day2"].change == AnchorChange.SKIPPED and rows["day2"].reason.startswith("too late")
    assert rows["day5"].change == AnchorChange.MOVES
    assert rows["day5"].new_due_at == utc(2026, 6, 6, 14, 0)  # 10:00 EDT on 6 June
    assert rows["day9"].new_due_at == utc(2026, 6, 10, 14, 0)
    # A preview writes nothing.
    assert Message.objects.get(enrollment=enrollment, step__key="day5").due_at == utc(2026, 6, 9, 14, 0)


def test_applying_moves_the_waiting_messages_and_keeps_the_history(enrollment, admin_user):
    preview = enrollment_change_anchor(enrollment=enrollment, anchor_date=date(2026, 6, 1), changed_by=admin_user)
    assert (preview.count(AnchorChange.MOVES), preview.count(AnchorChange.SKIPPED)) == (2, 1)
    messages = {m.step.key: m for m in enrollment.messages.select_related("step")}
    assert messages["day0"].status == "sent"
    assert messages["day2"].status == "skipped" and messages["day2"].reason.startswith("too late")
    assert (messages["day5"].status, messages["day5"].due_at) == ("pending", utc(2026, 6, 6, 14, 0))
    enrollment.refresh_from_db()
    assert enrollment.anchor_date == date(2026, 6, 1)
    latest, before = enrollment.history.all()[:2]
    assert (before.anchor_date, latest.anchor_date) == (date(2026, 6, 4), date(2026, 6, 1))
    assert latest.history_user == admin_user
    assert latest.history_change_reason == "anchor date corrected from 2026-06-04 to 2026-06-01"


def test_a_later_date_moves_paused_messages_and_they_stay_paused(enrollment, admin_user):
    enrollment_pause(enrollment=enrollment, reason="Admitted to hospital")
    enrollment_change_anchor(enrollment=enrollment, anchor_date=date(2026, 6, 5), changed_by=admin_user)
    day2 = enrollment.messages.get(step__key="day2")
    assert (day2.status, day2.due_at) == ("paused", utc(2026, 6, 7, 14, 0))


def test_messages_in_flight_stay_as_they_are(enrollment, admin_user):
    queued = enrollment.messages.get(step__key="day2")
    Message.objects.filter(pk=queued.pk).update(status=MessageStatus.QUEUED)
    preview = enrollment_change_anchor(enrollment=enrollment, anchor_date=date(2026, 6, 3), changed_by=admin_user)
    assert by_step(preview)["day2"].change == AnchorChange.UNCHANGED
    assert Message.objects.get(pk=queued.pk).due_at == queued.due_at


@pytest.mark.parametrize(("anchor", "words"), [
    (date(2026, 6, 4), "already the anchor date"),
    (date(2026, 6, 8), "in the future"),
    (date(2026, 4, 1), "at most 30 days back"),
])
def test_a_date_not_allowed_changes_nothing(enrollment, admin_user, anchor, words):
    before = list(enrollment.messages.values_list("pk", "due_at", "status"))
    with pytest.raises(ValidationError) as caught:
        enrollment_change_anchor(enrollment=enrollment, anchor_date=anchor, changed_by=admin_user)
    assert words in " ".join(caught.value.message_dict["anchor_date"])
    assert list(enrollment.messages.values_list("pk", "due_at", "status")) == before
    enrollment.refresh_from_db()
    assert enrollment.anchor_date == date(2026, 6, 4)


def test_a_cancelled_enrollment_cannot_be_moved(enrollment, admin_user):
    enrollment_cancel(enrollment=enrollment, reason="Deceased")
    enrollment.refresh_from_db()
    with pytest.raises(ValidationError, match="cancelled"):
        enrollment_change_anchor(enrollment=enrollment, anchor_date=date(2026, 6, 3), changed_by=admin_user)


def test_the_quiet_hours_apply_to_moved_messages(patient, make_program, admin_user):
    program = make_program(steps=[{"key": "late", "offset_days": 3, "send_time": time(22, 30)}])
    enrollment = EnrollmentFactory(patient=patient, program=program, anchor_date=date(2026, 6, 5))
    enrollment_change_anchor(enrollment=enrollment, anchor_date=date(2026, 6, 4), changed_by=admin_user)
    message = enrollment.messages.get()
    assert message.scheduled_at == utc(2026, 6, 8, 2, 30)  # 22:30 EDT on 7 June
    assert message.due_at - message.scheduled_at == timedelta(hours=9, minutes=30)  # 08:00 next morning
