"""Celery tasks: thin, they take ids and call services."""

import logging
import time

from celery import shared_task
from django.conf import settings

from .services.alerts import escalation_alert_send
from .services.delivery import unknown_messages_settle
from .services.dispatch import leases_recover, messages_claim, messages_send
from .services.health import beat_heartbeat_record, ops_alerts_check
from .services.reconciliation import reconciliation_run

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def dispatch_due_messages() -> int:
    """Run by beat every few seconds: claim due rows and hand their ids to workers.

    Claims batch after batch while batches come back full, for at most one beat
    interval, so a backlog drains quickly without two ticks overlapping for long.
    """
    beat_heartbeat_record()  # the health check's "last beat run"
    leases_recover()
    deadline = time.monotonic() + settings.DISPATCH_INTERVAL_SECONDS
    batch, chunk, total = settings.DISPATCH_BATCH_SIZE, settings.DISPATCH_CHUNK_SIZE, 0
    while True:
        ids = messages_claim(limit=batch)
        for start in range(0, len(ids), chunk):
            send_messages.delay_on_commit(ids[start:start + chunk])
        total += len(ids)
        if len(ids) < batch or time.monotonic() >= deadline:
            break
    if total:
        logger.info("dispatch claimed %d messages", total)
    return total


@shared_task(ignore_result=True, acks_late=True)
def send_messages(message_ids: list[int]) -> None:
    """Send claimed messages; a redelivered task finds them already handled."""
    messages_send(message_ids=message_ids)


@shared_task(ignore_result=True)
def settle_unknown_messages() -> int:
    """Run by beat every minute: ask the provider about messages whose outcome is unknown."""
    return unknown_messages_settle()


@shared_task(ignore_result=True)
def check_health_and_alert() -> int:
    """Run by beat every minute: email the operations address about new and recovered incidents."""
    return len(ops_alerts_check())


@shared_task(ignore_result=True)
def reconcile_yesterday() -> bool:
    """Run by beat once a day: reconcile yesterday's messages; True when something was flagged."""
    return reconciliation_run().flagged


@shared_task(ignore_result=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True,
             max_retries=5)
def send_escalation_alert(escalation_id: int) -> None:
    escalation_alert_send(escalation_id=escalation_id)
