"""
Figure 7, pacing: a per-sender limit in segments a second, shared by all workers
(the Redis token bucket), against a fake that sends each sender's texts at that
rate and queues at most one segment's worth: a text that would wait longer is
refused (21611), so any burst above the rate shows.
"""

import itertools
from datetime import UTC, datetime

from django.conf import settings

from ..processes import WORKER_CONCURRENCY, beat_start, processes_stop, worker_start, workers_wait_ready
from . import data
from .environment import WORK_DIR, BenchTarget, bench_clinic, bench_env, bench_program, data_wipe
from .report import Figure
from .throughput import wait_until_final

# The fake's queue holds one segment's worth (its bucket holds one token), and a
# few milliseconds more: a send that arrives that early through jitter is no burst.
JITTER_SECONDS = 0.02


def figure_pacing(*, target: BenchTarget, fake, sizes: dict) -> Figure:
    data_wipe(target=target)
    fake.reset()
    rate, n, workers = sizes["pacing_rate"], sizes["pacing_messages"], sizes["pacing_workers"]
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    fake.configure(segment_rate=rate, queue_seconds=1 / rate + JITTER_SECONDS)
    clinic, program = bench_clinic(), bench_program()
    env = bench_env(target=target, fake_url=fake.url, SMS_RATE_PER_SECOND=str(rate),
                   DISPATCH_INTERVAL_SECONDS=str(interval))
    spawned = [worker_start(name=f"worker{i}", env=env, log_dir=WORK_DIR) for i in range(1, workers + 1)]
    try:
        workers_wait_ready(spawned, broker_url=target.redis_url)
        spawned.append(beat_start(env=env, log_dir=WORK_DIR))
        first_id, last_id = data.due_sms_insert(clinic=clinic, program=program, count=n,
                                                first_due=datetime.now(UTC))
        statuses = wait_until_final(first_id=first_id, last_id=last_id, timeout=n / rate * 2 + 60,
                                    processes=spawned)
    finally:
        processes_stop(*spawned)
        stats = fake.stats(summary=True)
        sent = sorted((m["received_at"], m["segments"]) for m in fake.messages())
        fake.configure(segment_rate=0)
    arrivals = [at for at, _ in sent]
    # Segments a second: what went before the last text, over the time it took to go.
    measured = sum(segments for _, segments in sent[:-1]) / (arrivals[-1] - arrivals[0])
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    busiest = max(sum(segments for t, segments in sent if start <= t < start + 1) for start in arrivals)
    within = abs(measured - rate) / rate
    overflow = stats["outcomes"].get("queue_overflow", 0)
    return Figure(
        number=7, name="Pacing",
        result=f"{measured:.2f} segments/s against a limit of {rate:g}/s ({within:.1%} off); "
               f"{overflow} refused for a full queue",
        goal=f"within 5% of {rate:g} segments/s, none refused",
        met=within <= 0.05 and overflow == 0 and statuses == {"sent": n} and stats["duplicates"] == 0,
        sound=statuses == {"sent": n} and stats["duplicates"] == 0,
        details={
            "messages due at once": n,
            "senders sharing the limit": f"{workers} worker processes x {WORKER_CONCURRENCY} pool processes",
            "measured rate (first to last arrival at the fake)":
                f"{measured:.3f} segments/s over {arrivals[-1] - arrivals[0]:.1f} s "
                f"({(len(sent) - 1) / (arrivals[-1] - arrivals[0]):.3f} texts/s)",
            "segments per text": f"{sum(s for _, s in sent) / len(sent):.2f} on average",
            "most segments sent in any 1 s window": busiest,
            "gap between sends: min / median / max": f"{min(gaps) * 1000:.0f} / "
                                                    f"{sorted(gaps)[len(gaps) // 2] * 1000:.0f} / "
                                                    f"{max(gaps) * 1000:.0f} ms",
            "fake's limit": f"{rate:g} segments/s per sender, a queue of one segment's worth "
                            f"(+{JITTER_SECONDS * 1000:.0f} ms for jitter)",
            "refused for a full queue (21611)": overflow,
            "statuses recorded": statuses,
            "fake: accepted / duplicates": f"{stats['accepted']:,} / {stats['duplicates']}",
        },
    )
