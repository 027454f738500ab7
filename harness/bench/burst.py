"""
Figure 9, morning burst: one clinic's texts all due at once on its own sender,
allowed R segments a second, against a fake that queues each sender's texts at
that same rate (Twilio's queue) and refuses with 21611 past its limit; and, side
by side, a trickle of another clinic's texts (its own sender, its own rate)
falling due while the burst drains. The clinics' own senders pace the sends
(SMS_RATE_PER_SECOND, the default sender's rate, stays unset).
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from reminders.models import SenderKind
from reminders.senders import SEGMENTS_PER_TEXT

from ..fakes.twilio import FakeConfig, FakeTwilioClient
from ..processes import WORKER_CONCURRENCY, beat_start, processes_stop, worker_start, workers_wait_ready
from . import data
from .environment import WORK_DIR, BenchTarget, bench_clinic, bench_env, bench_program, data_wipe
from .report import Figure
from .throughput import wait_until_final
from .timeliness import MESSAGE_ID, percentile

# The burst clinic texts from a messaging service, the trickle's from a toll-free number.
BURST_SENDER = "MG" + "0123456789abcdef" * 2
TRICKLE_SENDER = "+18885550142"
# The drain may take this much longer than the sender's rate allows.
DRAIN_MARGIN = 1.10
# The trickle's p99 lateness, in beat intervals.
TRICKLE_LATE_INTERVALS = 2
# The fake refuses (21611) a text that would wait in its sender's queue longer than this many
# beat intervals: Twilio's queue holds hours, which a run never reaches; a short one shows a
# sender sent faster than it may within the run.
QUEUE_INTERVALS = 2
# The trickle falls due from a beat interval after the burst to this share of its expected drain.
TRICKLE_SPAN = 0.8


@dataclass(frozen=True)
class Drain:
    """One sender's texts at the fake: from the first one's arrival to the last one's leaving its queue."""

    texts: int
    segments: int
    first_call: float
    last_sent: float

    @property
    def seconds(self) -> float:
        return self.last_sent - self.first_call


def sender_drain(messages: list[dict], *, sender: str) -> Drain:
    """The drain of ``sender`` (a number, or a messaging service) from the fake's list of accepted texts."""
    mine = [m for m in messages if (m["messaging_service_sid"] or m["from"]) == sender]
    if not mine:
        return Drain(texts=0, segments=0, first_call=0.0, last_sent=0.0)
    return Drain(texts=len(mine), segments=sum(m["segments"] for m in mine),
                 first_call=min(m["received_at"] for m in mine), last_sent=max(m["sent_at"] for m in mine))


def drain_limit(*, segments: int, rate: float, margin: float = DRAIN_MARGIN) -> float:
    """The longest a drain of ``segments`` may take on a sender allowed ``rate`` segments a second."""
    return margin * segments / rate


def _due_times(first_id: int, last_id: int) -> dict[int, float]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, due_at FROM reminders_message WHERE id BETWEEN %s AND %s", [first_id, last_id])
        return {pk: due_at.timestamp() for pk, due_at in cursor.fetchall()}


