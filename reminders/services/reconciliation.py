"""The daily reconciliation run: logged as counts, emailed to operations when something is flagged."""

import logging
from datetime import date, datetime

from django.conf import settings
from django.core.mail import send_mail

from ..selectors.reconciliation import Reconciliation, default_reconciliation_day, reconciliation_for_day

logger = logging.getLogger(__name__)


def reconciliation_run(*, day: date | None = None, now: datetime | None = None) -> Reconciliation:
    """Reconcile one day (yesterday by default); log the counts; email the table if anything is flagged."""
    result = reconciliation_for_day(day=day or default_reconciliation_day(now=now), now=now)
    totals = " ".join(f"{name}={count}" for name, count in result.totals.items())
    logger.info("reconciliation %s: %s", result.day, totals)
    for row in result.rows:
        if row.flags:
            logger.warning("reconciliation %s: clinic %s %s flagged: %s", result.day, row.clinic_id, row.channel,
                           " ".join(f"{name}={count}" for name, count in row.flags.items()))
    if any(result.stuck_now.values()):
        logger.warning("reconciliation %s: stuck now: %s", result.day,
                       " ".join(f"{name}={count}" for name, count in result.stuck_now.items()))
    if result.flagged and settings.OPS_ALERT_EMAIL:
        send_mail(subject=f"Reconciliation {result.day}: something does not add up or is stuck",
                  message=result.as_table(), from_email=settings.DEFAULT_FROM_EMAIL,
                  recipient_list=settings.OPS_ALERT_EMAIL)
    return result
