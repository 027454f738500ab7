"""
Email through Django's email framework (SMTP, or a provider's API through
django-anymail): a clinic's message built from its rendered text and HTML.
"""

import smtplib
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from ..models import Message
from ..rendering import RenderedMessage

# Errors of the mail server that mean the email did not leave: tried again later.
EMAIL_NOT_SENT = (ConnectionRefusedError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)


def email_message_build(*, message: Message, rendered: RenderedMessage) -> EmailMultiAlternatives:
    """The email of ``message``, from its clinic to its patient, with one-click unsubscribe headers."""
    patient = message.enrollment.patient
    clinic = patient.clinic
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        # formataddr quotes the name: a comma or "<" in a clinic's name made an
        # unparseable From, and every email of that clinic failed.
        from_email=formataddr((clinic.name, clinic.email or settings.DEFAULT_FROM_EMAIL)),
        to=[patient.email],
        headers={
            "X-Followup-Message": str(message.pk),
            # One-click unsubscribe (RFC 8058), which mail apps show as a button.
            "List-Unsubscribe": f"<{rendered.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    email.attach_alternative(rendered.html, "text/html")
    return email


def email_send(*, message: Message, rendered: RenderedMessage) -> str:
    """Hand the email to the mail server; an email has no provider id to keep ("")."""
    email_message_build(message=message, rendered=rendered).send()
    return ""
