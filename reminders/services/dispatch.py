"""
Dispatch: claim due messages and send each of them at most once.

A message moves pending -> queued (claimed by a dispatch cycle) -> sending (a
worker took it) -> sent | failed | skipped | cancelled, or back to pending when
quiet hours defer it. Every move is a guarded transition (message_states.py),
so duplicate beats, duplicate task deliveries and racing workers find nothing
to do instead of sending twice.
"""

import enum
import logging
import os
import smtplib
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formataddr
from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ..backends.sms import SmsOutcomeUnknown, SmsSendError, kept_sms_backend
from ..models import REACHED_STATUSES, Channel, EnrollmentStatus, Message, MessageStatus
from ..rendering import RenderedMessage, RenderError, render_message
from ..scheduling import lateness_reason, next_allowed_time
from .delivery import message_retry_or_fail, sms_refused
from .message_states import message_transition, messages_transition_each, rows_update

logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    RETRYING = "retrying"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    PAUSED = "paused"
    NOTHING = "nothing"  # someone else already handled it


@dataclass
class DispatchSummary:
    claimed: int = 0
    recovered: int = 0
    outcomes: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        return {
            "claimed": self.claimed,
            "sent": self.outcomes[Outcome.SENT],
            "failed": self.outcomes[Outcome.FAILED],
            "skipped": self.outcomes[Outcome.SKIPPED],
            "deferred": self.outcomes[Outcome.DEFERRED],
            "retrying": self.outcomes[Outcome.RETRYING],
            "unknown": self.outcomes[Outcome.UNKNOWN],
            "cancelled": self.outcomes[Outcome.CANCELLED] + self.outcomes[Outcome.PAUSED],
            "recovered": self.recovered,
        }


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


def _finish(message: Message, *, status: str, now: datetime, **fields) -> bool:
    """Move a message out of "sending"; only the worker holding its claim (the token it read) can."""
    return bool(message_transition(messages=Message.objects.filter(pk=message.pk),
                                   from_statuses=[MessageStatus.SENDING], to=status, now=now,
                                   token=message.claim_token, **fields))


def _deliver(*, message: Message, rendered: RenderedMessage) -> str:
    """Hand the message to its channel's provider; returns the provider's id.

    Runs in a send thread for an SMS: it reads what the chunk loaded and never the database.
    """
    patient = message.enrollment.patient
    if message.channel == Channel.SMS:
        return kept_sms_backend().send(
            to=patient.mobile.as_e164, body=rendered.text, message_id=message.pk
        ).provider_message_id
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
    email.send()
    return ""


def _hold_reason(*, message: Message) -> tuple[Outcome, str] | None:
    """Why a claimed message must not go out at all, if it must not (the clock's rules are _clock_hold's)."""
    enrollment = message.enrollment
    if enrollment.status == EnrollmentStatus.CANCELLED:
        return Outcome.CANCELLED, f"cancelled: {enrollment.status_reason}"
    if enrollment.status == EnrollmentStatus.PAUSED:
        return Outcome.PAUSED, f"paused: {enrollment.status_reason}"
    if message.channel not in message.enrollment.patient.channels():
        return Outcome.SKIPPED, f"the patient no longer receives {message.get_channel_display()}"
    return None


# Errors of the mail server that mean the email did not leave.
EMAIL_NOT_SENT = (ConnectionRefusedError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)

HOLD_STATUS = {
    Outcome.CANCELLED: MessageStatus.CANCELLED,
    Outcome.PAUSED: MessageStatus.PAUSED,
    Outcome.SKIPPED: MessageStatus.SKIPPED,
}

# Accepted sends are recorded together, at most this many and this long after the first.
RECORD_BATCH = 50
RECORD_WITHIN_SECONDS = 1.0
# A message sent this long after its chunk was checked is checked against the clock again.
CLOCK_RECHECK_SECONDS = 1.0



