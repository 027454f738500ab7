"""
Reading milestones, and what recording, moving or withdrawing one would change in a schedule.

The schedule follows the patient's road: a step stops once a milestone it listens
to (its ``until``) is recorded, comes back when that milestone is withdrawn (if
still in time), and a step timed from an appointment gets a message per
appointment, moved with it. ``enrollment_schedule_changes`` compares what
``enrollment_plan`` plans today with the rows there are and says, row by row,
what would change; the service applies exactly that, and the preview shows it.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from django.utils import timezone

from ..models import (
    UNSENT_STATUSES,
    CancelSource,
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    Milestone,
    Patient,
    Step,
)
from ..planning import PlannedMessage, enrollment_mutes, enrollment_plan, milestone_words, milestones_current

OPEN_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
# Only messages still waiting move; one claimed by a dispatch cycle can still be cancelled.
MOVABLE_STATUSES = (MessageStatus.PENDING, MessageStatus.PAUSED)
COMES_BACK = (CancelSource.MILESTONE, CancelSource.MUTE)


class ScheduleChange(enum.StrEnum):
    PLANS = "plans"  # a new reminder for an appointment
    MOVES = "moves"  # a reminder follows its appointment
    SKIPS = "skips"  # its new time is already past its late policy
    CANCELS = "cancels"  # a milestone made it pointless, the step was muted, or its appointment withdrawn
    PLANS_AGAIN = "plans_again"  # what cancelled it no longer stands, and it is still in time


@dataclass(frozen=True)
class ScheduleChangeRow:
    change: ScheduleChange
    step: Step
    channel: str
    milestone: Milestone | None
    message: Message | None  # None for a row not written yet
    scheduled_at: datetime
    due_at: datetime
    status: str  # the status the row ends in
    reason: str
    cancel_source: str = ""
    sends_late: bool = False


def enrollment_schedule_changes(
    *, enrollment: Enrollment, now: datetime, milestones: Sequence[Milestone] | None = None,
    mutes: dict[int, str] | None = None,
) -> list[ScheduleChangeRow]:
    """What bringing ``enrollment``'s rows in line with the patient's milestones and mutes would change.

    ``milestones`` and ``mutes`` default to what stands now; a preview passes what
    would stand. Sent and in-flight messages are history and never change; a
    message cancelled for another reason (consent withdrawn, the enrollment
    cancelled) is not brought back here.
    """
    if enrollment.status not in OPEN_STATUSES:
        return []
    patient = enrollment.patient
    if milestones is None:
        milestones = milestones_current(patient=patient)
    if mutes is None:
        mutes = enrollment_mutes(enrollment=enrollment)
    plan = {planned.key: planned for planned in enrollment_plan(
        patient=patient, program=enrollment.program, anchor_date=enrollment.anchor_date, now=now,
        milestones=milestones, mutes=mutes)}
    rows = {(m.step_id, m.channel, m.milestone_id): m
            for m in enrollment.messages.select_related("step", "milestone").order_by("due_at", "id")}
    held = _held_reason(enrollment)
    changes = []
    for key, planned in plan.items():
        message = rows.get(key)
        change = _change(planned=planned, message=message, held=held)
        if change is not None:
            changes.append(change)
    standing = {m.pk for m in milestones}
    for key, message in rows.items():
        if key in plan or message.milestone_id is None or message.status not in UNSENT_STATUSES:
            continue
        # A reminder whose appointment no longer stands (withdrawn, or dated before the anchor now).
        words = milestone_words(message.milestone)
        reason = f"{words}: withdrawn" if message.milestone_id not in standing else f"{words}: not this enrollment's"
        changes.append(ScheduleChangeRow(
            ScheduleChange.CANCELS, message.step, message.channel, message.milestone, message,
            message.scheduled_at, message.due_at, MessageStatus.CANCELLED, reason, CancelSource.MILESTONE))
    return sorted(changes, key=lambda row: (row.due_at, row.step.pk, row.channel))


def _held_reason(enrollment: Enrollment) -> str | None:
    """The reason a paused enrollment's messages carry, or None when it is active."""
    if enrollment.status == EnrollmentStatus.PAUSED:
        return f"paused: {enrollment.status_reason}"
    return None


