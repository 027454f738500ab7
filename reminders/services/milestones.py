"""
Recording a patient's road (milestones) and muting steps: the schedule follows both.

Recording a milestone cancels the unsent messages of the steps that listen to it
(with the reason), plans a reminder for an appointment, and ``died`` or
``moved_away`` end every open enrollment at once. Correcting one moves what it
timed; withdrawing one plans again what it cancelled, if still in time. Each
change to the schedule is the one ``enrollment_schedule_changes`` previews,
applied under the enrollment's lock through guarded transitions, so a dispatch
cycle never claims a message half-changed.
"""

import logging
from datetime import date, datetime, time

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import (
    ENDING_KINDS,
    UNSENT_STATUSES,
    CancelSource,
    Enrollment,
    EnrollmentStatus,
    InboundMessage,
    Message,
    MessageStatus,
    Milestone,
    MilestoneSource,
    Patient,
    Step,
    StepMute,
)
from ..planning import milestone_words
from ..selectors.milestones import (
    MOVABLE_STATUSES,
    OPEN_STATUSES,
    ScheduleChange,
    ScheduleChangeRow,
    enrollment_schedule_changes,
)
from .message_states import message_transition, messages_transition_each

logger = logging.getLogger(__name__)


def _text(value: str, *, field: str, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: "Give a reason."})
    return value


@transaction.atomic
def milestone_record(
    *, patient: Patient, kind: str, on: date, at: time | None = None, detail: str = "",
    recorded_by: AbstractBaseUser | None = None, source: str = MilestoneSource.COORDINATOR,
    inbound: InboundMessage | None = None, now: datetime | None = None,
) -> Milestone:
    """Record a dated fact about the patient's road; the patient's schedules follow it at once.

    Raises ValidationError naming the field (kind, date, time, detail) and changes nothing.
    """
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
    if patient.forgotten_at:
        raise ValidationError({"patient": "This patient was forgotten; nothing more is recorded."})
    milestone = Milestone(patient=patient, kind=kind, date=on, time=at, detail=(detail or "").strip(),
                          source=source, recorded_by=recorded_by, inbound=inbound)
    milestone.full_clean(exclude=["patient", "recorded_by", "inbound", "withdrawn_by"])
    if recorded_by is not None:
        milestone._history_user = recorded_by
    milestone.save()
    if kind in ENDING_KINDS:
        _enrollments_end(patient=patient, milestone=milestone, now=now)
    _schedules_follow(patient=patient, now=now)
    logger.info("milestone %s recorded: kind=%s patient=%s", milestone.pk, kind, patient.pk)
    return milestone


@transaction.atomic
def milestone_correct(
    *, milestone: Milestone, on: date, at: time | None = None, detail: str | None = None,
    changed_by: AbstractBaseUser | None = None, now: datetime | None = None,
) -> Milestone:
    """Correct a milestone's date, time or detail (an appointment moved); its history keeps the old values."""
    now = now or timezone.now()
    milestone = Milestone.objects.select_for_update().select_related("patient__clinic").get(pk=milestone.pk)
    if milestone.withdrawn_at:
        raise ValidationError({"date": "This milestone was withdrawn; record a new one instead."})
    old = f"{milestone.date:%Y-%m-%d}" + (f" {milestone.time:%H:%M}" if milestone.time else "")
    milestone.date, milestone.time = on, at
    if detail is not None:
        milestone.detail = detail.strip()
    milestone.full_clean(exclude=["patient", "recorded_by", "inbound", "withdrawn_by"])
    if changed_by is not None:
        milestone._history_user = changed_by
    milestone._change_reason = f"corrected from {old}"
    milestone.save()
    _schedules_follow(patient=milestone.patient, now=now)
    return milestone


