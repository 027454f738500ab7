"""
Figure 3, flat scan cost: one dispatch cycle claiming 100 due messages with
10,000 rows in the table and with 1,000,000 (mostly sent), and the plan of the
claim query. Figure 6 (the admin) is measured on the same two tables.
"""

import statistics
import time
from datetime import timedelta

from django.db import transaction
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


def _due_again(first_id: int, last_id: int) -> None:
    """Put the benchmark's due messages back to pending and due, as they were."""
    Message.objects.filter(pk__range=(first_id, last_id)).update(
        status=MessageStatus.PENDING, due_at=timezone.now() - timedelta(minutes=1), claim_token=None,
        lease_expires_at=None, attempts=0, provider_message_id="", body="", sent_at=None, reason="")


def claim_plan() -> str:
    due = Message.objects.filter(status=MessageStatus.PENDING, due_at__lte=timezone.now()).order_by("due_at")
    with transaction.atomic():
        plan = due.select_for_update(skip_locked=True).values_list("id", flat=True)[:100].explain(
            analyze=True, buffers=True)
        transaction.set_rollback(True)
    return plan


def scan_measure(*, fake_url: str, first_id: int, last_id: int, repeats: int) -> dict:
    due = last_id - first_id + 1
    cycles, claims = [], []
    with override_settings(**bench_settings(fake_url=fake_url)):
        for _ in range(repeats + 1):  # the first is a warm-up
            _due_again(first_id, last_id)
            started = time.perf_counter()
            summary = dispatch_cycle(limit=due)
            cycles.append((time.perf_counter() - started) * 1000)
            if (summary.claimed, summary.as_dict()["sent"]) != (due, due):
                raise RuntimeError(f"the cycle did not send the {due} due messages: {summary.as_dict()}")
            _due_again(first_id, last_id)
            with transaction.atomic():
                started = time.perf_counter()
                claimed = messages_claim(limit=due)
                claims.append((time.perf_counter() - started) * 1000)
                transaction.set_rollback(True)
            if len(claimed) != due:
                raise RuntimeError("the claim did not find the due messages")
    plan = claim_plan()
    return {"cycle_ms": statistics.median(cycles[1:]), "claim_ms": statistics.median(claims[1:]),
            "plan": plan, "rows": data.message_count()}


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
    repeats, admin_repeats = sizes["scan_repeats"], sizes["admin_repeats"]
    small = {}
    if 3 in only:
        small["scan"] = scan_measure(fake_url=fake.url, first_id=first_id, last_id=last_id, repeats=repeats)
    if 6 in only:
        small["admin"] = pages_measure(patient_id=patient_id, repeats=admin_repeats)

    data.history_insert(clinic=clinic, program=program, rows=sizes["scan_large"] - data.message_count())
    analyze()
    rows_large = data.message_count()
    large = {}
    if 3 in only:
        large["scan"] = scan_measure(fake_url=fake.url, first_id=first_id, last_id=last_id, repeats=repeats)
    if 6 in only:
        large["admin"] = pages_measure(patient_id=patient_id, repeats=admin_repeats)

    figures = []
    if 3 in only:
        s, big = small["scan"], large["scan"]
        ratio = big["cycle_ms"] / s["cycle_ms"]
        # Judged on the big table: on a small one the planner may rightly read the whole table.
        uses_index = INDEX in big["plan"]
        figures.append(Figure(
            number=3, name="Flat scan cost",
            result=(f"cycle of {due} due: {s['cycle_ms']:.0f} ms with {s['rows']:,} rows, {big['cycle_ms']:.0f} ms "
                    f"with {big['rows']:,} = {ratio:.2f}x; plan uses {INDEX}: {'yes' if uses_index else 'NO'}"),
            goal="<= 1.2x, and an index over unsent rows",
            met=ratio <= 1.2 and uses_index,
            details={
                "rows in the table": f"{s['rows']:,} -> {big['rows']:,} (mostly sent or delivered)",
                "dispatch cycle, p50 (recover, claim, send to the fake, record)":
                    f"{s['cycle_ms']:.1f} ms -> {big['cycle_ms']:.1f} ms ({ratio:.2f}x)",
                "claim query alone, p50": f"{s['claim_ms']:.2f} ms -> {big['claim_ms']:.2f} ms",
                "repetitions": f"{repeats} after a warm-up, in the benchmark process",
                "plan": f"EXPLAIN (ANALYZE, BUFFERS) of the claim with {big['rows']:,} rows:\n{big['plan']}",
            },
        ))
    if 6 in only:
        figures.append(figure_admin(small=small["admin"], large=large["admin"], small_rows=sizes["scan_small"],
                                    large_rows=rows_large, repeats=admin_repeats))
    return figures
