"""
Figure 2, timeliness: messages falling due over a minute, and the delay from
each one's due time to its arrival at the provider (recorded by the fake).
"""

import re
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from ..processes import beat_start, processes_stop, worker_start, workers_wait_ready
from . import data
from .environment import WORK_DIR, BenchTarget, bench_clinic, bench_env, bench_program, data_wipe
from .report import Figure
from .throughput import wait_until_final

MESSAGE_ID = re.compile(r"/status/(\d+)/")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def figure_timeliness(*, target: BenchTarget, fake, sizes: dict) -> Figure:
    data_wipe(target=target)
    fake.reset()
    clinic, program = bench_clinic(), bench_program()
    n, spread = sizes["timeliness"], sizes["timeliness_spread_seconds"]
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    env = bench_env(target=target, fake_url=fake.url, DISPATCH_INTERVAL_SECONDS=str(interval))
    spawned = [worker_start(name="worker1", env=env, log_dir=WORK_DIR)]
    try:
        workers_wait_ready(spawned, broker_url=target.redis_url)
        spawned.append(beat_start(env=env, log_dir=WORK_DIR))
        time.sleep(interval)  # beat in its rhythm before anything falls due
        first_due = datetime.now(UTC) + timedelta(seconds=3)
        first_id, last_id = data.due_sms_insert(clinic=clinic, program=program, count=n, first_due=first_due,
                                                spread_seconds=spread)
        statuses = wait_until_final(first_id=first_id, last_id=last_id, timeout=spread + 120, processes=spawned)
    finally:
        processes_stop(*spawned)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, due_at FROM reminders_message WHERE id BETWEEN %s AND %s", [first_id, last_id])
        due = {pk: due_at.timestamp() for pk, due_at in cursor.fetchall()}
    arrivals = {int(MESSAGE_ID.search(m["status_callback"])[1]): m["received_at"] for m in fake.messages()}
    delays = [arrivals[pk] - due[pk] for pk in due if pk in arrivals]
    p50, p99 = percentile(delays, 0.50), percentile(delays, 0.99)
    stats = fake.stats(summary=True)
    complete = len(delays) == n and statuses == {"sent": n} and stats["duplicates"] == 0
    return Figure(
        number=2, name="Timeliness",
        result=f"due -> provider call p50 {p50:.2f} s, p99 {p99:.2f} s, max {max(delays):.2f} s "
               f"({n:,} messages due over {spread:.0f} s)",
        goal="p99 <= 10 s",
        met=complete and p99 <= 10 and min(delays) >= 0,
        sound=complete and min(delays) >= 0,
        details={
            "messages": f"{n:,}, due evenly over {spread:.0f} s",
            "dispatch interval (beat)": f"{interval:g} s",
            "p50 / p90 / p99 / max": f"{p50:.2f} / {percentile(delays, 0.90):.2f} / {p99:.2f} / "
                                     f"{max(delays):.2f} s",
            "mean": f"{statistics.fmean(delays):.2f} s",
            "earliest (a negative value would be a send before its time)": f"{min(delays):.2f} s",
            "statuses recorded": statuses,
            "fake: accepted / duplicates": f"{stats['accepted']:,} / {stats['duplicates']}",
        },
        notes=["The delay is measured from each message's due time (in the database) to its arrival at the "
               "fake (its own clock; one machine). The dispatch cycle runs every beat interval, so the delay "
               "is about uniform between zero and the interval, plus the send."],
    )
