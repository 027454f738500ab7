"""
Recording what became of a send: the provider's answer, or why a message held
by a worker did not go out. Accepted sends are recorded a few at a time; every
other outcome at once. Only the worker holding a message's claim records it
(message_states.py); what happens after (retries, failures, fallback,
callbacks, settling unknown outcomes) is delivery.py's.
"""

import enum
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from ..backends.email import EMAIL_NOT_SENT
from ..backends.sms import SmsOutcomeUnknown, SmsSendError
from ..models import Message, MessageStatus
from .delivery import message_retry_or_fail, sms_refused
from .message_states import message_transition, messages_transition_each

logger = logging.getLogger(__name__)

# Accepted sends are recorded together, at most this many and this long after the first.
RECORD_BATCH = 50
RECORD_WITHIN_SECONDS = 1.0


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


def held_record(message: Message, *, status: str, now: datetime, **fields) -> bool:
    """Move a message this worker holds out of "sending" without a hand-over (held, deferred,
    failed to render), or with one whose outcome is recorded here; only under its claim's token."""
    return bool(message_transition(messages=Message.objects.filter(pk=message.pk),
                                   from_statuses=[MessageStatus.SENDING], to=status, now=now,
                                   token=message.claim_token, **fields))


@dataclass(frozen=True)
class Accepted:
    """A send the provider accepted, to be recorded as sent."""

    message_id: int
    provider_message_id: str
    sent_at: datetime
    attempts: int  # hand-overs, this one included
    token: uuid.UUID


def hand_over_outcome(*, message: Message, send: Callable[[], str], now: datetime) -> Outcome | Accepted:
    """The outcome of a send (``send`` makes it, or waits for a send thread's):
    a refusal is recorded here, an acceptance returned to be recorded with others."""
    message_id = message.pk
    try:
        provider_message_id = send()
    except SmsSendError as exc:
        status = sms_refused(message=message, error=exc, now=now)
        return Outcome.RETRYING if status == MessageStatus.PENDING else Outcome.FAILED
    except SmsOutcomeUnknown as exc:
        # The text is already stored: a lookup matches on it before anything is sent again.
        held_record(message, status=MessageStatus.UNKNOWN, now=now, reason=exc.reason, attempts=message.attempts + 1)
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
        held_record(message, status=MessageStatus.FAILED, now=now, attempts=message.attempts + 1,
                    reason=f"send error: {type(exc).__name__}; not retried")
        logger.exception("message %s send error", message_id)
        return Outcome.FAILED
    logger.info("message %s sent via %s", message_id, message.channel)
    return Accepted(message_id=message_id, provider_message_id=provider_message_id, sent_at=timezone.now(),
                    attempts=message.attempts + 1, token=message.claim_token)


def accepted_record(accepted: list[Accepted]) -> None:
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


class OutcomeRecorder:
    """Counts the outcomes of a chunk's sends and records acceptances a few at a time."""

    def __init__(self, outcomes: Counter) -> None:
        self.outcomes, self.accepted, self.oldest = outcomes, [], 0.0

    def add(self, result: Outcome | Accepted) -> None:
        if isinstance(result, Accepted):
            self.oldest = self.oldest or time.monotonic()
            self.accepted.append(result)
            result = Outcome.SENT
        self.outcomes[result] += 1
        # Recorded with others, but never held back for long.
        if len(self.accepted) >= RECORD_BATCH or (
                self.accepted and time.monotonic() - self.oldest >= RECORD_WITHIN_SECONDS):
            self.flush()

    def flush(self) -> None:
        accepted_record(self.accepted)
        self.accepted, self.oldest = [], 0.0
