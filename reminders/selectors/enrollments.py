"""Reading enrollments: what correcting an anchor date would change."""

import enum
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from ..models import SENT_STATUSES, Enrollment, EnrollmentStatus, Message, MessageStatus
from ..planning import anchor_date_validate, enrollment_mutes, enrollment_plan

# Only messages still waiting move; anything in flight or finished is history.
MOVABLE_STATUSES = (MessageStatus.PENDING, MessageStatus.PAUSED)


class AnchorChange(enum.StrEnum):
    MOVES = "moves"
    SKIPPED = "skipped"  # would now be in the past beyond its late policy
    SENT = "sent"  # already sent: unchanged
    UNCHANGED = "unchanged"  # in flight, finished otherwise, or no longer reachable


@dataclass(frozen=True)
class AnchorChangeRow:
    message: Message
    change: AnchorChange
    new_scheduled_at: datetime | None
    new_due_at: datetime | None
    reason: str
    # Moves to a time already past, within its late policy: it goes out at once, late.
    sends_late: bool = False


@dataclass(frozen=True)
class AnchorChangePreview:
    enrollment: Enrollment
    old_anchor_date: date
    new_anchor_date: date
    zone: zoneinfo.ZoneInfo
    rows: list[AnchorChangeRow]

    def count(self, change: AnchorChange) -> int:
        return sum(1 for row in self.rows if row.change == change)


def enrollment_anchor_change_preview(
    *, enrollment: Enrollment, anchor_date: date, now: datetime | None = None
) -> AnchorChangePreview:
    """What moving ``enrollment``'s anchor to ``anchor_date`` would do, message by message.

    Pending and paused messages move to the new plan; those the new plan puts
    beyond their late policy are skipped. Sent and in-flight messages stay as
    they are. Raises ValidationError on ``anchor_date`` for a date not allowed.
    """
    now = now or timezone.now()
    if enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED):
        raise ValidationError({"anchor_date": (
            f"The enrollment is {enrollment.get_status_display().lower()}; only an active or "
            "paused enrollment can have its anchor date corrected.")})
    if anchor_date == enrollment.anchor_date:
        raise ValidationError({"anchor_date": f"{anchor_date:%Y-%m-%d} is already the anchor date."})
    patient = enrollment.patient
    anchor_date_validate(patient=patient, anchor_date=anchor_date, now=now)
    plan = {
        planned.key: planned
        for planned in enrollment_plan(
            patient=patient, program=enrollment.program, anchor_date=anchor_date, now=now,
            mutes=enrollment_mutes(enrollment=enrollment),
        )
    }
    rows = []
    for message in enrollment.messages.select_related("step").order_by("due_at", "id"):
        planned = plan.get((message.step_id, message.channel, message.milestone_id))
        if message.status in SENT_STATUSES:
            rows.append(AnchorChangeRow(message, AnchorChange.SENT, None, None, "already sent"))
        elif message.status not in MOVABLE_STATUSES:
            rows.append(AnchorChangeRow(
                message, AnchorChange.UNCHANGED, None, None, f"{message.get_status_display().lower()}"))
        elif planned is None:
            rows.append(AnchorChangeRow(
                message, AnchorChange.UNCHANGED, None, None,
                f"the patient is no longer reached by {message.get_channel_display()}"))
        elif message.milestone_id and planned.scheduled_at == message.scheduled_at:
            rows.append(AnchorChangeRow(message, AnchorChange.UNCHANGED, None, None, "timed from the appointment"))
        elif planned.status == MessageStatus.CANCELLED:
            rows.append(AnchorChangeRow(message, AnchorChange.UNCHANGED, None, None, planned.reason))
        elif planned.reason:
            rows.append(AnchorChangeRow(
                message, AnchorChange.SKIPPED, planned.scheduled_at, planned.due_at, planned.reason))
        else:
            rows.append(AnchorChangeRow(
                message, AnchorChange.MOVES, planned.scheduled_at, planned.due_at, "", sends_late=planned.sends_late))
    return AnchorChangePreview(
        enrollment=enrollment, old_anchor_date=enrollment.anchor_date, new_anchor_date=anchor_date,
        zone=patient.zone, rows=rows,
    )
