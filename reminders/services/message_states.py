"""
A message's state machine: the moves it may make, and the one way to make them.

    pending -> queued (a dispatch cycle claimed it) -> sending (a worker took it)
            -> sent -> delivered, or failed | skipped | cancelled | paused,
               or unknown (the provider may have it) -> settled by a callback or a lookup,
               or back to pending (deferred by quiet hours, retried, returned unsent)

Every move is one conditional UPDATE on the status it comes from, so of two
callers racing for a message (duplicate beats, a redelivered task, a callback
beside a worker) exactly one wins and the other changes nothing. A move out of
``sending`` belongs to the worker holding the claim: it must name that claim's
token, so a worker whose lease ran out, and whose message another worker has
taken since, can no longer write over it. Only two others may move a message
out of ``sending``: lease recovery, once the lease has run out, and the
provider's own word about that message (a status callback or a lookup).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from ..models import Message, MessageStatus

S = MessageStatus

# Where a message may go from each status. Delivered, failed and skipped are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.QUEUED, S.PAUSED, S.CANCELLED, S.SKIPPED}),
    S.PAUSED: frozenset({S.PENDING, S.CANCELLED, S.SKIPPED}),
    S.QUEUED: frozenset({S.SENDING, S.PENDING, S.CANCELLED}),
    S.SENDING: frozenset({S.SENT, S.DELIVERED, S.FAILED, S.SKIPPED, S.CANCELLED, S.PAUSED, S.PENDING,
                          S.UNKNOWN}),
    # Settled by the provider's word, or sent again once the provider is known not to have it.
    S.UNKNOWN: frozenset({S.SENT, S.DELIVERED, S.FAILED, S.PENDING}),
    # A status callback: delivered, or not delivered (retried when the code allows it).
    S.SENT: frozenset({S.DELIVERED, S.FAILED, S.PENDING}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
    S.SKIPPED: frozenset(),
    # Consent given again: what withdrawing it cancelled is planned again.
    S.CANCELLED: frozenset({S.PENDING, S.PAUSED}),
}

# A message in these holds a lease; leaving them gives it up.
LEASED = frozenset({S.QUEUED, S.SENDING})


class TransitionNotAllowed(ValueError):
    """A move the state machine does not have, or a move out of "sending" by someone not holding it."""


def _guard(*, from_statuses: Iterable[str], to: str, token: UUID | None, lease_expired_before: datetime | None,
           provider_evidence: bool) -> tuple[list[str], dict]:
    """The statuses and conditions an UPDATE must match for this move."""
    sources = sorted(set(from_statuses))
    refused = [source for source in sources if to not in TRANSITIONS[source]]
    if refused:
        raise TransitionNotAllowed(f"a message cannot go from {', '.join(refused)} to {to}")
    match: dict = {}
    if token is not None:
        match["claim_token"] = token
    if lease_expired_before is not None:
        match["lease_expires_at__lt"] = lease_expired_before
    if S.SENDING in sources and token is None and lease_expired_before is None and not provider_evidence:
        raise TransitionNotAllowed("only the worker holding the claim (its token) may move a message out of sending")
    return sources, match


def _values(*, to: str, now: datetime, fields: dict) -> dict:
    values = {"status": to, "updated_at": now, **fields}
    if to not in LEASED:
        values.setdefault("lease_expires_at", None)
    if to == S.PENDING:
        values.setdefault("claim_token", None)  # a new claim brings a new token
    return values


def message_transition(
    *, messages: QuerySet[Message], from_statuses: Iterable[str], to: str, now: datetime | None = None,
    token: UUID | None = None, lease_expired_before: datetime | None = None, provider_evidence: bool = False,
    **fields,
) -> int:
    """Move the messages of ``messages`` that are in ``from_statuses`` to ``to``, setting ``fields``.

    Returns how many moved: those another caller moved first are left alone.
    ``token``: only the claim holding it (required out of "sending", unless the
    lease ran out before ``lease_expired_before`` or the move follows the
    provider's word about the message, ``provider_evidence``).
    """
    sources, match = _guard(from_statuses=from_statuses, to=to, token=token,
                            lease_expired_before=lease_expired_before, provider_evidence=provider_evidence)
    values = _values(to=to, now=now or timezone.now(), fields=fields)
    return messages.filter(status__in=sources, **match).update(**values)


def messages_transition_each(
    *, rows: Sequence[tuple], columns: Sequence[str], from_statuses: Iterable[str], to: str,
    now: datetime | None = None, token: UUID | None = None, **fields,
) -> int:
    """The same move for many messages with values of their own, in one statement.

    ``rows`` are ``(id, value of columns[0], ...)``. The ORM's Case/When
    equivalent costs more to build than the rows cost to write (BENCHMARKS.md).
    """
    sources, match = _guard(from_statuses=from_statuses, to=to, token=token, lease_expired_before=None,
                            provider_evidence=False)
    if not rows:
        return 0
    values = _values(to=to, now=now or timezone.now(), fields=fields)
    return rows_update(rows=rows, columns=columns, constants=values, match=match, match_in={"status": sources})


def rows_update(*, rows: Sequence[tuple], columns: Sequence[str], constants: dict | None = None,
                match: dict | None = None, match_in: dict | None = None) -> int:
    """``UPDATE message SET <columns> from each row, <constants> WHERE id = the row's id AND <match>``.

    Runs on PostgreSQL and on SQLite (3.33 or later); returns how many rows changed.
    """
    if not rows:
        return 0
    quote, table = connection.ops.quote_name, connection.ops.quote_name(Message._meta.db_table)

    def prep(name: str, value):
        return Message._meta.get_field(name).get_db_prep_value(value, connection)

    constants, match, match_in = constants or {}, match or {}, match_in or {}
    row = f"({', '.join(['%s'] * (len(columns) + 1))})"
    sets = [f"{quote(c)} = v.{quote(c)}" for c in columns] + [f"{quote(c)} = %s" for c in constants]
    conditions = [f" AND {table}.{quote(c)} = %s" for c in match]
    conditions += [f" AND {table}.{quote(c)} IN ({', '.join(['%s'] * len(v))})" for c, v in match_in.items()]
    sql = (f"WITH v({', '.join(quote(c) for c in ['id', *columns])}) AS (VALUES {', '.join([row] * len(rows))}) "
           f"UPDATE {table} SET {', '.join(sets)} FROM v WHERE {table}.{quote('id')} = v.{quote('id')}"
           + "".join(conditions))
    params = [prep(name, value) for r in rows for name, value in zip(["id", *columns], r, strict=True)]
    params += [prep(c, v) for c, v in constants.items()] + [prep(c, v) for c, v in match.items()]
    params += [prep(c, each) for c, values in match_in.items() for each in values]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount >= 0:
            return cursor.rowcount
        # Python's sqlite3 counts no rows for a statement that starts with WITH.
        cursor.execute("SELECT changes()")
        return cursor.fetchone()[0]
