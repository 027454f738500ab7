"""Emails to a clinic's alert address about urgent escalations."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from ..models import Escalation

logger = logging.getLogger(__name__)


def escalation_alert_send(*, escalation_id: int) -> bool:
    """Email the clinic that an urgent escalation is waiting. No patient data leaves in it."""
    escalation = Escalation.objects.select_related("clinic").get(pk=escalation_id)
    clinic = escalation.clinic
    if not clinic.alert_email:
        logger.warning("escalation %s: clinic %s has no alert address", escalation.pk, clinic.pk)
        return False
    link = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "admin:reminders_escalation_change", args=[escalation.pk])
    send_mail(
        subject=f"[{escalation.get_urgency_display()}] {clinic.name}: a patient reported warning signs",
        message=(
            f"A patient of {clinic.name} replied to a follow-up text with warning signs.\n"
            f"Call the patient now and acknowledge the escalation:\n\n{link}\n\n"
            "The patient was told by text to call emergency services or the clinic."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[clinic.alert_email],
    )
    logger.info("escalation %s: alert emailed", escalation.pk)
    return True
