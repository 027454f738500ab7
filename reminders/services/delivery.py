"""
What happens after a provider answers: retries, permanent failures, opt-outs,
fallback to email, status callbacks and settling unknown outcomes.

Every change is a guarded transition (message_states.py) from the states it
may come from, so a repeated or out-of-order callback never moves a message
backwards, and a worker whose claim was taken back writes nothing.
"""

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..backends.sms import SmsSendError, get_sms_backend
from ..backends.sms import twilio_errors
from ..models import Channel, ConsentActor, Message, MessageStatus
from ..scheduling import moment_words
from .consent import consent_record
from .message_states import message_transition

logger = logging.getLogger(__name__)

# Where a provider's status word takes a message, and from which states.
IN_FLIGHT = [MessageStatus.SENDING, MessageStatus.UNKNOWN]
ACCEPTED = [*IN_FLIGHT, MessageStatus.SENT]


def retry_delay(*, attempt: int) -> timedelta:
    """Exponential backoff with jitter: about base, 2x base, 4x base ..., capped."""
    ceiling = min(settings.SMS_RETRY_MAX_SECONDS, settings.SMS_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _move(message: Message, *, from_statuses: list[str], to: str, now: datetime, handed_over: bool = False,
          provider_evidence: bool = False, **fields) -> bool:
    """Move ``message``; out of "sending" only under the claim its caller read (``message.claim_token``).

    ``handed_over``: the move ends a hand-over to the provider made just now, which counts as an attempt.
    """
    if handed_over:
        fields["attempts"] = message.attempts + 1
    return bool(message_transition(
        messages=Message.objects.filter(pk=message.pk), from_statuses=from_statuses, to=to, now=now,
        token=message.claim_token if MessageStatus.SENDING in from_statuses and not provider_evidence else None,
        provider_evidence=provider_evidence, **fields,
    ))


def message_fallback_to_email(*, message: Message, now: datetime) -> Message | None:
    """Plan the email version of an SMS that cannot reach the patient, once.

    Nothing happens when the patient has no email consent, or when the step's
    email already exists (sent with the SMS, or an earlier fallback).
    """
    patient = message.enrollment.patient
    if Channel.EMAIL not in patient.channels():
        return None
    fallback, created = Message.objects.get_or_create(
        enrollment_id=message.enrollment_id, step_id=message.step_id, channel=Channel.EMAIL,
        defaults={"scheduled_at": now, "due_at": now, "fallback_for": message,
                  "reason": "instead of an SMS that could not reach the patient"},
    )
    if created:
        logger.info("message %s: email fallback %s planned", message.pk, fallback.pk)
    return fallback if created else None


def sms_failed(*, message: Message, code: str, reason: str, from_statuses: list[str],
               now: datetime, fallback: bool = False, opted_out: bool = False, handed_over: bool = False,
               provider_evidence: bool = False) -> bool:
    """Record a permanent SMS failure and act on it: opt-out, email fallback."""
    with transaction.atomic():
        moved = _move(message, from_statuses=from_statuses, to=MessageStatus.FAILED, now=now,
                      handed_over=handed_over, provider_evidence=provider_evidence,
                      error_code=code, reason=reason[:300])
        if not moved:
            return False
        if opted_out:
            consent_record(patient=message.enrollment.patient, channel=Channel.SMS, given=False,
                           actor=ConsentActor.PROVIDER_ERROR, source=f"Twilio error {code}")
        if fallback:
            message_fallback_to_email(message=message, now=now)
    logger.warning("message %s failed (code %s)", message.pk, code or "-")
    return True


def message_retry_or_fail(*, message: Message, code: str, reason: str, from_statuses: list[str],
                          now: datetime, fallback: bool = False, handed_over: bool = False,
                          provider_evidence: bool = False) -> str:
    """Try a retryable failure (SMS or email) again later, or fail it when the attempts are used up.

    ``message`` is as its caller read it. Attempts count hand-overs to the
    provider only: ``handed_over`` when this failure ends one made just now
    (a refusal), not when it was counted already (a callback, a lookup).
    """
    attempts = message.attempts + handed_over
    # A full provider queue says nothing about the text or the number: it never uses the attempts up.
    if attempts < settings.SMS_MAX_ATTEMPTS or code in twilio_errors.QUEUE_FULL:
        due = now + retry_delay(attempt=attempts)
        moved = _move(message, from_statuses=from_statuses, to=MessageStatus.PENDING, now=now,
                      handed_over=handed_over, provider_evidence=provider_evidence,
                      due_at=due, error_code=code, provider_message_id="",
                      # When, as the coordinator reads the rest of the patient's times: in the patient's zone.
                      reason=f"retry {attempts + 1} of {max(settings.SMS_MAX_ATTEMPTS, attempts + 1)} at "
                             f"{moment_words(due, message.enrollment.patient.zone)}: {reason}"[:300])
        if moved:
            logger.info("message %s will be retried (code %s)", message.pk, code or "-")
            return MessageStatus.PENDING
        return ""
    sms_failed(message=message, code=code, from_statuses=from_statuses, now=now, fallback=fallback,
               handed_over=handed_over, provider_evidence=provider_evidence,
               reason=f"gave up after {attempts} attempts: {reason}")
    return MessageStatus.FAILED


def sms_refused(*, message: Message, error: SmsSendError, now: datetime) -> str:
    """Handle the provider refusing a send (the message is ours, in "sending")."""
    if error.retryable:
        return message_retry_or_fail(message=message, code=error.code, reason=error.reason,
                                     from_statuses=[MessageStatus.SENDING], now=now, fallback=error.fallback,
                                     handed_over=True)
    sms_failed(message=message, code=error.code, reason=error.reason, from_statuses=[MessageStatus.SENDING],
               now=now, fallback=error.fallback, opted_out=error.opted_out, handed_over=True)
    return MessageStatus.FAILED


@dataclass(frozen=True)
class StatusUpdate:
    message_id: int
    provider_message_id: str
    status: str
    error_code: str = ""


def message_status_update(*, update: StatusUpdate, now: datetime | None = None) -> bool:
    """Apply a provider status callback; returns whether anything changed.

    Only forward: a late "sent" never overwrites "delivered", a repeat changes
    nothing, and a callback about an earlier attempt (another SID) is ignored.
    """
    now = now or timezone.now()
    # Only what the usual callback (sent, delivered) needs: loading the patient and the clinic
    # (their phone numbers parsed) cost the web server most of a callback's time. A failure
    # reads them when it needs them (an opt-out, a fallback, a retry's time in the patient's zone).
    message = (
        Message.objects.only("id", "enrollment_id", "step_id", "channel", "status", "provider_message_id",
                             "sent_at", "attempts", "claim_token")
        .filter(pk=update.message_id, channel=Channel.SMS).first()
    )
    if message is None or not update.provider_message_id:
        return False
    if message.provider_message_id and message.provider_message_id != update.provider_message_id:
        return False  # about an earlier attempt
    sid = {"provider_message_id": update.provider_message_id}
    # Still "sending": the worker has not recorded this hand-over yet, and now never will.
    handed_over = message.status == MessageStatus.SENDING
    status = update.status.lower()
    if status in {"queued", "accepted", "scheduled", "sending", "sent"}:
        # The provider has it: an unknown outcome is settled as sent.
        return _move(message, from_statuses=IN_FLIGHT, to=MessageStatus.SENT, now=now, provider_evidence=True,
                     handed_over=handed_over, sent_at=message.sent_at or now, reason="", **sid)
    if status in {"delivered", "read"}:
        return _move(message, from_statuses=ACCEPTED, to=MessageStatus.DELIVERED, now=now, provider_evidence=True,
                     handed_over=handed_over, delivered_at=now, sent_at=message.sent_at or now, reason="", **sid)
    if status in {"undelivered", "failed", "canceled"}:
        code = update.error_code or ""
        reason = twilio_errors.explain(code) if code else f"Twilio reported the message {status}."
        fallback = code in twilio_errors.FALLBACK
        Message.objects.filter(pk=message.pk, status__in=ACCEPTED).update(**sid)
        if twilio_errors.is_retryable(code):
            # Known not delivered, so sending again cannot make a duplicate.
            return bool(message_retry_or_fail(message=message, code=code, reason=reason, provider_evidence=True,
                                              handed_over=handed_over, from_statuses=ACCEPTED, now=now,
                                              fallback=fallback))
        return sms_failed(message=message, code=code, reason=reason, from_statuses=ACCEPTED, now=now,
                          fallback=fallback, opted_out=code == twilio_errors.OPTED_OUT, provider_evidence=True,
                          handed_over=handed_over)
    return False


def _email_unknown_settle(*, message: Message, now: datetime) -> bool:
    """An email whose hand-over to the mail server was interrupted.

    A mail server cannot be asked what it took, so the email may have gone out:
    it is never sent again, and the coordinator sees why.
    """
    return bool(_move(message, from_statuses=[MessageStatus.UNKNOWN], to=MessageStatus.FAILED, now=now,
                      error_code="unknown",
                      reason="Interrupted while handing the email to the mail server, which cannot be asked "
                             "whether it took it; not sent again, as the patient may already have it."))


def _sms_unknown_settle(*, message: Message, backend, now: datetime) -> bool:
    """Ask the provider about one SMS; settle it by the answer, never resend blindly."""
    mobile = message.enrollment.patient.mobile
    if mobile in (None, ""):
        return sms_failed(
            message=message, code="unknown", from_statuses=[MessageStatus.UNKNOWN], now=now,
            reason="Interrupted while sending, and the patient's mobile number has since been removed, "
                   "so the provider cannot be asked; not sent again, as the patient may already have it.")
    try:
        # Handed over after it fell due (a claim takes only due messages), whenever the lookups ran.
        found = backend.lookup(to=mobile.as_e164, body=message.body, since=message.due_at - timedelta(hours=1))
    except NotImplementedError:
        return sms_failed(
            message=message, code="unknown", from_statuses=[MessageStatus.UNKNOWN], now=now,
            reason="Interrupted while sending and the provider cannot be asked; not sent again, "
                   "as the patient may already have it.")
    if found is None:
        return bool(message_retry_or_fail(
            message=message, code="unknown", from_statuses=[MessageStatus.UNKNOWN], now=now,
            reason="the provider has no record of it, so it is safe to send again"))
    return message_status_update(update=StatusUpdate(
        message_id=message.pk, provider_message_id=found.provider_message_id,
        status=found.status, error_code=found.error_code), now=now)


def unknown_messages_settle(*, now: datetime | None = None, limit: int = 100) -> int:
    """Settle messages whose outcome stayed unknown, each by its channel's rule.

    An SMS is looked up at the provider: found, its status is applied; not
    found, the provider never got it, so it is retried; a backend that cannot
    look up fails it with the reason rather than risk a second text. An email
    cannot be looked up: it fails with the reason, never sent twice. A message
    whose lookup broke goes to the back of the line, so that a few that keep
    failing never hold up the rest.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.UNKNOWN_SETTLE_AFTER_SECONDS)
    stale = list(
        Message.objects.select_related("enrollment__patient")
        .filter(status=MessageStatus.UNKNOWN, updated_at__lt=cutoff)
        .order_by("updated_at")[:limit]
    )
    backend = get_sms_backend() if any(m.channel == Channel.SMS for m in stale) else None
    settled = 0
    for message in stale:
        if message.channel == Channel.EMAIL:
            settled += _email_unknown_settle(message=message, now=now)
            continue
        try:
            settled += _sms_unknown_settle(message=message, backend=backend, now=now)
        except Exception:
            logger.exception("message %s: lookup failed; will try again", message.pk)
            # Its turn comes again after the others'.
            Message.objects.filter(pk=message.pk, status=MessageStatus.UNKNOWN).update(updated_at=now)
    return settled
