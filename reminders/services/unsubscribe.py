"""Signed one-click unsubscribe links for email (RFC 8058)."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from ..models import Channel, ConsentActor, Patient
from .consent import consent_record

SALT = "reminders.unsubscribe"


def unsubscribe_token(*, patient: Patient) -> str:
    return signing.dumps({"patient": patient.pk}, salt=SALT, compress=True)


def unsubscribe_url(*, patient: Patient) -> str:
    path = reverse("unsubscribe", args=[unsubscribe_token(patient=patient)])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def unsubscribe_patient(*, token: str) -> Patient:
    """Withdraw email consent for the patient the token names. Raises signing.BadSignature."""
    patient = patient_for_token(token=token)
    if patient.email_consent:
        consent_record(patient=patient, channel=Channel.EMAIL, given=False,
                       actor=ConsentActor.UNSUBSCRIBE_LINK, source="unsubscribe link")
    return patient


def patient_for_token(*, token: str) -> Patient:
    """The patient a token names, without changing anything. Raises signing.BadSignature."""
    return Patient.objects.get(pk=signing.loads(token, salt=SALT)["patient"])
