"""
Figure 7, pacing: a per-sender limit shared by all workers (the Redis token
bucket) against a fake that enforces the same limit and answers 429 above it.
"""

import itertools
from datetime import UTC, datetime

from django.conf import settings

from ..processes import WORKER_CONCURRENCY, beat_start, processes_stop, worker_start, workers_wait_ready
from . import data
from .environment import WORK_DIR, BenchTarget, bench_clinic, bench_env, bench_program, data_wipe
from .report import Figure
from .throughput import wait_until_final

# The fake's bucket holds two tokens: a send that arrives a few milliseconds
# early through network jitter is not a burst.
FAKE_BURST = 2


def figure_pacing(*, target: BenchTarget, fake, sizes: dict) -> Figure:
    data_wipe(target=target)
    fake.reset()
    rate, n, workers = sizes["pacing_rate"], sizes["pacing_messages"], sizes["pacing_workers"]
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    fake.configure(rate_limit=rate, rate_burst=FAKE_BURST)
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
        arrivals = sorted(m["received_at"] for m in fake.messages())
        fake.configure(rate_limit=0)
    measured = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1) for start in arrivals)
    within = abs(measured - rate) / rate
    return Figure(
        number=7, name="Pacing",
        result=f"{measured:.2f} SMS/s against a limit of {rate:g}/s ({within:.1%} off); "
               f"{stats['rate_limited']} answered 429",
        goal=f"within 5% of {rate:g}/s, no 429",
        met=within <= 0.05 and stats["rate_limited"] == 0 and statuses == {"sent": n} and stats["duplicates"] == 0,
        sound=statuses == {"sent": n} and stats["duplicates"] == 0,
        details={
            "messages due at once": n,
            "senders sharing the limit": f"{workers} worker processes x {WORKER_CONCURRENCY} pool processes",
            "measured rate (first to last arrival at the fake)":
                f"{measured:.3f}/s over {arrivals[-1] - arrivals[0]:.1f} s",
            "most sends in any 1 s window": busiest,
            "gap between sends: min / median / max": f"{min(gaps) * 1000:.0f} / "
                                                    f"{sorted(gaps)[len(gaps) // 2] * 1000:.0f} / "
                                                    f"{max(gaps) * 1000:.0f} ms",
            "fake's limit": f"{rate:g}/s per sender, a bucket of {FAKE_BURST} tokens",
            "429 answers": stats["rate_limited"],
            "statuses recorded": statuses,
            "fake: accepted / duplicates": f"{stats['accepted']:,} / {stats['duplicates']}",
        },
    )
