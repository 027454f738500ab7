"""Consent per patient and channel: the ledger and the current state move together."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext

from ..models import (
    UNSENT_STATUSES,
    Channel,
    ConsentEvent,
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    Patient,
)
from .enrollments import enrollment_messages_plan_again
from .message_states import message_transition

CONSENT_FIELDS = {Channel.SMS: "sms_consent", Channel.EMAIL: "email_consent"}
# What a ledger entry says came back, by channel: singular, plural.
PLANNED_AGAIN = {Channel.SMS: ("{n} text planned again", "{n} texts planned again"),
                 Channel.EMAIL: ("{n} email planned again", "{n} emails planned again")}


def _withdrawn_reason_start(channel: str) -> str:
    """How the reason of a message cancelled by a withdrawal of this consent begins."""
    return f"{Channel(channel).label} consent withdrawn ("


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
    channel that has not gone out yet. Giving it plans again the messages a
    withdrawal cancelled, in the patient's active and paused enrollments, as a
    new enrollment would plan them now (see ``enrollment_messages_plan_again``);
    the ledger entry says how many. Every grant comes through here (a START
    text, a coordinator ticking the box, an import), so all behave alike.
    """
    now = timezone.now()
    field = CONSENT_FIELDS[channel]
    Patient.objects.filter(pk=patient.pk).update(**{field: given})
    setattr(patient, field, given)
    note = ""
    if given:
        planned_again = _withdrawn_messages_plan_again(patient=patient, channel=channel, now=now)
        if planned_again:
            note = "; " + ngettext(*PLANNED_AGAIN[channel], planned_again).format(n=planned_again)
    event = ConsentEvent.objects.create(
        patient=patient, channel=channel, given=given, actor=actor,
        source=source[:200 - len(note)] + note, recorded_by=recorded_by,
    )
    if not given:
        message_transition(
            messages=Message.objects.filter(enrollment__patient=patient, channel=channel),
            from_statuses=UNSENT_STATUSES, to=MessageStatus.CANCELLED, now=now,
            reason=f"{_withdrawn_reason_start(channel)}{source[:80]})",
        )
    return event


def _withdrawn_messages_plan_again(*, patient: Patient, channel: str, now: datetime) -> int:
    """Plan again the messages on ``channel`` that withdrawing this consent cancelled; returns how many.

    Only those: a message cancelled with its enrollment or by a coordinator stays
    cancelled, and so does every message of an enrollment no longer open.
    """
    withdrawn = Message.objects.filter(
        channel=channel, status=MessageStatus.CANCELLED, reason__startswith=_withdrawn_reason_start(channel)
    )
    open_statuses = [EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]
    candidates = set(withdrawn.filter(enrollment__patient=patient, enrollment__status__in=open_statuses)
                     .values_list("enrollment_id", flat=True))
    if not candidates:
        return 0
    planned_again = 0
    # Locked, so that a pause or cancel waits for this and then acts on what it planned.
    for enrollment in (Enrollment.objects.select_for_update()
                       .filter(pk__in=candidates, status__in=open_statuses).order_by("pk")):
        enrollment.patient = patient  # with the consent just given
        planned_again += enrollment_messages_plan_again(
            enrollment=enrollment, messages=withdrawn, now=now,
            reason=f"planned again: {Channel(channel).label} consent given again",
        )
    return planned_again
