"""
What a change to a patient's road would do, for the preview pages: recording,
moving or withdrawing a milestone, muting or unmuting a step.

The schedule changes come from ``milestone_change_preview`` and
``enrollment_schedule_changes`` (selectors/milestones.py), the very rows the
services apply. Added here is what those leave to the services: ``died`` and
``moved_away`` end every open enrollment, and withdrawing one of them opens
those enrollments again, with what comes back in them. A fingerprint of the
whole lets the confirming request check that it applies what was shown.
"""

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.db.models import Count, Q
from django.utils import timezone

from ..models import (
    ENDING_KINDS,
    UNSENT_STATUSES,
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    Milestone,
    Patient,
    Step,
    StepMute,
)
from ..planning import enrollment_mutes, milestones_current, mute_words
from .milestones import (
    OPEN_STATUSES,
    EnrollmentChanges,
    ScheduleChangeRow,
    enrollment_schedule_changes,
    milestone_change_preview,
)

# Rows whose times matter: a message that will wait for its time. Others (skipped, cancelled) are
# fingerprinted without them: "no time recorded for the appointment" is planned at the moment of asking.
WAITING = (MessageStatus.PENDING, MessageStatus.PAUSED)


@dataclass(frozen=True)
class EndingEnrollment:
    enrollment: Enrollment
    unsent: int  # messages not yet sent: all are cancelled


@dataclass(frozen=True)
class ReopeningEnrollment:
    enrollment: Enrollment
    rows: list[ScheduleChangeRow]  # what comes back in it
    stays_ended: bool = False  # enrolled in the same program again since: this one stays ended


@dataclass(frozen=True)
class MilestoneEffects:
    changes: list[EnrollmentChanges] = field(default_factory=list)
    ending: list[EndingEnrollment] = field(default_factory=list)
    reopening: list[ReopeningEnrollment] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        return not (self.changes or self.ending or self.reopening)

    def fingerprint(self) -> str:
        """What the preview showed, as a short hash: equal when the same request would change the same rows."""
        parts = []
        for changes in self.changes:
            parts += [f"e{changes.enrollment.pk}", *map(_row_key, changes.rows)]
        for ending in self.ending:
            parts.append(f"end{ending.enrollment.pk}:{ending.unsent}")
        for reopening in self.reopening:
            parts += [f"reopen{reopening.enrollment.pk}:{reopening.stays_ended}", *map(_row_key, reopening.rows)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _row_key(row: ScheduleChangeRow) -> str:
    times = f"{row.scheduled_at.isoformat()}/{row.due_at.isoformat()}" if row.status in WAITING else ""
    return ",".join(str(part) for part in (
        row.change.value, row.step.pk, row.channel, row.milestone.pk if row.milestone else "",
        row.message.pk if row.message else "", row.status, row.reason, times, row.sends_late))


def _ending(*, patient: Patient) -> list[EndingEnrollment]:
    enrollments = (Enrollment.objects.filter(patient=patient, status__in=OPEN_STATUSES)
                   .select_related("program").order_by("anchor_date", "pk")
                   .annotate(unsent=Count("messages", filter=Q(messages__status__in=UNSENT_STATUSES))))
    return [EndingEnrollment(enrollment=enrollment, unsent=enrollment.unsent) for enrollment in enrollments]


def _reopening(*, milestone: Milestone, now: datetime) -> list[ReopeningEnrollment]:
    """The enrollments ``milestone`` ended, as they would be once it is withdrawn."""
    patient = milestone.patient
    standing = [m for m in milestones_current(patient=patient) if m.pk != milestone.pk]
    found = []
    for enrollment in (Enrollment.objects.filter(ended_by=milestone, status=EnrollmentStatus.CANCELLED)
                       .select_related("patient__clinic", "program").order_by("anchor_date", "pk")):
        if Enrollment.objects.filter(patient=patient, program=enrollment.program_id, status__in=OPEN_STATUSES).exists():
            found.append(ReopeningEnrollment(enrollment=enrollment, rows=[], stays_ended=True))
            continue
        reopened = copy.copy(enrollment)  # in memory only: open again, as the service makes it
        reopened.status, reopened.status_reason, reopened.ended_by = EnrollmentStatus.ACTIVE, "", None
        found.append(ReopeningEnrollment(
            enrollment=enrollment, rows=enrollment_schedule_changes(enrollment=reopened, now=now, milestones=standing)))
    return found


def milestone_record_effects(
    *, patient: Patient, kind: str, on: date, at: time | None = None, recorded_by=None, now: datetime | None = None,
) -> MilestoneEffects:
    """What recording a ``kind`` milestone on ``on`` (at ``at``) would change. Writes nothing."""
    now = now or timezone.now()
    if kind in ENDING_KINDS:
        return MilestoneEffects(ending=_ending(patient=patient))
    return MilestoneEffects(changes=milestone_change_preview(
        patient=patient, kind=kind, on=on, at=at, recorded_by=recorded_by, now=now))


def milestone_correct_effects(
    *, milestone: Milestone, on: date, at: time | None = None, now: datetime | None = None,
) -> MilestoneEffects:
    """What moving ``milestone`` to ``on`` (at ``at``) would change. Writes nothing."""
    return MilestoneEffects(changes=milestone_change_preview(
        patient=milestone.patient, milestone=milestone, on=on, at=at, now=now or timezone.now()))


def milestone_withdraw_effects(*, milestone: Milestone, now: datetime | None = None) -> MilestoneEffects:
    """What withdrawing ``milestone`` would change: schedules, and enrollments it ended open again."""
    now = now or timezone.now()
    return MilestoneEffects(
        changes=milestone_change_preview(patient=milestone.patient, milestone=milestone, withdraw=True, now=now),
        reopening=_reopening(milestone=milestone, now=now))


def step_mute_current(*, enrollment: Enrollment, step: Step) -> StepMute | None:
    return (StepMute.objects.filter(enrollment=enrollment, step=step, unmuted_at__isnull=True)
            .select_related("muted_by").first())


def step_mute_effects(
    *, enrollment: Enrollment, step: Step, reason: str = "", muted_by=None, now: datetime | None = None,
) -> MilestoneEffects:
    """What muting ``step`` for ``enrollment`` would change (its unsent messages cancelled). Writes nothing."""
    mutes = enrollment_mutes(enrollment=enrollment)
    mutes[step.pk] = mute_words(StepMute(step=step, reason=reason.strip()[:200], muted_by=muted_by))
    rows = enrollment_schedule_changes(enrollment=enrollment, now=now or timezone.now(), mutes=mutes)
    return MilestoneEffects(changes=[EnrollmentChanges(enrollment=enrollment, rows=rows)] if rows else [])


def step_unmute_effects(*, enrollment: Enrollment, step: Step, now: datetime | None = None) -> MilestoneEffects:
    """What lifting the mute of ``step`` would bring back, if still in time. Writes nothing."""
    mutes = {step_id: words for step_id, words in enrollment_mutes(enrollment=enrollment).items()
             if step_id != step.pk}
    rows = enrollment_schedule_changes(enrollment=enrollment, now=now or timezone.now(), mutes=mutes)
    return MilestoneEffects(changes=[EnrollmentChanges(enrollment=enrollment, rows=rows)] if rows else [])
