"""
Enrolling many new patients at once (an import from a clinic's list): the same
checks and the same schedule as enrolling one, written in batches.

Every row is checked before anything is written; one bad row writes nothing
and the errors say which row and field. A good list is written in one
transaction: the patients and their audit history, their consent in the
ledger (as a bulk import), the enrollments and every planned message.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from ..models import Clinic, ConsentActor, ConsentEvent, Enrollment, Message, Patient, Program
from .consent import CONSENT_FIELDS
from .enrollments import anchor_date_validate, enrollment_plan


@dataclass(frozen=True)
class BulkEnrollmentRow:
    first_name: str
    last_name: str
    mobile: str
    email: str
    sms_consent: bool
    email_consent: bool
    program: Program
    anchor_event: str
    anchor_date: date
    language: str = "en"
    time_zone: str = ""


@dataclass
class BulkEnrollmentResult:
    patients: int = 0
    enrollments: int = 0
    messages: int = 0
    # Row number (from 1) -> {field: [messages]}; nothing was written when there are any.
    errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _checked(*, clinic: Clinic, row: BulkEnrollmentRow, program: Program,
             now: datetime) -> tuple[Patient, Enrollment]:
    """The unsaved patient and enrollment of a row, checked as enrolling one patient checks them.

    Raises ValidationError. No query per row: the clinic and the program are
    rows just read (their foreign keys need no existence check), and the patient
    is new, so it cannot already be enrolled (the constraint is the insert's).
    """
    patient = Patient(clinic=clinic, first_name=row.first_name, last_name=row.last_name, mobile=row.mobile,
                      email=row.email, sms_consent=row.sms_consent, email_consent=row.email_consent,
                      language=row.language, time_zone=row.time_zone)
    patient.full_clean(exclude=["clinic"])
    if not program.is_active:
        raise ValidationError({"program": f"The program “{program.name}” is retired."})
    if not patient.channels():
        raise ValidationError({"patient": "The patient has no channel to send to."})
    anchor_date_validate(patient=patient, anchor_date=row.anchor_date, now=now)
    enrollment = Enrollment(patient=patient, program=program, anchor_event=row.anchor_event,
                            anchor_date=row.anchor_date)
    enrollment.full_clean(exclude=["patient", "program", "enrolled_by"], validate_constraints=False)
    return patient, enrollment


def enrollments_bulk_create(
    *, clinic: Clinic, rows: Sequence[BulkEnrollmentRow], enrolled_by: AbstractBaseUser | None = None,
    now: datetime | None = None, batch_size: int = 2000,
) -> BulkEnrollmentResult:
    """Enroll a list of new patients of ``clinic``, all or none."""
    now = now or timezone.now()
    programs = {p.pk: p for p in Program.objects.prefetch_related("steps").filter(
        pk__in={row.program.pk for row in rows})}
    result = BulkEnrollmentResult()
    checked: list[tuple[Patient, Enrollment]] = []
    for number, row in enumerate(rows, start=1):
        try:
            checked.append(_checked(clinic=clinic, row=row, program=programs[row.program.pk], now=now))
        except ValidationError as exc:
            result.errors[number] = exc.message_dict
    if result.errors:
        return result

    with transaction.atomic():
        patients = bulk_create_with_history([p for p, _ in checked], Patient, batch_size=batch_size,
                                            default_user=enrolled_by, default_date=now)
        ConsentEvent.objects.bulk_create(
            (ConsentEvent(patient=patient, channel=channel, given=True, actor=ConsentActor.IMPORT,
                          source="bulk enrollment", recorded_by=enrolled_by)
             for patient in patients for channel, name in CONSENT_FIELDS.items() if getattr(patient, name)),
            batch_size=batch_size,
        )
        for (_, enrollment), patient in zip(checked, patients):
            enrollment.patient, enrollment.enrolled_by = patient, enrolled_by
        enrollments = bulk_create_with_history([e for _, e in checked], Enrollment, batch_size=batch_size,
                                               default_user=enrolled_by, default_date=now)
        planned: list[Message] = []
        for enrollment in enrollments:
            planned.extend(
                Message(enrollment=enrollment, step=p.step, channel=p.channel, scheduled_at=p.scheduled_at,
                        due_at=p.due_at, status=p.status, reason=p.reason)
                for p in enrollment_plan(patient=enrollment.patient, program=enrollment.program,
                                         anchor_date=enrollment.anchor_date, now=now)
            )
            if len(planned) >= batch_size:
                result.messages += len(Message.objects.bulk_create(planned))
                planned = []
        result.messages += len(Message.objects.bulk_create(planned))
    result.patients, result.enrollments = len(patients), len(enrollments)
    return result
