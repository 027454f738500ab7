"""A patient's road and schedule in one read: their milestones, and each enrollment's messages.

``manage.py patient_timeline`` prints it (as JSON with ``--json``, for scripts
and support). Times are the patient's: a message's planned time in their zone,
with its offset, so a reminder across a daylight-saving change reads as the
patient's clock has it.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time

from ..models import Enrollment, Message, Milestone, Patient
from .milestones import patient_milestones

ANCHOR = "anchor"  # a message's relative_to when its step is timed from the anchor date


@dataclass(frozen=True)
class TimelineMilestone:
    milestone: Milestone
    kind: str
    date: date
    time: time | None
    recorded_by: str | None  # the user name; None when no user recorded it (a patient's reply, a file)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "date": self.date.isoformat(),
                "time": self.time.strftime("%H:%M") if self.time else None, "recorded_by": self.recorded_by}


@dataclass(frozen=True)
class TimelineMessage:
    message: Message
    step: str
    topic: str
    channel: str
    relative_to: str  # "anchor" or the milestone kind the step is timed from
    scheduled_local: datetime  # the planned time in the patient's zone
    status: str
    reason: str

    def as_dict(self) -> dict:
        return {"step": self.step, "topic": self.topic, "channel": self.channel, "relative_to": self.relative_to,
                "scheduled_local": self.scheduled_local.isoformat(), "status": self.status, "reason": self.reason}


@dataclass(frozen=True)
class TimelineEnrollment:
    enrollment: Enrollment
    program: str  # the program's slug
    status: str
    messages: list[TimelineMessage]

    def as_dict(self) -> dict:
        return {"program": self.program, "status": self.status,
                "messages": [message.as_dict() for message in self.messages]}


@dataclass(frozen=True)
class PatientTimeline:
    patient: Patient
    zone: zoneinfo.ZoneInfo
    milestones: list[TimelineMilestone]
    enrollments: list[TimelineEnrollment]

    def as_dict(self) -> dict:
        """The shape ``patient_timeline --json`` prints (issue 14's interface)."""
        return {"milestones": [milestone.as_dict() for milestone in self.milestones],
                "enrollments": [enrollment.as_dict() for enrollment in self.enrollments]}


def _message_order(message: Message, *, anchor_date: date, zone: zoneinfo.ZoneInfo) -> tuple:
    """The program's days, then the time of day; a reminder timed from an appointment where its own day and
    time fall among them."""
    step = message.step
    if step.relative_to:
        local = message.scheduled_at.astimezone(zone)
        day, at = (local.date() - anchor_date).days, local.time()
    else:
        day, at = step.offset_days, step.send_time
    return (day, at, step.key, message.channel, message.pk)


def patient_timeline(*, patient: Patient) -> PatientTimeline:
    """The patient's standing milestones in date order, and their enrollments (oldest first) with every
    message planned for them, in the program's order."""
    zone = patient.zone
    milestones = [
        TimelineMilestone(milestone=m, kind=m.kind, date=m.date, time=m.time,
                          recorded_by=m.recorded_by.get_username() if m.recorded_by_id else None)
        for m in patient_milestones(patient=patient)
    ]
    enrollments = []
    for enrollment in (Enrollment.objects.filter(patient=patient).select_related("program")
                       .prefetch_related("messages__step").order_by("anchor_date", "created_at", "pk")):
        messages = sorted(enrollment.messages.all(),
                          key=lambda m: _message_order(m, anchor_date=enrollment.anchor_date, zone=zone))
        enrollments.append(TimelineEnrollment(
            enrollment=enrollment, program=enrollment.program.slug, status=enrollment.status,
            messages=[TimelineMessage(
                message=m, step=m.step.key, topic=m.step.topic, channel=m.channel,
                relative_to=m.step.relative_to or ANCHOR, scheduled_local=m.scheduled_at.astimezone(zone),
                status=m.status, reason=m.reason,
            ) for m in messages],
        ))
    return PatientTimeline(patient=patient, zone=zone, milestones=milestones, enrollments=enrollments)