@transaction.atomic
def milestone_withdraw(
    *, milestone: Milestone, reason: str, withdrawn_by: AbstractBaseUser | None = None, now: datetime | None = None,
) -> Milestone:
    """Withdraw a milestone recorded by mistake: what it stopped is planned again if still in time,
    an appointment's reminders are cancelled, and enrollments it ended are open again."""
    now = now or timezone.now()
    reason = _text(reason, field="reason", required=True)
    milestone = Milestone.objects.select_for_update().select_related("patient__clinic").get(pk=milestone.pk)
    if milestone.withdrawn_at:
        raise ValidationError({"reason": "This milestone was already withdrawn."})
    milestone.withdrawn_at, milestone.withdrawn_by, milestone.withdrawal_reason = now, withdrawn_by, reason[:200]
    if withdrawn_by is not None:
        milestone._history_user = withdrawn_by
    milestone._change_reason = "withdrawn"
    milestone.save()
    for enrollment in Enrollment.objects.select_for_update().filter(ended_by=milestone,
                                                                     status=EnrollmentStatus.CANCELLED):
        enrollment.status, enrollment.status_reason, enrollment.ended_by = EnrollmentStatus.ACTIVE, "", None
        enrollment._change_reason = f"{milestone.get_kind_display()} withdrawn: {reason[:80]}"
        try:
            with transaction.atomic():
                enrollment.save(update_fields=["status", "status_reason", "ended_by"])
        except IntegrityError:
            # The patient was enrolled in the program again since: that enrollment stands.
            logger.info("enrollment %s stays ended: another is open in its program", enrollment.pk)
    _schedules_follow(patient=milestone.patient, now=now)
    return milestone


def milestone_from_answer(*, inbound: InboundMessage, step: Step, value: str) -> Milestone | None:
    """The milestone a check-in answer records (the step's ``answer_milestones``), dated the day of the reply."""
    kind = (step.answer_milestones or {}).get(value)
    if not kind or inbound.patient is None:
        return None
    received = inbound.received_at or timezone.now()
    return milestone_record(
        patient=inbound.patient, kind=kind, on=received.astimezone(inbound.patient.zone).date(),
        detail=f"answered {value} to {step.title.lower()}"[:200], source=MilestoneSource.PATIENT_REPLY,
        inbound=inbound,
    )