def _clock_hold(*, message: Message, now: datetime) -> Outcome | None:
    """The rules that depend on the time, recorded when they hold a message back:
    too late (skipped) or, for an SMS, quiet hours (deferred to their end)."""
    message_id = message.pk
    late = lateness_reason(max_lateness=message.step.max_lateness, due_at=message.due_at, now=now)
    if late:
        _finish(message, status=MessageStatus.SKIPPED, now=now, reason=late)
        logger.info("message %s skipped: too late", message_id)
        return Outcome.SKIPPED
    if message.channel != Channel.SMS:
        return None
    clinic = message.enrollment.patient.clinic
    later = next_allowed_time(moment=now, zone=message.enrollment.patient.zone,
                              start=clinic.quiet_hours_start, end=clinic.quiet_hours_end)
    if later > now:  # inside quiet hours: moved to their end
        _finish(message, status=MessageStatus.PENDING, now=now, due_at=later, reason="deferred: quiet hours")
        logger.info("message %s deferred to %s by quiet hours", message_id, later.isoformat())
        return Outcome.DEFERRED
    return None


def _prepare(*, message: Message, now: datetime, first_sms: bool) -> Outcome | RenderedMessage:
    """The text of a message this caller holds in "sending", or the recorded reason it does not go out."""
    message_id = message.pk
    held = _hold_reason(message=message)
    if held:
        outcome, reason = held
        _finish(message, status=HOLD_STATUS[outcome], now=now, reason=reason)
        logger.info("message %s %s", message_id, outcome)
        return outcome
    clock = _clock_hold(message=message, now=now)
    if clock:
        return clock
    try:
        return render_message(message=message, first_sms=first_sms)
    except RenderError as exc:
        _finish(message, status=MessageStatus.FAILED, now=now, reason=exc.reason)
        logger.error("message %s failed to render: %s", message_id, exc.reason)
        return Outcome.FAILED


@dataclass(frozen=True)
class _Accepted:
    """A send the provider accepted, to be recorded as sent."""

    message_id: int
    provider_message_id: str
    sent_at: datetime
    attempts: int  # hand-overs, this one included
    token: uuid.UUID


def _hand_over(*, message: Message, send: Callable[[], str], now: datetime) -> Outcome | _Accepted:
    """The outcome of a send (``send`` makes it, or waits for a send thread's):
    a refusal is recorded here, an acceptance returned to be recorded."""
    message_id = message.pk
    try:
        provider_message_id = send()
    except SmsSendError as exc:
        status = sms_refused(message=message, error=exc, now=now)
        return Outcome.RETRYING if status == MessageStatus.PENDING else Outcome.FAILED
    except SmsOutcomeUnknown as exc:
        # The text is already stored: a lookup matches on it before anything is sent again.
        _finish(message, status=MessageStatus.UNKNOWN, now=now, reason=exc.reason, attempts=message.attempts + 1)
        logger.warning("message %s outcome unknown", message_id)
        return Outcome.UNKNOWN
    except EMAIL_NOT_SENT as exc:
        # The mail server refused the connection: nothing went out, try later.
        status = message_retry_or_fail(message=message, code="smtp", from_statuses=[MessageStatus.SENDING],
                                       now=now, reason=f"mail server unavailable ({type(exc).__name__})",
                                       handed_over=True)
        return Outcome.RETRYING if status == MessageStatus.PENDING else Outcome.FAILED
    except Exception as exc:
        # Whatever broke, the provider may have it: record, never retry blindly.
        _finish(message, status=MessageStatus.FAILED, now=now, attempts=message.attempts + 1,
                reason=f"send error: {type(exc).__name__}; not retried")
        logger.exception("message %s send error", message_id)
        return Outcome.FAILED
    logger.info("message %s sent via %s", message_id, message.channel)
    return _Accepted(message_id=message_id, provider_message_id=provider_message_id, sent_at=timezone.now(),
                     attempts=message.attempts + 1, token=message.claim_token)


def _texts_store(*, prepared: list[tuple[Message, RenderedMessage]], token: uuid.UUID) -> None:
    """Store every text before any of them goes out, in one UPDATE.

    Should the worker die after a send but before recording it, the message
    becomes "unknown" and the lookup that settles it matches on this text.
    """
    if prepared:
        rows_update(rows=[(m.pk, r.subject, r.text) for m, r in prepared], columns=["subject", "body"],
                    match={"claim_token": token})