def figure_burst(*, target: BenchTarget, fake: FakeTwilioClient, sizes: dict) -> Figure:
    data_wipe(target=target)
    fake.reset()
    n, rate, trickle = sizes["burst_messages"], sizes["burst_rate"], sizes["burst_trickle"]
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    queue_seconds = QUEUE_INTERVALS * interval
    fake.configure(segment_rate=rate, queue_seconds=queue_seconds)
    program = bench_program()
    burst_clinic = bench_clinic(sms_sender=BURST_SENDER, sms_sender_kind=SenderKind.MESSAGING_SERVICE,
                                sms_segments_per_second=rate)
    trickle_clinic = bench_clinic(name="Bench Bone Clinic", phone="+12025550144", sms_sender=TRICKLE_SENDER,
                                  sms_sender_kind=SenderKind.TOLL_FREE)
    # Where the trickle falls due: while the burst drains, by the segments a text usually takes.
    expected = n * SEGMENTS_PER_TEXT / rate
    lead, span = interval, max(TRICKLE_SPAN * expected - interval, 1.0)
    env = bench_env(target=target, fake_url=fake.url, DISPATCH_INTERVAL_SECONDS=str(interval))
    spawned = [worker_start(name="worker1", env=env, log_dir=WORK_DIR)]
    try:
        workers_wait_ready(spawned, broker_url=target.redis_url)
        spawned.append(beat_start(env=env, log_dir=WORK_DIR))
        time.sleep(interval)  # beat in its rhythm before anything falls due
        due = datetime.now(UTC)
        first_id, _ = data.due_sms_insert(clinic=burst_clinic, program=program, count=n, first_due=due)
        trickle_first, trickle_last = data.due_sms_insert(
            clinic=trickle_clinic, program=program, count=trickle, first_due=due + timedelta(seconds=lead),
            spread_seconds=span)
        statuses = wait_until_final(first_id=first_id, last_id=trickle_last, timeout=3 * expected + 120,
                                    processes=spawned)
    finally:
        processes_stop(*spawned)
        stats = fake.stats(summary=True)
        listed = fake.messages()
        fake.configure(segment_rate=0.0, queue_seconds=FakeConfig().queue_seconds)

    due_at = _due_times(first_id, trickle_last)
    arrivals = {int(MESSAGE_ID.search(m["status_callback"])[1]): m["received_at"] for m in listed}
    burst = sender_drain(listed, sender=BURST_SENDER)
    limit = drain_limit(segments=burst.segments, rate=rate)
    late = [arrivals[pk] - due_at[pk] for pk in range(trickle_first, trickle_last + 1) if pk in arrivals]
    p50, p99 = (percentile(late, q) if late else float("inf") for q in (0.50, 0.99))
    late_limit = TRICKLE_LATE_INTERVALS * interval
    earliest = min((arrivals[pk] - due for pk, due in due_at.items() if pk in arrivals), default=0.0)
    overflow = stats["outcomes"].get("queue_overflow", 0)
    total = n + trickle
    sound = (statuses == {"sent": total} and stats["accepted"] == total and stats["duplicates"] == 0
             and len(late) == trickle and burst.texts == n and earliest >= 0)
    met = sound and burst.seconds <= limit and overflow == 0 and p99 <= late_limit
    before_burst_ended = sum(1 for pk in range(trickle_first, trickle_last + 1)
                             if arrivals.get(pk, float("inf")) < burst.last_sent)
    return Figure(
        number=9, name="Morning burst",
        result=(f"{n:,} texts ({burst.segments:,} segments) on a sender allowed R = {rate:g} segments/s drained "
                f"in {burst.seconds:.1f} s = {burst.seconds * rate / max(burst.segments, 1):.2f} x segments / R "
                f"(limit {limit:.1f} s); {overflow} answered 21611; the other clinic's trickle p99 {p99:.2f} s "
                "late"),
        goal=(f"drain <= {DRAIN_MARGIN} x segments / R; 0 queue overflow (21611); trickle p99 lateness <= "
              f"{TRICKLE_LATE_INTERVALS} beat intervals ({late_limit:g} s)"),
        met=met,
        sound=sound,
        notes=["The burst clinic texts from a messaging service of its own allowed R segments a second, the "
               "trickle's clinic from a toll-free number of its own at its kind's rate: each clinic's sender "
               "paces its own texts in segments (SMS_RATE_PER_SECOND, the default sender's rate, is unset). The "
               "fake queues each sender's texts at R segments a second, counted from each body's encoding, as "
               "Twilio does. The drain runs from the burst's first text reaching the fake to its last leaving "
               "the sender's queue there; the segments are the fake's count of the rendered texts (the "
               "program's welcome text, whose first-text notice makes it two segments). The trickle's lateness "
               "runs from each text's due time (in the database) to its arrival at the fake."],
        details={
            "burst": f"{n:,} texts due at once for one clinic; its own sender (a messaging service) allowed "
                     f"{rate:g} segments/s",
            "segments (the fake's count)": f"{burst.segments:,} = {burst.segments / max(burst.texts, 1):.2f} a text",
            "drain: first text at the fake -> last text out of its queue": f"{burst.seconds:.1f} s (limit "
                                                                            f"{limit:.1f} s)",
            "rate at the provider": f"{burst.segments / burst.seconds if burst.seconds else 0:.1f} segments/s = "
                                    f"{burst.texts / burst.seconds if burst.seconds else 0:.1f} texts/s",
            "the fake's queue": f"{rate:g} segments/s per sender; a text that would wait over {queue_seconds:g} s "
                                "is refused (21611)",
            "longest wait in the fake's queue (burst sender)":
                f"{stats['queue_wait_max_seconds'].get(BURST_SENDER, 0):.2f} s",
            "21611 answers": overflow,
            "trickle": f"{trickle:,} texts of another clinic (its own toll-free number, "
                       f"{trickle_clinic.sms_rate:g} segments/s), due evenly from {lead:g} s to "
                       f"{lead + span:.0f} s after the burst",
            "trickle lateness (due -> at the fake) p50 / p99 / max":
                f"{p50:.2f} / {p99:.2f} / {max(late, default=float('inf')):.2f} s",
            "trickle texts at the fake before the burst's last": f"{before_burst_ended:,} of {trickle:,}",
            "worker": f"1 worker, prefork pool of {WORKER_CONCURRENCY}, chunks of {settings.DISPATCH_CHUNK_SIZE}, "
                      f"claims of {settings.DISPATCH_BATCH_SIZE}, at most {settings.DISPATCH_MAX_QUEUED:,} queued "
                      f"(DISPATCH_MAX_QUEUED), beat every {interval:g} s",
            "earliest (a negative value would be a send before its time)": f"{earliest:.2f} s",
            "statuses recorded": statuses,
            "fake: accepted / duplicates": f"{stats['accepted']:,} / {stats['duplicates']}",
        },
    )
