"""Enrolling a new patient in one step: the patient, their consent and the enrollment together.

The admin's enrollment page and the CSV import both go through here, so a
patient is never left half-enrolled and consent always reaches the ledger.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Clinic, ConsentActor, Enrollment, Patient, Program
from ..planning import PlannedMessage, enrollment_plan
from ..selectors.patients import MatchKind, PatientMatch, patient_duplicates_find
from .enrollments import enrollment_create, enrollment_validate
from .patients import patient_save

PATIENT_FIELDS = (
    "clinic", "first_name", "last_name", "mobile", "email", "sms_consent", "email_consent",
    "discreet", "time_zone", "language", "mrn", "date_of_birth",
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
    mrn: str = ""
    date_of_birth: date | None = None

    def unsaved_patient(self) -> Patient:
        return Patient(**{name: getattr(self, name) for name in PATIENT_FIELDS})


@dataclass(frozen=True)
class IntakeCheck:
    patient: Patient  # unsaved
    timeline: list[PlannedMessage]
    # Patients of the clinic on file with the same mobile (or the same names and
    # contact): enrolling needs a confirmation that this is someone else.
    matches: list[PatientMatch] = field(default_factory=list)

    @property
    def skipped(self) -> list[PlannedMessage]:
        return [planned for planned in self.timeline if planned.reason]


def enrollment_intake_check(
    *, intake: PatientIntake, now: datetime | None = None, unchecked: Collection[str] = (),
    find_duplicates: bool = True,
) -> IntakeCheck | None:
    """Validate an intake without writing anything, and plan the timeline it would get.

    Raises ValidationError keyed by field, with every problem of every field at
    once: the patient's fields, the channel and anchor date rules, the program's,
    and a medical record number already on file. ``unchecked`` names fields
    the caller already refused (their values may be None): the checks that need
    them are left out, and nothing is planned (None). ``find_duplicates=False`` leaves out the patients on file
    (the CSV import looks for them in one query for the whole file).
    """
    unchecked = set(unchecked)
    errors: dict = {}
    patient = intake.unsaved_patient()
    try:
        # The record number's uniqueness is checked below, naming the patient who has it.
        patient.full_clean(exclude=unchecked, validate_constraints=False)
    except ValidationError as exc:
        errors = {key: value for key, value in exc.update_error_dict({}).items() if key not in unchecked}
    matches = []
    if find_duplicates and "clinic" not in unchecked and patient.clinic_id:
        matches = patient_duplicates_find(candidate=patient)
        errors.update(_mrn_errors(matches))
    try:
        enrollment_validate(
            patient=patient, program=intake.program, anchor_event=intake.anchor_event,
            anchor_date=intake.anchor_date, now=now, unchecked=unchecked | set(errors),
        )
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
    if unchecked:
        return None  # the caller has refused fields to report: nothing to plan yet
    timeline = enrollment_plan(
        patient=patient, program=intake.program, anchor_date=intake.anchor_date, now=now
    )
    return IntakeCheck(patient=patient, timeline=timeline,
                       matches=[match for match in matches if match.kind != MatchKind.MRN])


def _mrn_errors(matches: list[PatientMatch]) -> dict[str, list[str]]:
    return {"mrn": [
        f"Medical record number {match.patient.mrn} is already on file for patient {match.patient.pk} "
        "of this clinic; to enroll them in a program, use “Enroll in a program” on their page."
        for match in matches if match.kind == MatchKind.MRN
    ]} if any(match.kind == MatchKind.MRN for match in matches) else {}


@transaction.atomic
def enrollment_intake_create(
    *,
    intake: PatientIntake,
    enrolled_by: AbstractBaseUser | None,
    actor: str = ConsentActor.COORDINATOR,
    source: str = "admin enrollment page",
    now: datetime | None = None,
    different_person_confirmed: bool = False,
) -> Enrollment:
    """Create the patient (consent to the ledger) and enroll them, in one transaction.

    A patient of the clinic already on file with the same mobile (or names and
    contact) is refused unless ``different_person_confirmed``: the same person
    twice would get every text twice; a shared family phone is confirmed.
    """
    candidate = intake.unsaved_patient()
    matches = patient_duplicates_find(candidate=candidate) if candidate.clinic_id else []
    if errors := _mrn_errors(matches):
        raise ValidationError(errors)
    if matches and not different_person_confirmed:
        raise ValidationError({"different_person": (
            f"Patient {matches[0].patient.pk} of this clinic has the same mobile or contact: confirm that this "
            "is a different person (e.g. a shared family phone), or enroll the patient on file instead.")})
    patient = patient_save(patient=intake.unsaved_patient(), recorded_by=enrolled_by, actor=actor, source=source)
    return enrollment_create(
        patient=patient, program=intake.program, anchor_event=intake.anchor_event,
        anchor_date=intake.anchor_date, enrolled_by=enrolled_by, now=now,
    )
