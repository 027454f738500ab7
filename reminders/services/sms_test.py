"""Test texts: check that a patient's or a coordinator's number receives SMS before relying on it."""

import logging
from dataclasses import dataclass

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models
from django.template import Context, engines

from ..senders import clinic_sender
from ..backends.sms import SmsSendError, get_sms_backend
from ..models import Clinic, Coordinator, Language, Patient

logger = logging.getLogger(__name__)

TEMPLATE = "reminders/sms/test_message.txt"
# Not a planned Message: the backend's message id for test texts.
TEST_MESSAGE_ID = 0


@dataclass(frozen=True)
class SmsTestSent:
    provider_message_id: str
    body: str


def sms_test_render(*, clinic: Clinic, language: str) -> str:
    """The short test text, in ``language``; plain text, never HTML-escaped."""
    template = engines["django"].engine.get_template(TEMPLATE)
    text = template.render(Context({"clinic": clinic, "language": language}, autoescape=False))
    return " ".join(text.split())


def _record(*, obj: models.Model, sent_by: AbstractBaseUser, note: str) -> None:
    # The admin's own history of the object: who sent a test text and how it went.
    LogEntry.objects.log_actions(
        user_id=sent_by.pk, queryset=[obj], action_flag=CHANGE, change_message=note, single_object=True
    )


def _send(*, obj: models.Model, to: str, clinic: Clinic, language: str, sent_by: AbstractBaseUser) -> SmsTestSent:
    body = sms_test_render(clinic=clinic, language=language)
    kind = obj._meta.model_name
    try:
        # From the clinic's own sender: the test proves the number patients will see.
        sent = get_sms_backend().send(to=to, body=body, message_id=TEST_MESSAGE_ID, sender=clinic_sender(clinic))
    except SmsSendError as exc:
        _record(obj=obj, sent_by=sent_by, note=f"Test SMS refused by the provider ({exc.code or 'no code'}).")
        logger.warning("test sms for %s %s refused (code %s)", kind, obj.pk, exc.code or "-")
        reason = f"{exc.code}: {exc.reason}" if exc.code else exc.reason
        raise ValidationError(f"The SMS provider refused the test text: {reason}") from exc
    _record(obj=obj, sent_by=sent_by, note=f"Sent a test SMS (provider id {sent.provider_message_id}).")
    logger.info("test sms for %s %s sent by user %s", kind, obj.pk, sent_by.pk)
    return SmsTestSent(provider_message_id=sent.provider_message_id, body=body)


def sms_test_patient_problem(*, patient: Patient) -> ValidationError | None:
    """Why a patient cannot get the test text (shown before sending, raised on sending), or None."""
    if not patient.mobile:
        return ValidationError({"mobile": "The patient has no mobile number."})
    if not patient.sms_consent:
        return ValidationError({"sms_consent": "The patient has not agreed to SMS; no test text is sent."})
    return None


def sms_test_send_to_patient(*, patient: Patient, sent_by: AbstractBaseUser) -> SmsTestSent:
    """Send the test text to a patient who has a mobile number and has agreed to SMS."""
    if problem := sms_test_patient_problem(patient=patient):
        raise problem
    return _send(obj=patient, to=patient.mobile.as_e164, clinic=patient.clinic,
                 language=patient.language, sent_by=sent_by)


def sms_test_send_to_coordinator(*, coordinator: Coordinator, sent_by: AbstractBaseUser) -> SmsTestSent:
    """Send the test text to a coordinator's own mobile (their Coordinator row)."""
    if coordinator.user_id != sent_by.pk:
        raise ValidationError("A test text to a coordinator goes to one's own number only.")
    if not coordinator.mobile:
        raise ValidationError({"mobile": (
            f"No mobile number is recorded for you at {coordinator.clinic}; ask an administrator to add it.")})
    return _send(obj=coordinator, to=coordinator.mobile.as_e164, clinic=coordinator.clinic,
                 language=Language.ENGLISH, sent_by=sent_by)
