"""Escalations: acknowledging that a coordinator has taken one on."""

import logging
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from ..models import Escalation

logger = logging.getLogger(__name__)


def escalation_acknowledge(
    *, escalation: Escalation, acknowledged_by: AbstractBaseUser, now: datetime | None = None
) -> bool:
    """Record who acknowledged an open escalation and when.

    Returns False if it was already acknowledged; the first acknowledgement is
    kept, so two coordinators clicking at once do not overwrite each other.
    """
    now = now or timezone.now()
    updated = Escalation.objects.filter(pk=escalation.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=acknowledged_by
    )
    escalation.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    if updated:
        logger.info("escalation %s acknowledged by user %s", escalation.pk, acknowledged_by.pk)
    return bool(updated)
