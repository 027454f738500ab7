"""Signed one-click unsubscribe links for email (RFC 8058): made when an email is
rendered, read back when the patient follows one (services/unsubscribe.py)."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import Patient

SALT = "reminders.unsubscribe"


def unsubscribe_token(*, patient: Patient) -> str:
    return signing.dumps({"patient": patient.pk}, salt=SALT, compress=True)


def unsubscribe_url(*, patient: Patient) -> str:
    path = reverse("unsubscribe", args=[unsubscribe_token(patient=patient)])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def token_patient_id(*, token: str) -> int:
    """The patient id a token names. Raises signing.BadSignature."""
    return signing.loads(token, salt=SALT)["patient"]
