"""
The send loop: a worker takes a chunk of claimed messages and sends each of
them at most once.

A claimed message (claims.py) moves queued -> sending when a worker takes it,
then -> sent | failed | skipped | cancelled | paused, or back to pending when
quiet hours defer it, or -> unknown when the provider may have it. Every move
is a guarded transition (message_states.py), so duplicate beats, duplicate
task deliveries and racing workers find nothing to do instead of sending
twice; what each send's answer means is recorded by send_outcomes.py.
"""

import logging
import os
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.conf import settings
from django.utils import timezone

from ..backends.email import email_send
from ..backends.sms import kept_sms_backend
from ..models import REACHED_STATUSES, Channel, EnrollmentStatus, Message, MessageStatus
from ..rendering import RenderedMessage, RenderError, render_message
from ..scheduling import lateness_reason, next_allowed_time
from ..senders import clinic_sender
from .claims import leases_recover, messages_claim
from .message_states import message_transition, rows_update
from .send_outcomes import Outcome, OutcomeRecorder, hand_over_outcome, held_record

logger = logging.getLogger(__name__)

HOLD_STATUS = {
    Outcome.CANCELLED: MessageStatus.CANCELLED,
    Outcome.PAUSED: MessageStatus.PAUSED,
    Outcome.SKIPPED: MessageStatus.SKIPPED,
}
# A message sent this long after its chunk was checked is checked against the clock again.
CLOCK_RECHECK_SECONDS = 1.0


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


def _deliver(*, message: Message, rendered: RenderedMessage) -> str:
    """Hand the message to its channel's provider; returns the provider's id.

    Runs in a send thread for an SMS: it reads what the chunk loaded and never the database.
    """
    if message.channel == Channel.SMS:
        patient = message.enrollment.patient
        return kept_sms_backend().send(
            to=patient.mobile.as_e164, body=rendered.text, message_id=message.pk, sender=clinic_sender(patient.clinic)
        ).provider_message_id
    return email_send(message=message, rendered=rendered)


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


def _clock_hold(*, message: Message, now: datetime) -> Outcome | None:
    """The rules that depend on the time, recorded when they hold a message back:
    too late (skipped) or, for an SMS, quiet hours (deferred to their end)."""
    message_id = message.pk
    late = lateness_reason(max_lateness=message.step.max_lateness, due_at=message.due_at, now=now,
                           zone=message.enrollment.patient.zone)
    if late:
        held_record(message, status=MessageStatus.SKIPPED, now=now, reason=late)
        logger.info("message %s skipped: too late", message_id)
        return Outcome.SKIPPED
    if message.channel != Channel.SMS:
        return None
    clinic = message.enrollment.patient.clinic
    later = next_allowed_time(moment=now, zone=message.enrollment.patient.zone,
                              start=clinic.quiet_hours_start, end=clinic.quiet_hours_end)
    if later > now:  # inside quiet hours: moved to their end
        held_record(message, status=MessageStatus.PENDING, now=now, due_at=later, reason="deferred: quiet hours")
        logger.info("message %s deferred to %s by quiet hours", message_id, later.isoformat())
        return Outcome.DEFERRED
    return None


def _prepare(*, message: Message, now: datetime, first_sms: bool) -> Outcome | RenderedMessage:
    """The text of a message this caller holds in "sending", or the recorded reason it does not go out."""
    message_id = message.pk
    held = _hold_reason(message=message)
    if held:
        outcome, reason = held
        held_record(message, status=HOLD_STATUS[outcome], now=now, reason=reason)
        logger.info("message %s %s", message_id, outcome)
        return outcome
    clock = _clock_hold(message=message, now=now)
    if clock:
        return clock
    try:
        return render_message(message=message, first_sms=first_sms)
    except RenderError as exc:
        held_record(message, status=MessageStatus.FAILED, now=now, reason=exc.reason)
        logger.error("message %s failed to render: %s", message_id, exc.reason)
        return Outcome.FAILED


def _texts_store(*, prepared: list[tuple[Message, RenderedMessage]], token: uuid.UUID) -> None:
    """Store every text before any of them goes out, in one UPDATE.

    Should the worker die after a send but before recording it, the message
    becomes "unknown" and the lookup that settles it matches on this text.
    """
    if prepared:
        rows_update(rows=[(m.pk, r.subject, r.text) for m, r in prepared], columns=["subject", "body"],
                    match={"claim_token": token})


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
        .prefetch_related("enrollment__patient__clinic", "enrollment__program", "step", "milestone")
        .filter(pk__in=message_ids, claim_token=token),
        key=lambda m: position[m.pk],
    )


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