def _accepted_record(accepted: list[_Accepted]) -> None:
    """Record accepted sends as sent, in one guarded transition for many.

    Only messages still "sending" under this worker's claim move: one a status
    callback already moved on (sent, delivered, failed) keeps its status.
    """
    if accepted:
        messages_transition_each(
            rows=[(a.message_id, a.provider_message_id, a.sent_at, a.attempts) for a in accepted],
            columns=["provider_message_id", "sent_at", "attempts"],
            from_statuses=[MessageStatus.SENDING], to=MessageStatus.SENT, token=accepted[0].token,
            reason="", error_code="",
        )


def _send_deadline() -> float:
    """When a chunk must stop starting sends: its lease must outlast the last one.

    Past this, a send could still be under way when the lease ran out and the
    message was taken back, so the rest of the chunk is returned unsent instead.
    """
    longest_send = settings.TWILIO_CONNECT_TIMEOUT + settings.TWILIO_READ_TIMEOUT + 30
    lease = settings.CLAIM_LEASE.total_seconds()
    return time.monotonic() + max(lease - longest_send, lease / 2)


def _taken(*, message_ids: list[int], token: uuid.UUID) -> list[Message]:
    """The messages this caller took, with what sending needs, in the order asked."""
    position = {message_id: index for index, message_id in enumerate(message_ids)}
    # Clinics, programs and steps are few and shared by the chunk: one object
    # each, not one per message (a clinic's three phone numbers are parsed per object).
    return sorted(
        Message.objects.select_related("enrollment__patient")
        .prefetch_related("enrollment__patient__clinic", "enrollment__program", "step")
        .filter(pk__in=message_ids, claim_token=token),
        key=lambda m: position[m.pk],
    )


class _Recorder:
    """Counts the outcomes of a chunk's sends and records acceptances a few at a time."""

    def __init__(self, outcomes: Counter) -> None:
        self.outcomes, self.accepted, self.oldest = outcomes, [], 0.0

    def add(self, result: Outcome | _Accepted) -> None:
        if isinstance(result, _Accepted):
            self.oldest = self.oldest or time.monotonic()
            self.accepted.append(result)
            result = Outcome.SENT
        self.outcomes[result] += 1
        # Recorded with others, but never held back for long.
        if len(self.accepted) >= RECORD_BATCH or (
                self.accepted and time.monotonic() - self.oldest >= RECORD_WITHIN_SECONDS):
            self.flush()

    def flush(self) -> None:
        _accepted_record(self.accepted)
        self.accepted, self.oldest = [], 0.0


_pool: ThreadPoolExecutor | None = None
_pool_owner = (0, 0)  # the process and the size it was made for


def _send_pool() -> ThreadPoolExecutor | None:
    """This process's send threads, or None for sending one at a time (SMS_SEND_THREADS <= 1).

    Made on first use in the process that sends: a prefork worker's children
    make their own after the fork rather than inherit threads that do not survive it.
    """
    global _pool, _pool_owner
    size = settings.SMS_SEND_THREADS
    if size <= 1:
        return None
    if _pool is None or _pool_owner != (os.getpid(), size):
        _pool, _pool_owner = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sms-send"), (os.getpid(), size)
    return _pool


