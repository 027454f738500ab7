"""The scenarios' load: patients enrolled in a real program, every SMS of it due now."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from reminders.models import (
    AnchorEvent,
    Clinic,
    Enrollment,
    Language,
    Message,
    MessageStatus,
    Patient,
    Program,
    StatusReason,
)
from reminders.planning import enrollment_plan
from reminders.services.enrollments import enrollment_cancel

PROGRAM_SLUG = "after-procedure"
# Back-dated messages the late policy must skip, and enrollments a coordinator
# cancels while their messages are being sent.
TOO_LATE_SHARE = 0.02
CANCEL_SHARE = 0.03


@dataclass(frozen=True)
class Plan:
    messages: int
    too_late: int
    enrollment_ids: list[int]


def _clinic_create(*, now: datetime) -> Clinic:
    # An hour of quiet twelve hours away: nothing due now is held back by it.
    start = (now + timedelta(hours=12)).astimezone(UTC).hour
    return Clinic.objects.create(
        name="Chaos Test Clinic", phone="+12025550143", time_zone="UTC",
        quiet_hours_start=time(start), quiet_hours_end=time((start + 1) % 24),
    )


def chaos_messages_plan(*, patients: int, now: datetime, seed: int) -> Plan:
    """Enroll ``patients`` patients (SMS only) and make every message of theirs due now.

    Each patient has a number of their own, and each step's text differs, so a
    message is told apart at the provider by (To, Body): a second text to the
    same number with the same body is a duplicate.
    """
    rng = random.Random(seed)
    program = Program.objects.prefetch_related("steps").get(slug=PROGRAM_SLUG)
    clinic = _clinic_create(now=now)
    people = Patient.objects.bulk_create(
        Patient(clinic=clinic, first_name=f"Chaos{index}", last_name="Patient",
                mobile=f"+1202{3000000 + index}", sms_consent=True, email_consent=False,
                language=Language.SPANISH if index % 5 == 4 else Language.ENGLISH)
        for index in range(patients)
    )
    enrollments = Enrollment.objects.bulk_create(
        Enrollment(patient=person, program=program, anchor_event=AnchorEvent.PVP, anchor_date=now.date())
        for person in people
    )
    messages, too_late = [], 0
    for enrollment in enrollments:
        for planned in enrollment_plan(patient=enrollment.patient, program=program,
                                       anchor_date=enrollment.anchor_date, now=now, milestones=()):
            # Whatever the step's day, due within the last half minute: one backlog.
            due_at = now - timedelta(seconds=rng.uniform(0, 30))
            if planned.step.max_lateness and rng.random() < TOO_LATE_SHARE:
                due_at = now - planned.step.max_lateness - timedelta(hours=1)
                too_late += 1
            messages.append(Message(enrollment=enrollment, step=planned.step, channel=planned.channel,
                                    scheduled_at=due_at, due_at=due_at, status=MessageStatus.PENDING))
    Message.objects.bulk_create(messages, batch_size=1000)
    return Plan(messages=len(messages), too_late=too_late, enrollment_ids=[e.pk for e in enrollments])


def chaos_enrollments_cancel(*, plan: Plan, seed: int) -> int:
    """Cancel a few enrollments through the coordinators' service, racing the workers."""
    rng = random.Random(seed)
    chosen = rng.sample(plan.enrollment_ids, k=max(1, round(len(plan.enrollment_ids) * CANCEL_SHARE)))
    for enrollment in Enrollment.objects.filter(pk__in=chosen):
        enrollment_cancel(enrollment=enrollment, reason=StatusReason.PATIENT_REQUEST.label)
    return len(chosen)