@transaction.atomic
def step_mute(
    *, enrollment: Enrollment, step: Step, reason: str, muted_by: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> StepMute:
    """Silence one step for one patient (its unsent messages are cancelled with the reason)."""
    now = now or timezone.now()
    reason = _text(reason, field="reason", required=True)
    enrollment = Enrollment.objects.select_for_update().select_related("patient__clinic").get(pk=enrollment.pk)
    if step.program_id != enrollment.program_id:
        raise ValidationError({"step": "This step is not in the enrollment's program."})
    if enrollment.status not in OPEN_STATUSES:
        raise ValidationError({"step": f"The enrollment is {enrollment.get_status_display().lower()}."})
    mute = StepMute(enrollment=enrollment, step=step, reason=reason[:200], muted_by=muted_by)
    mute.full_clean(exclude=["enrollment", "step", "muted_by", "unmuted_by"])
    try:
        with transaction.atomic():
            mute.save()
    except IntegrityError:
        raise ValidationError({"step": "This step is already muted for this patient."}) from None
    _enrollment_follow(enrollment=enrollment, now=now)
    return mute


@transaction.atomic
def step_unmute(*, mute: StepMute, unmuted_by: AbstractBaseUser | None = None,
                now: datetime | None = None) -> StepMute:
    """Lift a mute: the step's messages come back if still in time."""
    now = now or timezone.now()
    mute = StepMute.objects.select_for_update().get(pk=mute.pk)
    if mute.unmuted_at:
        raise ValidationError({"step": "This step is not muted any more."})
    mute.unmuted_at, mute.unmuted_by = now, unmuted_by
    mute.save(update_fields=["unmuted_at", "unmuted_by"])
    enrollment = Enrollment.objects.select_for_update().select_related("patient__clinic").get(pk=mute.enrollment_id)
    _enrollment_follow(enrollment=enrollment, now=now)
    return mute


def _enrollments_end(*, patient: Patient, milestone: Milestone, now: datetime) -> None:
    """Died or moved away: every open enrollment ends, every unsent message is cancelled with the reason."""
    reason = milestone_words(milestone)
    for enrollment in Enrollment.objects.select_for_update().filter(patient=patient, status__in=OPEN_STATUSES):
        enrollment.status, enrollment.status_reason = EnrollmentStatus.CANCELLED, reason[:200]
        enrollment.ended_by = milestone
        if milestone.recorded_by_id:
            enrollment._history_user = milestone.recorded_by
        enrollment.save(update_fields=["status", "status_reason", "ended_by"])
        # Marked as the milestone's doing: withdrawing it brings them back, if still in time.
        message_transition(messages=enrollment.messages.all(), from_statuses=UNSENT_STATUSES,
                           to=MessageStatus.CANCELLED, now=now, reason=f"cancelled: {reason}"[:300],
                           cancel_source=CancelSource.MILESTONE)


def _schedules_follow(*, patient: Patient, now: datetime) -> None:
    for enrollment in (Enrollment.objects.select_for_update().select_related("patient__clinic", "program")
                       .filter(patient=patient, status__in=OPEN_STATUSES).order_by("pk")):
        _enrollment_follow(enrollment=enrollment, now=now)


def _enrollment_follow(*, enrollment: Enrollment, now: datetime) -> list[ScheduleChangeRow]:
    """Apply what ``enrollment_schedule_changes`` says. The caller holds the enrollment locked."""
    # Hold the waiting messages so a dispatch cycle cannot claim one half-changed
    # (PostgreSQL's claim skips locked rows; SQLite serialises writers anyway).
    list(Message.objects.select_for_update().filter(enrollment=enrollment, status__in=UNSENT_STATUSES)
         .values_list("pk", flat=True))
    changes = enrollment_schedule_changes(enrollment=enrollment, now=now)
    new = [Message(enrollment=enrollment, step=row.step, channel=row.channel, milestone=row.milestone,
                   scheduled_at=row.scheduled_at, due_at=row.due_at, status=row.status, reason=row.reason[:300],
                   cancel_source=row.cancel_source)
           for row in changes if row.change == ScheduleChange.PLANS]
    Message.objects.bulk_create(new)
    moved = [(row.message.pk, row.scheduled_at, row.due_at) for row in changes if row.change == ScheduleChange.MOVES]
    for status in MOVABLE_STATUSES:
        rows = [(row.message.pk, row.scheduled_at, row.due_at, row.reason[:300]) for row in changes
                if row.change == ScheduleChange.SKIPS and row.message.status == status]
        messages_transition_each(rows=rows, columns=["scheduled_at", "due_at", "reason"], from_statuses=[status],
                                 to=MessageStatus.SKIPPED, now=now)
    if moved:
        # Moves keep the status (pending or paused); the rows are locked above.
        Message.objects.bulk_update(
            [Message(pk=pk, scheduled_at=scheduled_at, due_at=due_at, updated_at=now)
             for pk, scheduled_at, due_at in moved], ["scheduled_at", "due_at", "updated_at"])
    messages_transition_each(
        rows=[(row.message.pk, row.reason[:300], row.cancel_source) for row in changes
              if row.change == ScheduleChange.CANCELS],
        columns=["reason", "cancel_source"], from_statuses=UNSENT_STATUSES, to=MessageStatus.CANCELLED, now=now)
    for status in (MessageStatus.PENDING, MessageStatus.PAUSED):
        messages_transition_each(
            rows=[(row.message.pk, row.scheduled_at, row.due_at, row.reason[:300]) for row in changes
                  if row.change == ScheduleChange.PLANS_AGAIN and row.status == status],
            columns=["scheduled_at", "due_at", "reason"], from_statuses=[MessageStatus.CANCELLED], to=status,
            now=now, cancel_source="", claim_token=None)
    if changes:
        counts = {change.value: sum(1 for row in changes if row.change == change) for change in ScheduleChange}
        logger.info("enrollment %s schedule follows milestones: %s", enrollment.pk,
                    " ".join(f"{k}={v}" for k, v in counts.items() if v))
    return changes

