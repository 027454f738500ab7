"""Escalations: acknowledging that a coordinator has taken one on."""

import logging
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone

from ..models import Escalation, EscalationNote
from ..validators import validate_plain_text

NOTE_MAX_CHARS = 1000

logger = logging.getLogger(__name__)


def escalation_acknowledge(
    *, escalation: Escalation, acknowledged_by: AbstractBaseUser, now: datetime | None = None
) -> bool:
    """Record who acknowledged an open escalation and when.

    Returns False if it was already acknowledged; the first acknowledgement is
    kept, so two coordinators clicking at once do not overwrite each other.
    """
    now = now or timezone.now()
    updated = Escalation.objects.filter(pk=escalation.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=acknowledged_by
    )
    escalation.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    if updated:
        logger.info("escalation %s acknowledged by user %s", escalation.pk, acknowledged_by.pk)
    return bool(updated)


def escalation_note_add(*, escalation: Escalation, text: str, written_by: AbstractBaseUser) -> EscalationNote:
    """Record what a coordinator did about ``escalation`` (kept with who and when; never edited).

    Raises ValidationError on ``note`` for an empty or too long note, or one with hidden characters.
    """
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    if not text:
        raise ValidationError({"note": "Write what was done (e.g. called the patient, booked a visit)."})
    if len(text) > NOTE_MAX_CHARS:
        raise ValidationError({"note": f"A note holds at most {NOTE_MAX_CHARS} characters ({len(text)} given)."})
    try:
        for line in text.splitlines():
            validate_plain_text(line)
    except ValidationError as exc:
        raise ValidationError({"note": exc.messages}) from exc
    note = EscalationNote.objects.create(escalation=escalation, text=text, written_by=written_by)
    logger.info("note %s added to escalation %s by user %s", note.pk, escalation.pk, written_by.pk)
    return note
