"""Consent per patient and channel: the ledger and the current state move together."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..models import UNSENT_STATUSES, Channel, ConsentEvent, Message, MessageStatus, Patient
from .message_states import message_transition

CONSENT_FIELDS = {Channel.SMS: "sms_consent", Channel.EMAIL: "email_consent"}


@transaction.atomic
def consent_record(
    *,
    patient: Patient,
    channel: str,
    given: bool,
    actor: str,
    source: str,
    recorded_by: AbstractBaseUser | None = None,
) -> ConsentEvent:
    """Write a consent change to the ledger and to the patient.

    Withdrawing consent cancels, in the same transaction, every message on that
    channel that has not gone out yet.
    """
    field = CONSENT_FIELDS[channel]
    Patient.objects.filter(pk=patient.pk).update(**{field: given})
    setattr(patient, field, given)
    event = ConsentEvent.objects.create(
        patient=patient, channel=channel, given=given, actor=actor, source=source[:200],
        recorded_by=recorded_by,
    )
    if not given:
        message_transition(
            messages=Message.objects.filter(enrollment__patient=patient, channel=channel),
            from_statuses=UNSENT_STATUSES, to=MessageStatus.CANCELLED, now=timezone.now(),
            reason=f"{Channel(channel).label} consent withdrawn ({source[:80]})",
        )
    return event