def _take(*, message_ids: list[int], now: datetime | None, outcomes: Counter) -> list[Message]:
    """Take the chunk's messages still queued (queued -> sending, one guarded transition
    for all), under a claim of this caller's own; the others are counted as NOTHING."""
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
    return _taken(message_ids=wanted, token=token) if taken else []


def _prepare_chunk(*, messages: list[Message], now: datetime | None,
                   outcomes: Counter) -> list[tuple[Message, RenderedMessage]]:
    """The chunk's messages that may go out, rendered, their texts stored; the others recorded."""
    # Which enrollments already had an SMS out: asked once for the chunk.
    sms_started = set(
        Message.objects.filter(enrollment_id__in={m.enrollment_id for m in messages}, channel=Channel.SMS,
                               status__in=REACHED_STATUSES).values_list("enrollment_id", flat=True)
    )
    prepared: list[tuple[Message, RenderedMessage]] = []
    for message in messages:
        first_sms = message.channel == Channel.SMS and message.enrollment_id not in sms_started
        result = _prepare(message=message, now=now or timezone.now(), first_sms=first_sms)
        if isinstance(result, Outcome):
            outcomes[result] += 1
            continue
        prepared.append((message, result))
        if message.channel == Channel.SMS:
            sms_started.add(message.enrollment_id)
    if prepared:
        _texts_store(prepared=prepared, token=messages[0].claim_token)
    return prepared


def _return_unsent(*, messages: list[Message]) -> int:
    """Give back the rest of a chunk that ran out of lease time, unsent, to the schedule."""
    returned = message_transition(
        messages=Message.objects.filter(pk__in=[m.pk for m in messages]), from_statuses=[MessageStatus.SENDING],
        to=MessageStatus.PENDING, token=messages[0].claim_token,
        reason="not reached before its lease ran out; returned to the schedule")
    logger.warning("chunk out of time: %d messages returned unsent", returned)
    return returned


def _send_chunk(*, prepared: list[tuple[Message, RenderedMessage]], now: datetime | None,
                recorder: OutcomeRecorder) -> None:
    """Send the prepared messages, SMS_SEND_THREADS at a time, a patient's own in order."""
    pool = _send_pool() if sum(m.channel == Channel.SMS for m, _ in prepared) > 1 else None
    width = settings.SMS_SEND_THREADS if pool else 1
    deadline, prepared_at = _send_deadline(), time.monotonic()
    # SMS handed to the send threads: each settled as soon as its send is done, whichever
    # finishes first, so that one slow answer never keeps the other threads idle.
    under_way: dict[Future, tuple[Message, datetime]] = {}

    def settle(future: Future) -> None:
        waiting, moment = under_way.pop(future)
        recorder.add(hand_over_outcome(message=waiting, send=future.result, now=moment))

    def settle_first_done() -> None:
        done, _ = wait(under_way, return_when=FIRST_COMPLETED)
        for future in done:
            settle(future)

    for index, (message, rendered) in enumerate(prepared):
        if time.monotonic() > deadline:
            recorder.outcomes[Outcome.DEFERRED] += _return_unsent(messages=[m for m, _ in prepared[index:]])
            break
        moment = now or timezone.now()
        # A paced chunk can take a while: the clock's rules are asked again at sending time.
        if time.monotonic() - prepared_at > CLOCK_RECHECK_SECONDS:
            held = _clock_hold(message=message, now=moment)
            if held:
                recorder.outcomes[held] += 1
                continue
        # At most `width` sends at once, and one per enrollment, so that a
        # patient's messages leave in their order (the first carries the intro).
        same_patient = [f for f, (m, _) in under_way.items() if m.enrollment_id == message.enrollment_id]
        for future in same_patient:
            settle(future)
        while len(under_way) >= width:
            settle_first_done()
        send = partial(_deliver, message=message, rendered=rendered)
        if pool and message.channel == Channel.SMS:
            under_way[pool.submit(send)] = (message, moment)
        else:
            recorder.add(hand_over_outcome(message=message, send=send, now=moment))
    while under_way:
        settle_first_done()


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
    messages = _take(message_ids=message_ids, now=now, outcomes=outcomes)
    if not messages:
        return outcomes
    prepared = _prepare_chunk(messages=messages, now=now, outcomes=outcomes)
    recorder = OutcomeRecorder(outcomes)
    try:
        _send_chunk(prepared=prepared, now=now, recorder=recorder)
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
