"""
Forgetting a patient: everything that identifies them goes, every row stays.

Statistics (how many were enrolled, texted, reached, replied, escalated) keep
their counts: rows are anonymized in place, never deleted. What goes:

- the patient's names, mobile number, email address, record number and date
  of birth, also from every historical version of the patient (the audit
  history would otherwise keep them) and from the admin's log of changes;
- the text of every message sent to them and of every reply they sent;
- text others typed about them that messages and enrollments quote (pause and
  cancel reasons), the coordinators' notes on their escalations, and what the
  consent ledger copied from a reply.

What stays: clinic, language, time zone, dates, states, error codes, check-in
answers (a number or yes/no), escalations (written by the service from fixed
phrases), provider ids (they carry nothing themselves and keep a replayed
webhook from recreating a reply), and the consent ledger's grants and
withdrawals with who recorded them. The forgetting is itself recorded: one
history entry, "forgotten", by the user who did it, and the consent
withdrawals it makes.

The provider keeps its own logs: delete the patient's messages at Twilio (and
the mail provider) separately.
"""

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import (
    UNSENT_STATUSES,
    Channel,
    ConsentActor,
    ConsentEvent,
    Enrollment,
    EnrollmentStatus,
    EscalationNote,
    InboundMessage,
    Message,
    MessageStatus,
    Patient,
)
from .consent import CONSENT_FIELDS, consent_record
from .message_states import message_transition

FORGOTTEN_NAMES = {"first_name": "Forgotten", "last_name": "Patient"}
CANCELLED = "cancelled: patient forgotten"
REMOVED = "reason removed: patient forgotten"
# Message reasons that quote a coordinator's reason or a consent source, by their system-written start.
QUOTING_REASONS = ("paused: ", "cancelled: ")


def _scrubbed_reason(reason: str) -> str:
    if reason == CANCELLED:
        return reason
    for start in QUOTING_REASONS:
        if reason.startswith(start):
            return f"{start}{REMOVED}"
    if " consent withdrawn (" in reason:
        return reason.split(" (", 1)[0]
    return reason


@transaction.atomic
def patient_forget(*, patient: Patient, forgotten_by: AbstractBaseUser | None) -> Patient:
    """Anonymize ``patient`` for good, keeping all rows and counts; see the module's docstring.

    Idempotent. Raises ValidationError, changing nothing, while a message to the
    patient is being handed to the provider: try again a minute later.
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.forgotten_at:
        return patient
    now = timezone.now()
    mobile = patient.mobile.as_e164 if patient.mobile else None
    messages = Message.objects.filter(enrollment__patient=patient)

    # Nothing more goes out. Cancelling first means no worker can take a message
    # after the check below; one already sending would write its text back.
    message_transition(messages=messages, from_statuses=UNSENT_STATUSES, to=MessageStatus.CANCELLED, now=now,
                       reason=CANCELLED, claim_token=None)
    if messages.filter(status=MessageStatus.SENDING).exists():
        raise ValidationError("A message to this patient is being sent right now; try again in a minute.")
    # Settling an unknown outcome needs the text and the number, which are going.
    message_transition(messages=messages, from_statuses=[MessageStatus.UNKNOWN], to=MessageStatus.FAILED, now=now,
                       reason="outcome unknown when the patient was forgotten; not looked up")

    quoting = [m for m in messages.only("pk", "reason") if _scrubbed_reason(m.reason) != m.reason]
    for message in quoting:
        message.reason = _scrubbed_reason(message.reason)
    Message.objects.bulk_update(quoting, ["reason"])
    messages.update(body="", subject="")

    replies = InboundMessage.objects.filter(patient=patient)
    if mobile:  # texts from the number that no patient was found for
        replies = replies | InboundMessage.objects.filter(patient__isnull=True, from_number=mobile)
    replies.update(body="", from_number="")

    for actor in ConsentActor:  # a source could quote the reply that withdrew consent
        ConsentEvent.objects.filter(patient=patient, actor=actor).update(source=actor.label)

    enrollments = Enrollment.objects.filter(patient=patient)
    enrollments.exclude(status_reason="").update(status_reason=REMOVED)
    EscalationNote.objects.filter(escalation__patient=patient).update(text=REMOVED)
    Enrollment.history.filter(patient_id=patient.pk).exclude(status_reason="").update(status_reason=REMOVED)
    for enrollment in enrollments.filter(status__in=[EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED]):
        enrollment.status, enrollment.status_reason = EnrollmentStatus.CANCELLED, "patient forgotten"
        enrollment._change_reason, enrollment._history_user = "patient forgotten", forgotten_by
        enrollment.save(update_fields=["status", "status_reason"])

    for channel, field in CONSENT_FIELDS.items():
        if getattr(patient, field):
            consent_record(patient=patient, channel=Channel(channel), given=False, actor=ConsentActor.COORDINATOR,
                           source="patient forgotten", recorded_by=forgotten_by)

    # The audit history keeps every version of the patient: scrub them all, then
    # add the one that says what happened.
    anonymous = {**FORGOTTEN_NAMES, "mobile": "", "email": "", "mrn": "", "date_of_birth": None}
    Patient.history.filter(id=patient.pk).update(**anonymous)
    for name, value in anonymous.items():
        setattr(patient, name, value)
    patient.forgotten_at = now
    patient._change_reason, patient._history_user = "forgotten", forgotten_by
    patient.save()

    # The admin's log names objects by their str(), which held the patient's name.
    def relabel(obj) -> None:
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)),
                                object_id=str(obj.pk)).update(object_repr=str(obj)[:200])

    relabel(patient)
    for enrollment in Enrollment.objects.filter(patient=patient).select_related("patient", "program"):
        relabel(enrollment)
    return patient
