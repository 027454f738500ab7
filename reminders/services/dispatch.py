"""
Dispatch: claim due messages and send each of them at most once.

A message moves pending -> queued (claimed by a dispatch cycle) -> sending (a
worker took it) -> sent | failed | skipped | cancelled, or back to pending when
quiet hours defer it. Every move is a conditional UPDATE on the current status,
so duplicate beats, duplicate task deliveries and racing workers find nothing
to do instead of sending twice.
"""

import enum
import logging
import smtplib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ..backends.sms import SmsOutcomeUnknown, SmsSendError, get_sms_backend
from ..models import Channel, EnrollmentStatus, Message, MessageStatus
from ..rendering import RenderedMessage, RenderError, render_message
from ..scheduling import in_quiet_hours, lateness_reason, next_allowed_time
from .delivery import retry_delay, sms_refused
from .unsubscribe import unsubscribe_url

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
    requeued = Message.objects.filter(
        status=MessageStatus.QUEUED, lease_expires_at__lt=now
    ).update(
        status=MessageStatus.PENDING, lease_expires_at=None, claim_token=None,
        reason="claim expired; returned to the schedule", updated_at=now,
    )
    interrupted = Message.objects.filter(
        status=MessageStatus.SENDING, lease_expires_at__lt=now
    ).update(
        status=MessageStatus.UNKNOWN, lease_expires_at=None,
        reason="interrupted while sending; not sent again until the provider is asked",
        updated_at=now,
    )
    if requeued or interrupted:
        logger.warning("recovered expired claims: requeued=%d interrupted=%d", requeued, interrupted)
    return requeued + interrupted