def messages_send(*, message_ids: list[int], now: datetime | None = None) -> Counter:
    """Send a chunk of claimed messages, each at most once; one failure never stops the rest.

    The guarded transition (queued -> sending) takes the whole chunk in one
    conditional UPDATE, so a duplicate task, a redelivery or a racing worker
    finds nothing to do. The chunk is read in one query, checked and rendered,
    its texts stored in one UPDATE, then sent, SMS_SEND_THREADS at a time (a
    patient's own in order), through backends kept with their provider
    connection; refusals are recorded at once, acceptances a few at a time.
    A worker that dies mid-chunk leaves its messages "sending": after the lease
    they become "unknown" and a lookup by their stored text settles each one,
    sending it later only if the provider never got it.
    """
    outcomes: Counter = Counter()
    wanted = list(dict.fromkeys(message_ids))
    taken_at = now or timezone.now()
    token = uuid.uuid4()
    # Taking a message is not an attempt: attempts count hand-overs to the provider.
    taken = message_transition(
        messages=Message.objects.filter(pk__in=wanted), from_statuses=[MessageStatus.QUEUED],
        to=MessageStatus.SENDING, now=taken_at, claim_token=token,
        lease_expires_at=taken_at + settings.CLAIM_LEASE,
    )
    if len(wanted) > taken:
        outcomes[Outcome.NOTHING] += len(wanted) - taken
    if not taken:
        return outcomes
    messages = _taken(message_ids=wanted, token=token)
    # Which enrollments already had an SMS out: asked once for the chunk.
    sms_started = set(
        Message.objects.filter(enrollment_id__in={m.enrollment_id for m in messages}, channel=Channel.SMS,
                               status__in=REACHED_STATUSES).values_list("enrollment_id", flat=True)
    )
    prepared: list[tuple[Message, RenderedMessage]] = []
    prepared_at = time.monotonic()
    for message in messages:
        first_sms = message.channel == Channel.SMS and message.enrollment_id not in sms_started
        result = _prepare(message=message, now=now or timezone.now(), first_sms=first_sms)
        if isinstance(result, Outcome):
            outcomes[result] += 1
            continue
        prepared.append((message, result))
        if message.channel == Channel.SMS:
            sms_started.add(message.enrollment_id)
    _texts_store(prepared=prepared, token=token)

    pool = _send_pool() if sum(m.channel == Channel.SMS for m, _ in prepared) > 1 else None
    width = settings.SMS_SEND_THREADS if pool else 1
    deadline = _send_deadline()
    recorder = _Recorder(outcomes)
    # SMS handed to the send threads, oldest first; their outcomes are taken in that order.
    under_way: deque[tuple[Message, Callable[[], str], datetime]] = deque()

    def settle_oldest() -> None:
        waiting, result, moment = under_way.popleft()
        recorder.add(_hand_over(message=waiting, send=result, now=moment))

    try:
        for index, (message, rendered) in enumerate(prepared):
            if time.monotonic() > deadline:
                returned = message_transition(
                    messages=Message.objects.filter(pk__in=[m.pk for m, _ in prepared[index:]]),
                    from_statuses=[MessageStatus.SENDING], to=MessageStatus.PENDING, token=token,
                    reason="not reached before its lease ran out; returned to the schedule")
                logger.warning("chunk out of time: %d messages returned unsent", returned)
                outcomes[Outcome.DEFERRED] += returned
                break
            moment = now or timezone.now()
            # A paced chunk can take a while: the clock's rules are asked again at sending time.
            if time.monotonic() - prepared_at > CLOCK_RECHECK_SECONDS:
                held = _clock_hold(message=message, now=moment)
                if held:
                    outcomes[held] += 1
                    continue
            # At most `width` sends at once, and one per enrollment, so that a
            # patient's messages leave in their order (the first carries the intro).
            while under_way and (len(under_way) >= width
                                 or any(m.enrollment_id == message.enrollment_id for m, _, _ in under_way)):
                settle_oldest()
            send = partial(_deliver, message=message, rendered=rendered)
            if pool and message.channel == Channel.SMS:
                under_way.append((message, pool.submit(send).result, moment))
            else:
                recorder.add(_hand_over(message=message, send=send, now=moment))
        while under_way:
            settle_oldest()
    finally:
        recorder.flush()
    return outcomes


def message_send(*, message_id: int, now: datetime | None = None) -> Outcome:
    """Send one claimed message, at most once. Safe to call again with the same id."""
    [outcome] = messages_send(message_ids=[message_id], now=now)
    return outcome


def dispatch_cycle(*, now: datetime | None = None, limit: int | None = None) -> DispatchSummary:
    """One whole cycle in the foreground: recover, claim, send, record."""
    summary = DispatchSummary(recovered=leases_recover(now=now))
    ids = messages_claim(now=now, limit=limit)
    summary.claimed = len(ids)
    summary.outcomes = messages_send(message_ids=ids, now=now)
    return summary
