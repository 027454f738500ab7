"""Enrolling a new patient in one step: the patient, their consent and the enrollment together.

The admin's enrollment page and the CSV import both go through here, so a
patient is never left half-enrolled and consent always reaches the ledger.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ..models import Clinic, ConsentActor, Enrollment, Patient, Program
from ..planning import PlannedMessage, enrollment_plan
from .enrollments import enrollment_create, enrollment_validate
from .patients import patient_save

PATIENT_FIELDS = (
    "clinic", "first_name", "last_name", "mobile", "email", "sms_consent", "email_consent",
    "discreet", "time_zone", "language",
)


@dataclass(frozen=True)
class PatientIntake:
    """What a coordinator gives to enroll someone new."""

    clinic: Clinic
    first_name: str
    last_name: str
    mobile: str
    email: str
    sms_consent: bool
    email_consent: bool
    discreet: bool
    time_zone: str
    language: str
    program: Program
    anchor_event: str
    anchor_date: date

    def unsaved_patient(self) -> Patient:
        return Patient(**{name: getattr(self, name) for name in PATIENT_FIELDS})


@dataclass(frozen=True)
class IntakeCheck:
    patient: Patient  # unsaved
    timeline: list[PlannedMessage]

    @property
    def skipped(self) -> list[PlannedMessage]:
        return [planned for planned in self.timeline if planned.reason]


def enrollment_intake_check(*, intake: PatientIntake, now: datetime | None = None) -> IntakeCheck:
    """Validate an intake without writing anything, and plan the timeline it would get.

    Raises ValidationError keyed by field (patient fields first: the enrollment
    rules need a valid patient, e.g. a known time zone).
    """
    patient = intake.unsaved_patient()
    patient.full_clean()
    enrollment_validate(
        patient=patient, program=intake.program, anchor_event=intake.anchor_event,
        anchor_date=intake.anchor_date, now=now,
    )
    timeline = enrollment_plan(
        patient=patient, program=intake.program, anchor_date=intake.anchor_date, now=now
    )
    return IntakeCheck(patient=patient, timeline=timeline)


@transaction.atomic
def enrollment_intake_create(
    *,
    intake: PatientIntake,
    enrolled_by: AbstractBaseUser | None,
    actor: str = ConsentActor.COORDINATOR,
    source: str = "admin enrollment page",
    now: datetime | None = None,
) -> Enrollment:
    """Create the patient (consent to the ledger) and enroll them, in one transaction."""
    patient = patient_save(patient=intake.unsaved_patient(), recorded_by=enrolled_by, actor=actor, source=source)
    return enrollment_create(
        patient=patient, program=intake.program, anchor_event=intake.anchor_event,
        anchor_date=intake.anchor_date, enrolled_by=enrolled_by, now=now,
    )
