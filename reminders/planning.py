"""
Planning an enrollment's schedule: which messages, at what times, for a patient.

Pure: it reads the program's steps and the patient's zone and channels, and
writes nothing. The services write what it plans (enrolling, consent given
again); the anchor-correction preview compares against it.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import Channel, Enrollment, Message, MessageStatus, Patient, Program, Step
from .scheduling import lateness_reason, local_send_time, next_allowed_time


@dataclass(frozen=True)
class PlannedMessage:
    step: Step
    channel: str
    scheduled_at: datetime
    due_at: datetime
    status: str
    reason: str
    # Already past its due time but within its late policy: it goes out at once, late.
    sends_late: bool = False

    def unsaved_message(self, *, enrollment: Enrollment) -> Message:
        return Message(enrollment=enrollment, step=self.step, channel=self.channel, scheduled_at=self.scheduled_at,
                       due_at=self.due_at, status=self.status, reason=self.reason)


def enrollment_plan(
    *, patient: Patient, program: Program, anchor_date: date, now: datetime | None = None
) -> list[PlannedMessage]:
    """The messages an enrollment would get, without writing anything.

    One per step and channel the patient is reached on, at "day N at HH:MM" in
    the patient's zone, moved out of the clinic's quiet hours for SMS. Steps
    already too late under their late policy are planned as skipped.
    """
    now = now or timezone.now()
    zone = patient.zone
    clinic = patient.clinic
    reachable = set(patient.channels())
    planned = []
    for step in program.steps.all():
        scheduled_at = local_send_time(
            anchor_date=anchor_date, offset_days=step.offset_days, send_time=step.send_time, zone=zone
        )
        for channel in step.channels():
            if channel not in reachable:
                continue
            due_at = scheduled_at
            if channel == Channel.SMS:
                due_at = next_allowed_time(
                    moment=scheduled_at, zone=zone,
                    start=clinic.quiet_hours_start, end=clinic.quiet_hours_end,
                )
            late = lateness_reason(max_lateness=step.max_lateness, due_at=due_at, now=now, zone=zone)
            planned.append(
                PlannedMessage(
                    step=step, channel=channel, scheduled_at=scheduled_at, due_at=due_at,
                    status=MessageStatus.SKIPPED if late else MessageStatus.PENDING,
                    reason=late or "", sends_late=not late and due_at < now,
                )
            )
    return planned


def anchor_date_validate(*, patient: Patient, anchor_date: date, now: datetime) -> None:
    """Refuse an anchor date in the future or further back than allowed, on the field."""
    today = now.astimezone(patient.zone).date()
    if anchor_date > today:
        raise ValidationError(
            {"anchor_date": f"{anchor_date:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d} "
                            "in the patient's time zone); enroll on or after the day of the event."}
        )
    max_days = settings.ENROLLMENT_MAX_BACKDATE_DAYS
    if anchor_date < today - timedelta(days=max_days):
        raise ValidationError(
            {"anchor_date": f"{anchor_date:%Y-%m-%d} is {(today - anchor_date).days} days ago; "
                            f"an enrollment can start at most {max_days} days back."}
        )