def messages_claim(*, now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Claim up to ``limit`` due messages for this caller alone; returns their ids."""
    now = now or timezone.now()
    limit = limit or settings.DISPATCH_BATCH_SIZE
    claim = {
        "status": MessageStatus.QUEUED,
        "lease_expires_at": now + settings.CLAIM_LEASE,
        "updated_at": now,
    }
    due = Message.objects.filter(status=MessageStatus.PENDING, due_at__lte=now).order_by("due_at")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            # PostgreSQL: rows another cycle holds are skipped, not waited for.
            ids = list(due.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
            Message.objects.filter(id__in=ids).update(**claim)
            return ids
        # SQLite has no row locks: a conditional update with a token tells which rows we won.
        token = uuid.uuid4()
        candidates = list(due.values_list("id", flat=True)[:limit])
        Message.objects.filter(id__in=candidates, status=MessageStatus.PENDING).update(
            claim_token=token, **claim
        )
        return list(
            Message.objects.filter(id__in=candidates, claim_token=token).values_list("id", flat=True)
        )


def _finish(message_id: int, *, status: str, now: datetime, **fields) -> bool:
    """Move a message out of "sending"; only the worker holding it can."""
    return bool(
        Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
            status=status, lease_expires_at=None, updated_at=now, **fields
        )
    )


def _deliver(*, message: Message, rendered: RenderedMessage) -> str:
    """Hand the message to its channel's provider; returns the provider's id."""
    patient = message.enrollment.patient
    if message.channel == Channel.SMS:
        return get_sms_backend().send(
            to=patient.mobile.as_e164, body=rendered.text, message_id=message.pk
        ).provider_message_id
    clinic = patient.clinic
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=f"{clinic.name} <{clinic.email or settings.DEFAULT_FROM_EMAIL}>",
        to=[patient.email],
        headers={
            "X-Followup-Message": str(message.pk),
            # One-click unsubscribe (RFC 8058), which mail apps show as a button.
            "List-Unsubscribe": f"<{unsubscribe_url(patient=patient)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    email.attach_alternative(rendered.html, "text/html")
    email.send()
    return ""


def _hold_reason(*, message: Message, now: datetime) -> tuple[Outcome, str] | None:
    """Why a claimed message must not go out now, if it must not."""
    enrollment = message.enrollment
    if enrollment.status == EnrollmentStatus.CANCELLED:
        return Outcome.CANCELLED, f"cancelled: {enrollment.status_reason}"
    if enrollment.status == EnrollmentStatus.PAUSED:
        return Outcome.PAUSED, f"paused: {enrollment.status_reason}"
    late = lateness_reason(max_lateness=message.step.max_lateness, due_at=message.due_at, now=now)
    if late:
        return Outcome.SKIPPED, late
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


def message_send(*, message_id: int, now: datetime | None = None) -> Outcome:
    """Send one claimed message, at most once. Safe to call again with the same id."""
    now = now or timezone.now()
    # The guarded transition: only one caller gets past this for a claim.
    taken = Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SENDING, lease_expires_at=now + settings.CLAIM_LEASE,
        attempts=F("attempts") + 1, updated_at=now,
    )
    if not taken:
        return Outcome.NOTHING
    message = Message.objects.select_related(
        "enrollment__patient__clinic", "enrollment__program", "step"
    ).get(pk=message_id)

    held = _hold_reason(message=message, now=now)
    if held:
        outcome, reason = held
        _finish(message_id, status=HOLD_STATUS[outcome], now=now, reason=reason)
        logger.info("message %s %s", message_id, outcome)
        return outcome

    patient = message.enrollment.patient
    clinic = patient.clinic
    if message.channel == Channel.SMS and in_quiet_hours(
        moment=now, zone=patient.zone, start=clinic.quiet_hours_start, end=clinic.quiet_hours_end
    ):
        later = next_allowed_time(
            moment=now, zone=patient.zone, start=clinic.quiet_hours_start, end=clinic.quiet_hours_end
        )
        _finish(message_id, status=MessageStatus.PENDING, now=now, due_at=later,
                claim_token=None, reason="deferred: quiet hours")
        logger.info("message %s deferred to %s by quiet hours", message_id, later.isoformat())
        return Outcome.DEFERRED

    try:
        rendered = render_message(message=message)
    except RenderError as exc:
        _finish(message_id, status=MessageStatus.FAILED, now=now, reason=exc.reason)
        logger.error("message %s failed to render: %s", message_id, exc.reason)
        return Outcome.FAILED

    # The text is on record before the provider can have it: if this worker dies or
    # loses the database before recording the outcome, the lookup that settles the
    # message matches on this text. Without it the lookup finds nothing, and the
    # message would be sent a second time.
    if not Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
            subject=rendered.subject, body=rendered.text):
        return Outcome.NOTHING  # taken back meanwhile (its lease ran out): no longer ours to send
    try:
        provider_message_id = _deliver(message=message, rendered=rendered)
    except SmsSendError as exc:
        status = sms_refused(message=message, error=exc, now=now)
        return Outcome.RETRYING if status == MessageStatus.PENDING else Outcome.FAILED
    except SmsOutcomeUnknown as exc:
        # Its text is on record: a lookup matches on it before anything is sent again.
        _finish(message_id, status=MessageStatus.UNKNOWN, now=now, reason=exc.reason)
        logger.warning("message %s outcome unknown", message_id)
        return Outcome.UNKNOWN
    except EMAIL_NOT_SENT as exc:
        # The mail server refused the connection: nothing went out, try later.
        if message.attempts < settings.SMS_MAX_ATTEMPTS:
            _finish(message_id, status=MessageStatus.PENDING, now=now, claim_token=None,
                    due_at=now + retry_delay(attempt=message.attempts), error_code="smtp",
                    reason=f"mail server unavailable ({type(exc).__name__}); will retry")
            return Outcome.RETRYING
        _finish(message_id, status=MessageStatus.FAILED, now=now, error_code="smtp",
                reason=f"mail server unavailable ({type(exc).__name__}) after {message.attempts} attempts")
        return Outcome.FAILED
    except Exception as exc:
        # Whatever broke, the provider may have it: record, never retry blindly.
        _finish(message_id, status=MessageStatus.FAILED, now=now,
                reason=f"send error: {type(exc).__name__}; not retried")
        logger.exception("message %s send error", message_id)
        return Outcome.FAILED

    # When a status callback got here first and moved the message on, this changes nothing.
    _finish(message_id, status=MessageStatus.SENT, now=now, sent_at=timezone.now(), reason="",
            error_code="", provider_message_id=provider_message_id)
    logger.info("message %s sent via %s", message_id, message.channel)
    return Outcome.SENT


def messages_send(*, message_ids: list[int]) -> Counter:
    """Send a batch of claimed messages; one failure never stops the rest."""
    outcomes: Counter = Counter()
    for message_id in message_ids:
        outcomes[message_send(message_id=message_id)] += 1
    return outcomes


def dispatch_cycle(*, now: datetime | None = None, limit: int | None = None) -> DispatchSummary:
    """One whole cycle in the foreground: recover, claim, send, record."""
    summary = DispatchSummary(recovered=leases_recover(now=now))
    ids = messages_claim(now=now, limit=limit)
    summary.claimed = len(ids)
    summary.outcomes = messages_send(message_ids=ids)
    return summary