def _change(*, planned: PlannedMessage, message: Message | None, held: str | None) -> ScheduleChangeRow | None:
    def row(change: ScheduleChange, status: str, reason: str, source: str = "") -> ScheduleChangeRow:
        return ScheduleChangeRow(change, planned.step, planned.channel, planned.milestone, message,
                                 planned.scheduled_at, planned.due_at, status, reason, source,
                                 sends_late=planned.sends_late and status == MessageStatus.PENDING)

    waiting = (MessageStatus.PAUSED, held) if held is not None else (MessageStatus.PENDING, "")
    if message is None:
        # Anchor steps were all written at enrolment; only an appointment brings new rows.
        if planned.milestone is None:
            return None
        if planned.status == MessageStatus.PENDING:
            return row(ScheduleChange.PLANS, *waiting)
        return row(ScheduleChange.PLANS, planned.status, planned.reason, planned.cancel_source)
    if planned.status == MessageStatus.CANCELLED:
        if message.status in UNSENT_STATUSES:
            return row(ScheduleChange.CANCELS, MessageStatus.CANCELLED, planned.reason, planned.cancel_source)
        return None
    if message.status == MessageStatus.CANCELLED and message.cancel_source in COMES_BACK:
        if planned.status == MessageStatus.PENDING:
            return row(ScheduleChange.PLANS_AGAIN, *waiting)
        return None  # too late by now: it stays cancelled
    if message.milestone_id and message.status in MOVABLE_STATUSES and message.scheduled_at != planned.scheduled_at:
        if planned.status == MessageStatus.SKIPPED:
            return row(ScheduleChange.SKIPS, MessageStatus.SKIPPED, planned.reason)
        return row(ScheduleChange.MOVES, message.status, message.reason)
    return None


@dataclass(frozen=True)
class EnrollmentChanges:
    enrollment: Enrollment
    rows: list[ScheduleChangeRow]

    def count(self, change: ScheduleChange) -> int:
        return sum(1 for row in self.rows if row.change == change)


def milestone_change_preview(
    *, patient: Patient, milestone: Milestone | None = None, kind: str = "", on: date | None = None,
    at: time | None = None, withdraw: bool = False, recorded_by=None, now: datetime | None = None,
) -> list[EnrollmentChanges]:
    """What recording (a new ``kind`` on ``on`` at ``at``), moving (``milestone`` to ``on``/``at``) or
    withdrawing (``milestone``, ``withdraw``) a milestone would change, enrollment by enrollment.

    Ending milestones (died, moved away) end the enrollments instead, which this
    does not show: ``selectors.milestone_effects`` lists them for the admin's preview.
    """
    now = now or timezone.now()
    standing = [m for m in milestones_current(patient=patient) if milestone is None or m.pk != milestone.pk]
    if milestone is not None and not withdraw:
        moved = Milestone(pk=milestone.pk, patient=patient, kind=milestone.kind, date=on or milestone.date,
                          time=at if on is not None else milestone.time, detail=milestone.detail,
                          source=milestone.source, recorded_by=milestone.recorded_by)
        standing.append(moved)
    elif milestone is None:
        standing.append(Milestone(patient=patient, kind=kind, date=on, time=at, recorded_by=recorded_by))
    result = []
    for enrollment in patient_open_enrollments(patient=patient):
        rows = enrollment_schedule_changes(enrollment=enrollment, now=now, milestones=standing)
        if rows:
            result.append(EnrollmentChanges(enrollment=enrollment, rows=rows))
    return result


def patient_open_enrollments(*, patient: Patient) -> list[Enrollment]:
    return list(Enrollment.objects.filter(patient=patient, status__in=OPEN_STATUSES)
                .select_related("patient__clinic", "program").order_by("anchor_date", "pk"))


def patient_milestones(*, patient: Patient, include_withdrawn: bool = False) -> list[Milestone]:
    """The patient's road, in date order, with who recorded each fact."""
    milestones = patient.milestones.select_related("recorded_by", "withdrawn_by")
    if not include_withdrawn:
        milestones = milestones.filter(withdrawn_at__isnull=True)
    return list(milestones.order_by("date", "time", "pk"))
