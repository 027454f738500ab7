"""
SMS backends, chosen by ``settings.SMS_BACKEND`` the way Django chooses email
backends: a short alias or a dotted path to a class.
"""

import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
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


_kept = threading.local()
# Bumped when a setting a backend reads changes (tests), so kept backends are made anew.
_generation = 0


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs) -> None:
    global _generation
    if setting.startswith(("SMS_", "TWILIO_")) or setting == "PUBLIC_BASE_URL":
        _generation += 1


def kept_sms_backend() -> BaseSmsBackend:
    """This thread's backend, kept between sends so that its connection to the
    provider is reused rather than opened (TLS and all) for every chunk.

    One per thread: the SDK's HTTP client is not meant to be shared by threads.
    """
    if getattr(_kept, "generation", None) != _generation:
        _kept.backend, _kept.generation = get_sms_backend(), _generation
    return _kept.backend


__all__ = ["BaseSmsBackend", "SmsFound", "SmsOutcomeUnknown", "SmsSendError", "SmsSent", "get_sms_backend",
           "kept_sms_backend"]
