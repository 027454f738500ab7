"""
Planning an enrollment's schedule: which messages, at what times, for a patient.

Pure: it reads the program's steps and the patient's zone and channels, and
writes nothing. The services write what it plans (enrolling, consent given
again); the anchor-correction preview compares against it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import (
    APPOINTMENT_KINDS,
    CancelSource,
    Channel,
    Enrollment,
    Message,
    MessageStatus,
    Milestone,
    MilestoneKind,
    MilestoneSource,
    Patient,
    Program,
    Step,
    StepMute,
)
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
    # The appointment a reminder is about, for a step timed from a milestone.
    milestone: Milestone | None = None
    # Cancelled by a milestone the step listens to, or by the step muted: it may come back.
    cancel_source: str = ""

    @property
    def key(self) -> tuple[int, str, int | None]:
        """What identifies the row: its step, channel and appointment (see Message's constraints)."""
        return (self.step.pk, self.channel, self.milestone.pk if self.milestone else None)

    def unsaved_message(self, *, enrollment: Enrollment) -> Message:
        return Message(enrollment=enrollment, step=self.step, channel=self.channel, scheduled_at=self.scheduled_at,
                       due_at=self.due_at, status=self.status, reason=self.reason, milestone=self.milestone,
                       cancel_source=self.cancel_source)


def milestone_words(milestone: Milestone) -> str:
    """A milestone as a reason reads it: "consultation booked for 12 Dec 14:30, recorded by coord-a"."""
    what = str(MilestoneKind(milestone.kind).label)
    what = what[0].lower() + what[1:]
    when = f"{milestone.date.day} {milestone.date:%b}"
    if milestone.kind in APPOINTMENT_KINDS:
        when = f"for {when}" + (f" {milestone.time:%H:%M}" if milestone.time else "")
    else:
        when = f"on {when}"
    if milestone.source == MilestoneSource.PATIENT_REPLY:
        who = "from the patient's reply"
    elif milestone.recorded_by_id:
        who = f"recorded by {milestone.recorded_by.get_username()}"
    else:
        who = f"recorded by {MilestoneSource(milestone.source).label.lower()}"
    return f"{what} {when}, {who}"


def milestones_current(*, patient: Patient) -> list[Milestone]:
    """The patient's milestones that stand (not withdrawn), oldest first."""
    if patient.pk is None:
        return []
    return list(patient.milestones.filter(withdrawn_at__isnull=True).select_related("recorded_by"))


def mute_words(mute: StepMute) -> str:
    who = mute.muted_by.get_username() if mute.muted_by_id else "a coordinator"
    return f"muted by {who}: {mute.reason}"


def enrollment_mutes(*, enrollment: Enrollment) -> dict[int, str]:
    """The steps muted for this enrollment now, each with the reason in words."""
    if enrollment.pk is None:
        return {}
    return {mute.step_id: mute_words(mute) for mute in
            StepMute.objects.filter(enrollment=enrollment, unmuted_at__isnull=True).select_related("muted_by")}


def appointment_moment(*, milestone: Milestone, step: Step, zone) -> datetime | None:
    """When a step timed from ``milestone`` is planned, in UTC; None when it needs a time the appointment lacks."""
    if step.offset_hours is not None:
        if milestone.time is None:
            return None
        # Hours before an appointment are hours of the clock, whatever a DST change does to the wall time.
        start = datetime.combine(milestone.date, milestone.time, tzinfo=zone).astimezone(UTC)
        return start + timedelta(hours=step.offset_hours)
    return local_send_time(anchor_date=milestone.date, offset_days=step.offset_days, send_time=step.send_time,
                           zone=zone)


def enrollment_plan(
    *, patient: Patient, program: Program, anchor_date: date, now: datetime | None = None,
    milestones: Sequence[Milestone] | None = None, mutes: Mapping[int, str] | None = None,
) -> list[PlannedMessage]:
    """The messages an enrollment would get, without writing anything.

    One per step and channel the patient is reached on, at "day N at HH:MM" in
    the patient's zone, moved out of the clinic's quiet hours for SMS; a step
    timed from an appointment gets one per appointment recorded. Steps already
    too late under their late policy are planned as skipped; those a recorded
    milestone makes pointless (the step's ``until``) or a coordinator muted
    (``mutes``: step id -> reason) are planned as cancelled, with the reason.

    ``milestones``: the patient's milestones that stand (by default read from
    the database); only those dated on or after the anchor date belong to this
    enrollment: an earlier one is an earlier fracture's.
    """
    now = now or timezone.now()
    zone = patient.zone
    clinic = patient.clinic
    reachable = set(patient.channels())
    mutes = mutes or {}
    if milestones is None:
        milestones = milestones_current(patient=patient)
    milestones = [m for m in milestones if m.date >= anchor_date]
    planned = []
    for step in program.steps.all():
        if step.relative_to:
            timings = [(m, appointment_moment(milestone=m, step=step, zone=zone))
                       for m in milestones if m.kind == step.relative_to]
        else:
            timings = [(None, local_send_time(anchor_date=anchor_date, offset_days=step.offset_days,
                                              send_time=step.send_time, zone=zone))]
        stopping = next((m for m in milestones if m.kind in step.until), None)
        for appointment, scheduled_at in timings:
            for channel in step.channels():
                if channel not in reachable:
                    continue
                if scheduled_at is None:  # "2 hours before" an appointment of unknown time
                    planned.append(PlannedMessage(
                        step=step, channel=channel, scheduled_at=now, due_at=now, status=MessageStatus.SKIPPED,
                        reason="no time recorded for the appointment", milestone=appointment))
                    continue
                due_at = scheduled_at
                if channel == Channel.SMS:
                    due_at = next_allowed_time(
                        moment=scheduled_at, zone=zone,
                        start=clinic.quiet_hours_start, end=clinic.quiet_hours_end,
                    )
                status, reason, source = MessageStatus.PENDING, "", ""
                late = lateness_reason(max_lateness=step.max_lateness, due_at=due_at, now=now, zone=zone)
                if stopping is not None:
                    status, reason, source = MessageStatus.CANCELLED, milestone_words(stopping), CancelSource.MILESTONE
                elif step.pk in mutes:
                    status, reason, source = MessageStatus.CANCELLED, mutes[step.pk], CancelSource.MUTE
                elif late:
                    status, reason = MessageStatus.SKIPPED, late
                planned.append(
                    PlannedMessage(
                        step=step, channel=channel, scheduled_at=scheduled_at, due_at=due_at, status=status,
                        reason=reason, sends_late=status == MessageStatus.PENDING and due_at < now,
                        milestone=appointment, cancel_source=source,
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
