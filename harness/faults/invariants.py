"""
What must hold after any fault, checked against the database and the provider's own record:

1. The provider received each message at most once.
2. Every message ended sent, delivered, failed, skipped or cancelled (the last three
   with a reason), or is legitimately pending with its next attempt still to come;
   nothing is left queued or sending past its lease, or unknown past the settle time.
3. The counts add up to what was planned.
4. The database and the provider agree on what was sent.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count

from reminders.models import Message, MessageStatus

NEEDS_REASON = {MessageStatus.FAILED, MessageStatus.SKIPPED, MessageStatus.CANCELLED}
DONE = {MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.SKIPPED,
        MessageStatus.CANCELLED}
SENT = {MessageStatus.SENT, MessageStatus.DELIVERED}
SHOWN = 5  # ids named per problem, no more


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Windows:
    """How long each in-between state may legitimately last."""

    lease: timedelta
    unknown: timedelta  # the settle delay plus a settle interval or two
    grace: timedelta  # a few dispatch cycles


def status_counts() -> Counter:
    return Counter(dict(Message.objects.values_list("status").annotate(n=Count("id")).order_by()))


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:SHOWN])
    return shown + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def _at_most_once(*, stats: dict) -> Check:
    most = max((m["accepted"] for m in stats["messages"]), default=0)
    requests = max((m["requests"] for m in stats["messages"]), default=0)
    if stats["duplicates"]:
        twice = [Message.objects.filter(enrollment__patient__mobile=m["to"], body=m["body"])
                 .values_list("id", flat=True).first() for m in stats["duplicate_messages"]]
        return Check("at most once", False,
                     f"{stats['duplicates']} duplicate texts at the provider (up to {most} of one message; "
                     f"messages {_ids(sorted(i for i in twice if i))})")
    return Check("at most once", True,
                 f"{stats['accepted']} texts accepted, none twice; up to {requests} requests for one message")


def _accounted_for(*, now: datetime, windows: Windows) -> Check:
    problems: dict[str, list[int]] = {}
    rows = Message.objects.values_list("id", "status", "reason", "due_at", "lease_expires_at", "updated_at")
    for message_id, status, reason, due_at, lease_expires_at, updated_at in rows.iterator():
        if status in NEEDS_REASON and not reason.strip():
            problems.setdefault(f"{status} without a reason", []).append(message_id)
        elif status == MessageStatus.PENDING and due_at < now - windows.grace:
            problems.setdefault("pending, due and not claimed", []).append(message_id)
        elif status in {MessageStatus.QUEUED, MessageStatus.SENDING} and (
                lease_expires_at is None or lease_expires_at < now - windows.grace):
            problems.setdefault(f"{status} past its lease", []).append(message_id)
        elif status == MessageStatus.UNKNOWN and updated_at < now - windows.unknown:
            problems.setdefault("unknown past the settle time", []).append(message_id)
        elif status == MessageStatus.PAUSED:
            problems.setdefault("paused (nothing pauses here)", []).append(message_id)
    if problems:
        return Check("accounted for", False,
                     "; ".join(f"{len(ids)} {what} ({_ids(ids)})" for what, ids in problems.items()))
    return Check("accounted for", True, "each message is done with its reason, or waits for its next attempt")


def _counts_add_up(*, planned: int, counts: Counter) -> Check:
    total = sum(counts.values())
    if total != planned:
        return Check("counts add up", False, f"{total} messages in the database, {planned} planned")
    return Check("counts add up", True, f"{total} = {planned} planned")


def _provider_agrees(*, recorded: list[dict]) -> Check:
    """Every text the provider accepted is a message the database calls sent, and the reverse."""
    at_provider = {m["sid"] for m in recorded}
    # Pairs, not a dict: rows without an id, or sharing one, must each be counted.
    pairs = list(Message.objects.filter(status__in=SENT).values_list("provider_message_id", "id"))
    sent = {sid for sid, _ in pairs}
    problems = []
    without_sid = [message_id for sid, message_id in pairs if not sid]
    if without_sid:
        problems.append(f"{len(without_sid)} sent without the provider's id ({_ids(without_sid)})")
    per_sid = Counter(sid for sid, _ in pairs)
    shared = sorted(message_id for sid, message_id in pairs if sid and per_sid[sid] > 1)
    if shared:
        problems.append(f"{len(shared)} sent under a provider id another message has too ({_ids(shared)})")
    never_arrived = sorted(message_id for sid, message_id in pairs if sid and sid not in at_provider)
    if never_arrived:
        problems.append(f"{len(never_arrived)} recorded as sent that the provider never got ({_ids(never_arrived)})")
    unrecorded = [m for m in recorded if m["sid"] not in sent]
    if unrecorded:
        # Find them by number and text to say what the database thinks of them.
        states = Counter()
        for found in unrecorded:
            status = (Message.objects.filter(enrollment__patient__mobile=found["to"], body=found["body"])
                      .values_list("status", flat=True).first())
            states[status or "no message with that text"] += 1
        problems.append(f"{len(unrecorded)} accepted by the provider but not recorded as sent: "
                        + ", ".join(f"{n} {status}" for status, n in states.items()))
    if problems:
        return Check("provider agrees", False, "; ".join(problems))
    return Check("provider agrees", True,
                 f"{len(at_provider)} texts at the provider = {len(pairs)} sent in the database")


def invariants_check(*, planned: int, stats: dict, recorded: list[dict], now: datetime,
                     windows: Windows) -> list[Check]:
    return [
        _at_most_once(stats=stats),
        _accounted_for(now=now, windows=windows),
        _counts_add_up(planned=planned, counts=status_counts()),
        _provider_agrees(recorded=recorded),
    ]
