"""
Figure 3, flat scan cost: the claim query alone (PostgreSQL's own time for the
SELECT ... FOR UPDATE SKIP LOCKED the claim runs, not the sends after it) with
10,000 rows in the table and with 1,000,000 (mostly sent), under churn: between
rounds, rows that were due are sent, sent ones delivered and some deleted, with
autovacuum off, so the pending index carries dead entries as it does between
two vacuums. Also measured after VACUUM, for comparison. Figure 6 (the admin)
is measured on the same two tables.
"""

import re
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from reminders.models import Message, MessageStatus
from reminders.services.claims import messages_claim
from reminders.services.dispatch import dispatch_cycle

from . import data
from .admin_pages import figure_admin, pages_measure
from .environment import BenchTarget, analyze, bench_clinic, bench_program, bench_settings, data_wipe
from .report import Figure

INDEX = "message_pending_due_idx"
# The big table's claim may take at most this many times the small one's.
RATIO_LIMIT = 1.2
# Of the rows churned between two rounds, deleted: a tenth as many.
DELETED_SHARE = 0.1
EXECUTION_TIME = re.compile(r"Execution Time: ([\d.]+) ms")
BUFFERS = re.compile(r"Buffers: shared((?: \w+=\d+)+)")


def claim_flat(*, small_ms: float, large_ms: float, uses_index: bool, limit: float = RATIO_LIMIT) -> bool:
    """Figure 3's goal: the claim on the big table within ``limit`` times the small one's, over the index."""
    return uses_index and large_ms <= limit * small_ms


def _due_again(first_id: int, last_id: int) -> None:
    """Put the benchmark's due messages back to pending and due, as they were."""
    Message.objects.filter(pk__range=(first_id, last_id)).update(
        status=MessageStatus.PENDING, due_at=timezone.now() - timedelta(minutes=1), claim_token=None,
        lease_expires_at=None, attempts=0, provider_message_id="", body="", sent_at=None, reason="")


def _claim_query(limit: int):
    """The claim's SELECT, as messages_claim builds it (its columns, its lock, its order and limit)."""
    due = Message.objects.filter(status=MessageStatus.PENDING, due_at__lte=timezone.now()).order_by("due_at")
    return due.select_for_update(skip_locked=True, of=("self",)).values_list(
        "id", "channel", "enrollment__patient__clinic_id")[:limit]


def claim_plan(limit: int = 100) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the claim's SELECT, run in a transaction rolled back."""
    with transaction.atomic():
        plan = _claim_query(limit).explain(analyze=True, buffers=True)
        transaction.set_rollback(True)
    return plan


def plan_figures(plan: str) -> tuple[float, int]:
    """The execution time (ms) and the shared buffers the whole query touched (the top node's)."""
    buffers = BUFFERS.search(plan)
    touched = sum(int(part.split("=")[1]) for part in buffers[1].split()) if buffers else 0
    return float(EXECUTION_TIME.search(plan)[1]), touched


def _execute(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def churn(*, rows: int, first_id: int, last_id: int, now: datetime) -> None:
    """What a working day does to the table between two claims, without VACUUM, each step committed:
    ``rows`` messages that were pending and due (before the benchmark's own) are sent, leaving dead
    entries where the claim's index scan starts; as many sent ones are reported delivered; and a
    tenth as many delivered ones are deleted."""
    outside = "id NOT BETWEEN %(first)s AND %(last)s"
    params = {"first": first_id, "last": last_id, "rows": rows, "now": now, "deleted": int(rows * DELETED_SHARE)}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM reminders_message WHERE status IN ('sent', 'delivered') AND {outside} "
                       "ORDER BY random() LIMIT %(rows)s", params)
        picked = [row[0] for row in cursor.fetchall()]
    params["ids"] = picked
    # Due ten minutes ago, pending: the claim's index scan would meet them first ...
    _execute("UPDATE reminders_message SET status = 'pending', due_at = %(now)s - interval '10 minutes', "
             "sent_at = NULL, delivered_at = NULL, updated_at = %(now)s WHERE id = ANY(%(ids)s)", params)
    # ... and sent, as the last cycle did: their pending index entries are dead now, not gone.
    _execute("UPDATE reminders_message SET status = 'sent', sent_at = %(now)s, updated_at = %(now)s "
             "WHERE id = ANY(%(ids)s)", params)
    _execute("UPDATE reminders_message SET status = 'delivered', delivered_at = %(now)s, updated_at = %(now)s "
             f"WHERE id IN (SELECT id FROM reminders_message WHERE status = 'sent' AND {outside} "
             "AND NOT id = ANY(%(ids)s) ORDER BY random() LIMIT %(rows)s)", params)
    _execute(f"DELETE FROM reminders_message WHERE id IN (SELECT id FROM reminders_message "
             f"WHERE status = 'delivered' AND {outside} ORDER BY random() LIMIT %(deleted)s)", params)


