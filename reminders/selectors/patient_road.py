"""
A patient's road at a glance, for the top of their page: the milestones that
stand, what goes out next, the last replies and call attempts, and any open
escalation. A fixed number of queries, whatever the patient's history.
"""

from dataclasses import dataclass

from ..models import (
    ContactAttempt,
    EnrollmentStatus,
    Escalation,
    InboundMessage,
    Message,
    MessageStatus,
    Milestone,
    Patient,
)


@dataclass(frozen=True)
class PatientRoad:
    patient: Patient
    milestones: list[Milestone]  # those that stand, in date order
    withdrawn: int  # how many were withdrawn (their history shows them)
    next_message: Message | None  # the next one waiting to go out (active enrollments only)
    replies: list[InboundMessage]  # newest first
    escalations: list[Escalation]  # open ones, urgent first
    attempts: list[ContactAttempt]  # newest first


def patient_road(*, patient: Patient, replies: int = 3, attempts: int = 3) -> PatientRoad:
    """What a coordinator needs first on ``patient``'s page."""
    milestones = list(patient.milestones.select_related("recorded_by").order_by("date", "time", "pk"))
    next_message = (
        Message.objects.filter(enrollment__patient=patient, enrollment__status=EnrollmentStatus.ACTIVE,
                               status=MessageStatus.PENDING)
        .select_related("step", "milestone", "enrollment__program").order_by("due_at", "pk").first()
    )
    return PatientRoad(
        patient=patient,
        milestones=[m for m in milestones if m.withdrawn_at is None],
        withdrawn=sum(1 for m in milestones if m.withdrawn_at is not None),
        next_message=next_message,
        replies=list(InboundMessage.objects.filter(patient=patient).order_by("-received_at", "-pk")[:replies]),
        escalations=list(Escalation.objects.filter(patient=patient, acknowledged_at__isnull=True)
                         .order_by("urgency", "-created_at")),
        attempts=list(ContactAttempt.objects.filter(patient=patient).select_related("made_by")
                      .order_by("-created_at", "-pk")[:attempts]),
    )


def patient_milestone_history(*, patient: Patient) -> list:
    """Every version of ``patient``'s milestones (recorded, corrected, withdrawn), newest first, with who."""
    return list(Milestone.history.filter(patient_id=patient.pk).select_related("history_user")
                .order_by("-history_date", "-history_id"))
