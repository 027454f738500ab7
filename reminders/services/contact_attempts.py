"""Noting a call (or an attempt) to a patient about their road, e.g. from the needs-action list."""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import ContactAttempt, Patient

logger = logging.getLogger(__name__)


@transaction.atomic
def contact_attempt_record(*, patient: Patient, note: str, made_by: AbstractBaseUser | None = None) -> ContactAttempt:
    """Record that ``made_by`` called ``patient`` (or tried to), with a short note of what happened.

    Raises ValidationError on ``note`` (empty, too long, hidden characters) and records nothing.
    """
    note = " ".join((note or "").split())
    if not note:
        raise ValidationError({"note": "Write what happened (e.g. no answer, left a voicemail, booked a visit)."})
    # Read again, locked: a patient forgotten meanwhile (patient_forget) gets nothing more.
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.forgotten_at:
        raise ValidationError({"note": "This patient was forgotten; nothing more is recorded."})
    attempt = ContactAttempt(patient=patient, note=note, made_by=made_by)
    attempt.full_clean(exclude=["patient", "made_by"])
    attempt.save()
    logger.info("contact attempt %s noted for patient %s by user %s", attempt.pk, patient.pk,
                made_by.pk if made_by else None)
    return attempt