@dataclass
class _Round:
    claim_query_ms: float  # PostgreSQL's execution time of the claim's SELECT
    buffers: int
    claim_ms: float  # messages_claim as a whole: the room check, the SELECT, the move to queued
    cycle_ms: float  # a whole dispatch cycle, the sends to the fake included
    plan: str


def _round(*, fake_url: str, first_id: int, last_id: int) -> _Round:
    due = last_id - first_id + 1
    _due_again(first_id, last_id)
    # The first scan after the churn: it walks the dead entries (and marks them for the next one).
    plan = claim_plan(due)
    query_ms, buffers = plan_figures(plan)
    with transaction.atomic():
        started = time.perf_counter()
        claimed = messages_claim(limit=due)
        claim_ms = (time.perf_counter() - started) * 1000
        transaction.set_rollback(True)
    if len(claimed) != due:
        raise RuntimeError("the claim did not find the due messages")
    with override_settings(**bench_settings(fake_url=fake_url)):
        started = time.perf_counter()
        summary = dispatch_cycle(limit=due)
        cycle_ms = (time.perf_counter() - started) * 1000
    if (summary.claimed, summary.as_dict()["sent"]) != (due, due):
        raise RuntimeError(f"the cycle did not send the {due} due messages: {summary.as_dict()}")
    return _Round(claim_query_ms=query_ms, buffers=buffers, claim_ms=claim_ms, cycle_ms=cycle_ms, plan=plan)


def scan_measure(*, fake_url: str, first_id: int, last_id: int, repeats: int, churn_rows: int) -> dict:
    """After VACUUM (a warm-up, then ``repeats`` rounds), then ``repeats`` rounds under churn."""
    _round(fake_url=fake_url, first_id=first_id, last_id=last_id)  # warm-up
    vacuumed = [_round(fake_url=fake_url, first_id=first_id, last_id=last_id) for _ in range(repeats)]
    churned = []
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE reminders_message SET (autovacuum_enabled = false)")
    try:
        for _ in range(repeats):
            churn(rows=churn_rows, first_id=first_id, last_id=last_id, now=timezone.now())
            churned.append(_round(fake_url=fake_url, first_id=first_id, last_id=last_id))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE reminders_message RESET (autovacuum_enabled)")

    def p50(rounds: list[_Round], name: str) -> float:
        return statistics.median(getattr(r, name) for r in rounds)

    return {**{f"vacuumed_{name}": p50(vacuumed, name) for name in ("claim_query_ms", "buffers", "claim_ms",
                                                                     "cycle_ms")},
            **{name: p50(churned, name) for name in ("claim_query_ms", "buffers", "claim_ms", "cycle_ms")},
            "each": [r.claim_query_ms for r in churned], "plan": churned[-1].plan, "rows": data.message_count()}


def figures_scan_and_admin(*, target: BenchTarget, fake, sizes: dict, only: set[int]) -> list[Figure]:
    data_wipe(target=target)
    clinic, program = bench_clinic(), bench_program()
    due = sizes["scan_due"]
    data.history_insert(clinic=clinic, program=program, rows=sizes["scan_small"] - due)
    first_id, last_id = data.due_sms_insert(clinic=clinic, program=program, count=due,
                                            first_due=timezone.now() - timedelta(minutes=1))
    patient_id = Message.objects.filter(status=MessageStatus.DELIVERED).order_by("id").values_list(
        "enrollment__patient_id", flat=True).first()
    analyze()
    repeats, admin_repeats, churn_rows = sizes["scan_repeats"], sizes["admin_repeats"], sizes["scan_churn"]
    # The admin first on each table: the scan's churn deletes some rows.
    small = {}
    if 6 in only:
        small["admin"] = pages_measure(patient_id=patient_id, repeats=admin_repeats)
    if 3 in only:
        small["scan"] = scan_measure(fake_url=fake.url, first_id=first_id, last_id=last_id, repeats=repeats,
                                     churn_rows=churn_rows)

    data.history_insert(clinic=clinic, program=program, rows=sizes["scan_large"] - data.message_count())
    analyze()
    rows_large = data.message_count()
    large = {}
    if 6 in only:
        large["admin"] = pages_measure(patient_id=patient_id, repeats=admin_repeats)
    if 3 in only:
        large["scan"] = scan_measure(fake_url=fake.url, first_id=first_id, last_id=last_id, repeats=repeats,
                                     churn_rows=churn_rows)

    figures = []
    if 3 in only:
        figures.append(_figure_scan(small=small["scan"], big=large["scan"], due=due, repeats=repeats,
                                    churn_rows=churn_rows))
    if 6 in only:
        figures.append(figure_admin(small=small["admin"], large=large["admin"], small_rows=sizes["scan_small"],
                                    large_rows=rows_large, repeats=admin_repeats))
    return figures


