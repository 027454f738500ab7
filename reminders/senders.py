"""
Who a clinic's texts come from, and how fast that sender may send.

A clinic may have its own sender (a number, a short code or a messaging
service) with its rate in segments a second; otherwise it texts from the
service's default (TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER) at
SMS_RATE_PER_SECOND. Each sender has its own pacing bucket, so one clinic's
morning burst never holds up another's texts.
"""

from django.conf import settings

from .backends.sms.base import Sender
from .models import Clinic, SenderKind


def default_sender() -> Sender:
    if settings.TWILIO_MESSAGING_SERVICE_SID:
        return Sender(address=settings.TWILIO_MESSAGING_SERVICE_SID, is_service=True,
                      segments_per_second=settings.SMS_RATE_PER_SECOND)
    return Sender(address=settings.TWILIO_FROM_NUMBER, is_service=False,
                  segments_per_second=settings.SMS_RATE_PER_SECOND)


def clinic_sender(clinic: Clinic) -> Sender:
    """The sender of ``clinic``'s texts: its own, or the service's default."""
    if not clinic.sms_sender:
        return default_sender()
    return Sender(address=clinic.sms_sender, is_service=clinic.sms_sender_kind == SenderKind.MESSAGING_SERVICE,
                  segments_per_second=clinic.sms_rate or 0.0)


# What a text costs a sender on average, in segments (the programs average about two).
SEGMENTS_PER_TEXT = 2


def sender_room(*, sender: Sender, seconds: float) -> int | None:
    """How many texts of ``sender`` may be claimed and waiting at once: what its rate sends in
    ``seconds`` (about two beat intervals), so that its backlog waits in the database and the
    workers' queue holds no more of it than they will send before the next texts of another
    sender fall due. None: no limit."""
    if sender.segments_per_second <= 0:
        return None
    return max(1, int(sender.segments_per_second * seconds / SEGMENTS_PER_TEXT))
