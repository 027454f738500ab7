"""
Claims: which due messages a dispatch cycle takes, and taking back the claims
of workers that died. The beat tick (``dispatch_tick``) runs both.

A claimed message is "queued" under a lease; a worker moves it to "sending"
(dispatch.py). A claim whose lease runs out is taken back, never sent twice.
"""

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from ..models import Channel, Clinic, Message, MessageStatus
from ..senders import clinic_sender, sender_room
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


@dataclass
class ClaimRoom:
    """What a cycle may still claim: in all, and per SMS sender (clinics sharing a sender share its room)."""

    total: int
    by_clinic: dict[int, str] = field(default_factory=dict)  # clinic id -> its sender's address
    by_sender: dict[str, int] = field(default_factory=dict)  # sender -> texts it may still take (limited ones)

    def full_clinics(self) -> list[int]:
        return [clinic for clinic, sender in self.by_clinic.items() if self.by_sender.get(sender, 1) <= 0]

    def keep(self, rows: list[tuple[int, str, int]]) -> list[int]:
        """The rows (id, channel, clinic) that fit, in their order; the rest wait for a later cycle."""
        kept = []
        for message_id, channel, clinic_id in rows:
            sender = self.by_clinic.get(clinic_id)
            if channel == Channel.SMS and sender in self.by_sender:
                if self.by_sender[sender] <= 0:
                    continue
                self.by_sender[sender] -= 1
            kept.append(message_id)
        return kept


def claim_room(*, limit: int) -> ClaimRoom:
    """Backpressure: the room left under DISPATCH_MAX_QUEUED, and under each SMS sender's rate.

    Counted over messages claimed or sending now (the partial index on leased rows).
    """
    in_flight = Message.objects.filter(status__in=[MessageStatus.QUEUED, MessageStatus.SENDING])
    queued = in_flight.filter(status=MessageStatus.QUEUED).count()
    room = ClaimRoom(total=max(0, min(limit, settings.DISPATCH_MAX_QUEUED - queued)))
    # Two beat intervals of each sender's sending, and never more than half a lease.
    window = min(2 * settings.DISPATCH_INTERVAL_SECONDS, settings.CLAIM_LEASE.total_seconds() / 2)
    clinics = list(Clinic.objects.all())
    room.by_clinic = {clinic.pk: clinic_sender(clinic).address for clinic in clinics}
    limits = {}
    for clinic in clinics:
        sender = clinic_sender(clinic)
        allowed = sender_room(sender=sender, seconds=window)
        if allowed is not None:
            limits[sender.address] = allowed
    if limits:
        busy = Counter()
        for clinic_id, count in (in_flight.filter(channel=Channel.SMS)
                                 .values_list("enrollment__patient__clinic_id").annotate(n=Count("id"))):
            busy[room.by_clinic.get(clinic_id)] += count
        room.by_sender = {sender: allowed - busy[sender] for sender, allowed in limits.items()}
    return room


def messages_claim(*, now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Claim up to ``limit`` due messages for this caller alone, within the room backpressure leaves
    (``claim_room``); returns their ids. A sender with no room left does not hold up the others."""
    now = now or timezone.now()
    room = claim_room(limit=limit or settings.DISPATCH_BATCH_SIZE)
    if room.total <= 0:
        return []
    claim = {"lease_expires_at": now + settings.CLAIM_LEASE}
    due = Message.objects.filter(status=MessageStatus.PENDING, due_at__lte=now).order_by("due_at")
    if full := room.full_clinics():
        due = due.exclude(channel=Channel.SMS, enrollment__patient__clinic_id__in=full)
    columns = ("id", "channel", "enrollment__patient__clinic_id")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            # PostgreSQL: rows another cycle holds are skipped, not waited for.
            rows = list(due.select_for_update(skip_locked=True, of=("self",)).values_list(*columns)[:room.total])
            ids = room.keep(rows)
            message_transition(messages=Message.objects.filter(id__in=ids), from_statuses=[MessageStatus.PENDING],
                               to=MessageStatus.QUEUED, now=now, **claim)
            return ids
        # SQLite has no row locks: a conditional update with a token tells which rows we won.
        token = uuid.uuid4()
        candidates = room.keep(list(due.values_list(*columns)[:room.total]))
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
        # A short batch: nothing more is due, or backpressure says wait for the workers.
        if len(ids) < batch or time.monotonic() >= deadline:
            break
    if total:
        logger.debug("dispatch claimed %d messages", total)  # every tick: each send is logged on its own
    return total