def _figure_scan(*, small: dict, big: dict, due: int, repeats: int, churn_rows: int) -> Figure:
    s = small
    ratio = big["claim_query_ms"] / s["claim_query_ms"]
    # Judged on the big table: on a small one the planner may rightly read the whole table.
    uses_index = INDEX in big["plan"]

    def each(measure: dict) -> str:
        return ", ".join(f"{ms:.2f}" for ms in measure["each"])

    return Figure(
        number=3, name="Flat scan cost",
        result=(f"claim of {due} due under churn: {s['claim_query_ms']:.2f} ms with {s['rows']:,} rows, "
                f"{big['claim_query_ms']:.2f} ms with {big['rows']:,} = {ratio:.2f}x (after VACUUM "
                f"{s['vacuumed_claim_query_ms']:.2f} -> {big['vacuumed_claim_query_ms']:.2f} ms); plan uses {INDEX}: "
                f"{'yes' if uses_index else 'NO'}"),
        goal=f"claim query under churn <= {RATIO_LIMIT}x, and an index over unsent rows",
        met=claim_flat(small_ms=s["claim_query_ms"], large_ms=big["claim_query_ms"], uses_index=uses_index),
        notes=["The claim is judged alone: PostgreSQL's execution time of the SELECT ... FOR UPDATE SKIP LOCKED "
               "that messages_claim runs (EXPLAIN ANALYZE, in a transaction rolled back), not the sends after it. "
               f"Between rounds the table churns as between two vacuums (autovacuum off meanwhile): {churn_rows:,} "
               "messages that were pending and due before the benchmark's own are sent, leaving dead entries "
               f"where the claim's index scan starts; {churn_rows:,} sent ones are reported delivered and "
               f"{int(churn_rows * DELETED_SHARE):,} delivered ones deleted. Each round measures the first claim "
               "after the churn; the figure compares the medians. The same rounds right after VACUUM ANALYZE, the "
               "whole claim (the room check and the move to queued too) and a whole dispatch cycle (the sends to "
               "the fake too) are shown for comparison."],
        details={
            "rows in the table": f"{s['rows']:,} -> {big['rows']:,} (mostly sent or delivered)",
            "claim query under churn, p50": f"{s['claim_query_ms']:.2f} ms -> {big['claim_query_ms']:.2f} ms "
                                            f"({ratio:.2f}x)",
            "claim query under churn, each round (ms)": f"{each(s)} -> {each(big)}",
            "buffers the claim query touched under churn, p50": f"{s['buffers']:,.0f} -> {big['buffers']:,.0f}",
            "claim query after VACUUM, p50":
                f"{s['vacuumed_claim_query_ms']:.2f} ms -> {big['vacuumed_claim_query_ms']:.2f} ms "
                f"({s['vacuumed_buffers']:,.0f} -> {big['vacuumed_buffers']:,.0f} buffers)",
            "whole claim (room check, SELECT, move to queued), p50 under churn / after VACUUM":
                f"{s['claim_ms']:.1f} -> {big['claim_ms']:.1f} ms / {s['vacuumed_claim_ms']:.1f} -> "
                f"{big['vacuumed_claim_ms']:.1f} ms",
            "dispatch cycle with the sends to the fake, p50 under churn / after VACUUM":
                f"{s['cycle_ms']:.1f} -> {big['cycle_ms']:.1f} ms / {s['vacuumed_cycle_ms']:.1f} -> "
                f"{big['vacuumed_cycle_ms']:.1f} ms",
            "churn between rounds": f"{churn_rows:,} due sent, {churn_rows:,} delivered, "
                                    f"{int(churn_rows * DELETED_SHARE):,} deleted; autovacuum off",
            "rounds": f"{repeats} after VACUUM (after a warm-up), then {repeats} under churn, in the benchmark process",
            "plan": f"EXPLAIN (ANALYZE, BUFFERS) of the claim with {big['rows']:,} rows, the last round under "
                    f"churn:\n{big['plan']}",
        },
    )
