"""
"Needs action": patients past a target of their road with nothing recorded.

The targets count from the anchor date (the diagnosis or procedure) of the
patient's earliest open enrollment, in the patient's own zone:

- a consultation booked or attended, by the clinic's ``consultation_target_days``;
- a bone density scan (DXA) booked or done, by day 84 (12 weeks);
- a decision on bone medicine (recommended, started or declined), by day 112 (16 weeks).

A target is missed from the day after its last day: on the target day itself
there is still time. Only milestones that stand (not withdrawn) and are dated
on or after the anchor date count, as for the schedule (an earlier one belongs
to an earlier fracture). A patient who died or moved away is off the list.

One query for the patients and one for their last call attempts, whatever their
number: the flags are EXISTS subqueries, the dates are compared here.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from ..models import (
    ENDING_KINDS,
    LATEST_ZONE,
    Clinic,
    ContactAttempt,
    Enrollment,
    EnrollmentStatus,
    Milestone,
    MilestoneKind,
    Patient,
)

OPEN_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
DXA_TARGET_DAYS = 84
MEDICINE_TARGET_DAYS = 112


@dataclass(frozen=True)
class Target:
    key: str
    missing: str  # what is missing, in words
    kinds: tuple[str, ...]  # any of these, recorded, meets the target
    record_kind: str  # the milestone offered to record
    days: int | None  # days after the anchor date; None: the clinic's consultation target

    def days_for(self, clinic: Clinic) -> int:
        return clinic.consultation_target_days if self.days is None else self.days


TARGETS = (
    Target("consultation", "No consultation booked or attended",
           (MilestoneKind.CONSULTATION_BOOKED, MilestoneKind.CONSULTATION_ATTENDED),
           MilestoneKind.CONSULTATION_BOOKED, None),
    Target("dxa", "No bone density scan booked or done",
           (MilestoneKind.DXA_BOOKED, MilestoneKind.DXA_DONE), MilestoneKind.DXA_BOOKED, DXA_TARGET_DAYS),
    Target("medicine", "No decision on bone medicine",
           (MilestoneKind.TREATMENT_RECOMMENDED, MilestoneKind.TREATMENT_STARTED, MilestoneKind.TREATMENT_DECLINED),
           MilestoneKind.TREATMENT_RECOMMENDED, MEDICINE_TARGET_DAYS),
)


@dataclass(frozen=True)
class Missed:
    target: Target
    due: date  # the target's last day
    days_past: int  # at least 1


@dataclass(frozen=True)
class NeedsActionRow:
    patient: Patient  # with its clinic
    enrollment: Enrollment  # the earliest open one: its anchor date is the road's start
    missed: list[Missed]  # most overdue first
    last_attempt: ContactAttempt | None

    @property
    def days_past(self) -> int:
        return self.missed[0].days_past


def _recorded(kinds: Iterable[str]) -> Exists:
    return Exists(Milestone.objects.filter(patient_id=OuterRef("patient_id"), kind__in=list(kinds),
                                           withdrawn_at__isnull=True, date__gte=OuterRef("anchor_date")))


def needs_action_list(*, clinics: Iterable[Clinic], now: datetime | None = None) -> list[NeedsActionRow]:
    """The patients of ``clinics`` with an open enrollment who are past a target with nothing recorded,
    most overdue first (then the earliest anchor date). Each row's patient has its names, mobile, zone,
    language and clinic loaded; its enrollment, the anchor date."""
    now = now or timezone.now()
    clinics = list(clinics)
    if not clinics:
        return []
    # No patient's today is later than today where the day starts first: a first cut in the database.
    shortest = min(min(target.days_for(clinic) for target in TARGETS) for clinic in clinics)
    latest_today = now.astimezone(LATEST_ZONE).date()
    flags = {target.key: _recorded(target.kinds) for target in TARGETS}
    last_attempt = ContactAttempt.objects.filter(patient_id=OuterRef("patient_id")).order_by("-created_at", "-id")
    # The patient's earliest open enrollment starts the road: a later one (a second program) is not a second row.
    earlier = Enrollment.objects.filter(
        Q(anchor_date__lt=OuterRef("anchor_date")) | Q(anchor_date=OuterRef("anchor_date"), pk__lt=OuterRef("pk")),
        patient_id=OuterRef("patient_id"), status__in=OPEN_STATUSES)
    enrollments = (
        Enrollment.objects
        .filter(status__in=OPEN_STATUSES, patient__clinic__in=clinics, patient__forgotten_at__isnull=True,
                anchor_date__lt=latest_today - timedelta(days=shortest))
        .annotate(**{f"has_{key}": flag for key, flag in flags.items()},
                  ended=Exists(Milestone.objects.filter(patient_id=OuterRef("patient_id"), kind__in=ENDING_KINDS,
                                                        withdrawn_at__isnull=True)),
                  last_attempt_id=Subquery(last_attempt.values("pk")[:1]))
        .filter(ended=False)
        .exclude(Exists(earlier))
        .filter(Q(**{f"has_{TARGETS[0].key}": False}) | Q(**{f"has_{TARGETS[1].key}": False})
                | Q(**{f"has_{TARGETS[2].key}": False}))
        # What the list shows, and no more: thousands of rows, each phone number parsed as it is read.
        .select_related("patient")
        .only("patient_id", "program_id", "anchor_date", "status", "patient__clinic_id", "patient__first_name",
              "patient__last_name", "patient__mobile", "patient__time_zone", "patient__language")
        .order_by()
    )
    by_id = {clinic.pk: clinic for clinic in clinics}
    rows = []
    for enrollment in enrollments:
        patient = enrollment.patient
        patient.clinic = by_id[patient.clinic_id]  # the clinics in hand, not one copy a row
        today = now.astimezone(patient.zone).date()
        missed = []
        for target in TARGETS:
            if getattr(enrollment, f"has_{target.key}"):
                continue
            due = enrollment.anchor_date + timedelta(days=target.days_for(patient.clinic))
            if (today - due).days > 0:
                missed.append(Missed(target=target, due=due, days_past=(today - due).days))
        if missed:
            missed.sort(key=lambda item: -item.days_past)
            rows.append((enrollment, missed))
    attempt_ids = [enrollment.last_attempt_id for enrollment, _ in rows if enrollment.last_attempt_id]
    attempts = ContactAttempt.objects.select_related("made_by").in_bulk(attempt_ids) if attempt_ids else {}
    result = [NeedsActionRow(patient=enrollment.patient, enrollment=enrollment, missed=missed,
                             last_attempt=attempts.get(enrollment.last_attempt_id))
              for enrollment, missed in rows]
    return sorted(result, key=lambda row: (-row.days_past, row.enrollment.anchor_date, row.patient.pk))
