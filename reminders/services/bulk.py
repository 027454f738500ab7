"""
Writing many checked intakes at once: the CSV import's last step.

Each intake was checked by ``enrollment_intake_check`` (the same rules as
enrolling one patient). They are written in one transaction, in batches: the
patients and their audit history, their consent in the ledger, the
enrollments (with history) and every planned message. One by one, through
``enrollment_intake_create``, a 2,000-row file took 16 s of writes; in batches
it is the few seconds figure 5 of BENCHMARKS.md measures for 10,000.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from ..models import ConsentActor, ConsentEvent, Enrollment, Message, Patient
from .consent import CONSENT_FIELDS
from .enrollment_intake import PatientIntake
from ..planning import enrollment_plan


@dataclass(frozen=True)
class BulkEnrollmentResult:
    enrollments: list[Enrollment]
    messages: int


@transaction.atomic
def enrollments_bulk_write(
    *, intakes: Sequence[PatientIntake], enrolled_by: AbstractBaseUser | None = None,
    actor: str = ConsentActor.IMPORT, source: str = "bulk enrollment", now: datetime | None = None,
    batch_size: int = 2000,
) -> BulkEnrollmentResult:
    """Create the patients of checked ``intakes`` with their consent, and enroll them, all or none."""
    now = now or timezone.now()
    patients = bulk_create_with_history([intake.unsaved_patient() for intake in intakes], Patient,
                                        batch_size=batch_size, default_user=enrolled_by, default_date=now)
    ConsentEvent.objects.bulk_create(
        (ConsentEvent(patient=patient, channel=channel, given=True, actor=actor, source=source[:200],
                      recorded_by=enrolled_by)
         for patient in patients for channel, name in CONSENT_FIELDS.items() if getattr(patient, name)),
        batch_size=batch_size,
    )
    enrollments = bulk_create_with_history(
        [Enrollment(patient=patient, program=intake.program, anchor_event=intake.anchor_event,
                    anchor_date=intake.anchor_date, enrolled_by=enrolled_by)
         for intake, patient in zip(intakes, patients, strict=True)],
        Enrollment, batch_size=batch_size, default_user=enrolled_by, default_date=now,
    )
    written, planned = 0, []
    for enrollment in enrollments:
        planned.extend(p.unsaved_message(enrollment=enrollment) for p in enrollment_plan(
            patient=enrollment.patient, program=enrollment.program, anchor_date=enrollment.anchor_date, now=now,
            milestones=()))  # new patients: nothing recorded yet
        if len(planned) >= batch_size:
            written += len(Message.objects.bulk_create(planned))
            planned = []
    written += len(Message.objects.bulk_create(planned))
    return BulkEnrollmentResult(enrollments=enrollments, messages=written)
