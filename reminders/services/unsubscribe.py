"""One-click unsubscribe (RFC 8058): following an email's link withdraws email consent."""

from ..models import Channel, ConsentActor, Patient
from ..unsubscribe_links import token_patient_id
from .consent import consent_record


def unsubscribe_patient(*, token: str) -> Patient:
    """Withdraw email consent for the patient the token names. Raises signing.BadSignature."""
    patient = patient_for_token(token=token)
    if patient.email_consent:
        consent_record(patient=patient, channel=Channel.EMAIL, given=False,
                       actor=ConsentActor.UNSUBSCRIBE_LINK, source="unsubscribe link")
    return patient


def patient_for_token(*, token: str) -> Patient:
    """The patient a token names, without changing anything. Raises signing.BadSignature."""
    return Patient.objects.get(pk=token_patient_id(token=token))
