"""
Claims: which due messages a dispatch cycle takes, and taking back the claims
of workers that died. The beat tick (``dispatch_tick``) runs both.

A claimed message is "queued" under a lease; a worker moves it to "sending"
(dispatch.py). A claim whose lease runs out is taken back, never sent twice.
"""

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ..models import Message, MessageStatus
from .health import beat_heartbeat_record
from .message_states import message_transition

logger = logging.getLogger(__name__)


def leases_recover(*, now: datetime | None = None) -> int:
    """Take back claims whose worker died, without ever sending twice.

    A queued message whose lease ran out never reached a worker: it goes back to
    pending. A message still "sending" may or may not have reached the provider,
    so its outcome becomes unknown, for a status callback or a lookup to settle.
    """
    now = now or timezone.now()
    requeued = message_transition(
        messages=Message.objects.all(), from_statuses=[MessageStatus.QUEUED], to=MessageStatus.PENDING,
        lease_expired_before=now, now=now, reason="claim expired; returned to the schedule",
    )
    # It may have reached the provider: counted as a hand-over.
    interrupted = message_transition(
        messages=Message.objects.all(), from_statuses=[MessageStatus.SENDING], to=MessageStatus.UNKNOWN,
        lease_expired_before=now, now=now, attempts=F("attempts") + 1,
        reason="interrupted while sending; not sent again until the provider is asked",
    )
    if requeued or interrupted:
        logger.warning("recovered expired claims: requeued=%d interrupted=%d", requeued, interrupted)
    return requeued + interrupted


def messages_claim(*, now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Claim up to ``limit`` due messages for this caller alone; returns their ids."""
    now = now or timezone.now()
    limit = limit or settings.DISPATCH_BATCH_SIZE
    claim = {"lease_expires_at": now + settings.CLAIM_LEASE}
    due = Message.objects.filter(status=MessageStatus.PENDING, due_at__lte=now).order_by("due_at")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            # PostgreSQL: rows another cycle holds are skipped, not waited for.
            ids = list(due.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
            message_transition(messages=Message.objects.filter(id__in=ids), from_statuses=[MessageStatus.PENDING],
                               to=MessageStatus.QUEUED, now=now, **claim)
            return ids
        # SQLite has no row locks: a conditional update with a token tells which rows we won.
        token = uuid.uuid4()
        candidates = list(due.values_list("id", flat=True)[:limit])
        message_transition(messages=Message.objects.filter(id__in=candidates), from_statuses=[MessageStatus.PENDING],
                           to=MessageStatus.QUEUED, now=now, claim_token=token, **claim)
        return list(
            Message.objects.filter(id__in=candidates, claim_token=token).values_list("id", flat=True)
        )


def dispatch_tick(*, hand_over: Callable[[list[int]], None]) -> int:
    """Beat's tick: record the heartbeat, take back dead claims, claim due rows and
    ``hand_over`` their ids in chunks (the task publishes a send task per chunk).

    Claims batch after batch while batches come back full, for at most one beat
    interval, so a backlog drains quickly without two ticks overlapping for long.
    Returns how many messages it claimed.
    """
    beat_heartbeat_record()  # the health check's "last beat run"
    leases_recover()
    deadline = time.monotonic() + settings.DISPATCH_INTERVAL_SECONDS
    batch, chunk, total = settings.DISPATCH_BATCH_SIZE, settings.DISPATCH_CHUNK_SIZE, 0
    while True:
        ids = messages_claim(limit=batch)
        for start in range(0, len(ids), chunk):
            hand_over(ids[start:start + chunk])
        total += len(ids)
        if len(ids) < batch or time.monotonic() >= deadline:
            break
    if total:
        logger.debug("dispatch claimed %d messages", total)  # every tick: each send is logged on its own
    return total
