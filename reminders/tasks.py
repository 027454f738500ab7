"""Celery tasks: thin, they take ids and call services."""

import logging

from celery import shared_task

from .services.alerts import escalation_alert_send
from .services.delivery import unknown_messages_settle
from .services.claims import dispatch_tick
from .services.dispatch import messages_send
from .services.health import ops_alerts_check
from .services.reconciliation import reconciliation_run

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def dispatch_due_messages() -> int:
    """Run by beat every few seconds: claim due rows and hand their ids to workers, a task per chunk."""
    return dispatch_tick(hand_over=send_messages.delay_on_commit)


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
