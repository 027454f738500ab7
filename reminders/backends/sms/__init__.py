"""
SMS backends, chosen by ``settings.SMS_BACKEND`` the way Django chooses email
backends: a short alias or a dotted path to a class.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from .base import BaseSmsBackend, SmsFound, SmsOutcomeUnknown, SmsSendError, SmsSent

ALIASES = {
    "console": "reminders.backends.sms.console.SmsBackend",
    "locmem": "reminders.backends.sms.locmem.SmsBackend",
    "twilio": "reminders.backends.sms.twilio.SmsBackend",
}


def get_sms_backend(name: str | None = None, **kwargs) -> BaseSmsBackend:
    path = name or settings.SMS_BACKEND
    return import_string(ALIASES.get(path, path))(**kwargs)


__all__ = ["BaseSmsBackend", "SmsFound", "SmsOutcomeUnknown", "SmsSendError", "SmsSent", "get_sms_backend"]
