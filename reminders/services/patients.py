"""Writing patients: consent changes always reach the ledger."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Channel, ConsentActor, Patient
from ..selectors.patients import MatchKind, patient_duplicates_find
from .consent import CONSENT_FIELDS, consent_record


@transaction.atomic
def patient_save(
    *, patient: Patient, recorded_by: AbstractBaseUser | None = None,
    actor: str = ConsentActor.COORDINATOR, source: str = "admin",
) -> Patient:
    """Validate and save a new or changed patient; each consent change is written to the ledger."""
    if patient.pk and Patient.objects.filter(pk=patient.pk, forgotten_at__isnull=False).exists():
        raise ValidationError("This patient was forgotten: the record is kept for statistics and cannot change.")
    same_mrn = [match for match in patient_duplicates_find(candidate=patient) if match.kind == MatchKind.MRN] \
        if patient.clinic_id and patient.mrn else []
    if same_mrn:
        raise ValidationError({"mrn": f"Medical record number {patient.mrn} is already on file for patient "
                                      f"{same_mrn[0].patient.pk} of this clinic."})
    patient.full_clean()
    if recorded_by is not None:
        patient._history_user = recorded_by  # the audit history's "who", also outside a request
    before = (
        Patient.objects.filter(pk=patient.pk).values(*CONSENT_FIELDS.values()).first()
        if patient.pk else None
    )
    patient.save()
    for channel, field in CONSENT_FIELDS.items():
        now_given = getattr(patient, field)
        was_given = before[field] if before else None
        if now_given != was_given and (before is not None or now_given):
            consent_record(
                patient=patient, channel=Channel(channel), given=now_given, actor=actor,
                source=source, recorded_by=recorded_by,
            )
    return patient
