"""
Figure 11, backlog after an outage: N texts fell due while nothing ran; the
workers and beat start late, with a lease (CLAIM_LEASE_SECONDS) shorter than
the drain would take if every due text were claimed at once, and
DISPATCH_MAX_QUEUED as the settings advise (what the workers send in half a
lease). Backpressure must keep the backlog in the database: one send task per
chunk, no claim taken back, the broker and the worker no bigger than idle, beat's
ticks on time, a text falling due mid-drain sent promptly, and health
unhealthy exactly while the oldest due text is past its limit.
"""

import time
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.db import connection
from django.test import override_settings

from reminders.redis_client import BEAT_HEARTBEAT_KEY
from reminders.selectors.health import health_report

from ..processes import WORKER_CONCURRENCY, beat_start, processes_stop, worker_start, workers_wait_ready
from . import data, logs
from .environment import WORK_DIR, BenchTarget, bench_clinic, bench_env, bench_program, data_wipe
from .report import Figure
from .scaleout import SEND_QUEUE
from .throughput import wait_until_final
from .timeliness import MESSAGE_ID

MB = 2**20
# Sampling during the drain: memory, health, the oldest due text.
SAMPLE_SECONDS = 0.5
# Health is judged only where the oldest is this far from its limit either way: the two reads are not atomic.
HEALTH_MARGIN_SECONDS = 1.0


def redis_db_bytes(client: redis.Redis) -> int:
    """Memory held by the keys of this Redis db (the broker's queues, unacked tasks, the service's notes)."""
    total = 0
    for key in client.scan_iter(count=1000):
        total += client.memory_usage(key, samples=0) or 0
    return total


def _oldest_due_age(now: datetime) -> float:
    """Seconds the oldest due text not yet sent has waited (read apart from the health check)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(due_at) FROM reminders_message WHERE status IN ('pending', 'queued', 'sending') "
                       "AND due_at <= %s", [now])
        oldest = cursor.fetchone()[0]
    return (now - oldest).total_seconds() if oldest else 0.0


def _sent_count(first_id: int, last_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reminders_message WHERE id BETWEEN %s AND %s AND status = 'sent'",
                       [first_id, last_id])
        return cursor.fetchone()[0]


def _rss(m: dict) -> str:
    pool = ", ".join(f"{c / MB:.1f}" for c in m["children"])
    return f"{m['total'] / MB:.1f} MB (main {m['main'] / MB:.1f} + pool {pool})"


def _start(*, env: dict, target: BenchTarget) -> tuple[list, object, object]:
    beat_worker = worker_start(name="beat-worker", env=env, log_dir=WORK_DIR, queues=[settings.BEAT_QUEUE])
    sender = worker_start(name="send-a", env=env, log_dir=WORK_DIR, queues=[SEND_QUEUE])
    workers_wait_ready([beat_worker, sender], broker_url=target.redis_url)
    return [beat_worker, sender, beat_start(env=env, log_dir=WORK_DIR)], beat_worker, sender


def figure_backlog(*, target: BenchTarget, fake, sizes: dict) -> Figure:
    data_wipe(target=target)
    fake.reset()
    n, lease, limit = sizes["backlog_messages"], sizes["backlog_lease"], sizes["backlog_health_limit"]
    low, high = sizes["backlog_latency"]
    latency = (low + high) / 2
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    chunk, threads = settings.DISPATCH_CHUNK_SIZE, settings.SMS_SEND_THREADS
    queued_max = logs.max_queued(processes=WORKER_CONCURRENCY, threads=threads, latency=latency, lease_seconds=lease)
    computed = logs.texts_per_second(processes=WORKER_CONCURRENCY, threads=threads, latency=latency)
    fake.configure(delay=low, delay_max=high)
    clinic, program = bench_clinic(), bench_program()
    env = bench_env(target=target, fake_url=fake.url, LOG_LEVEL="INFO", CELERY_SEND_QUEUE=SEND_QUEUE,
                    DISPATCH_INTERVAL_SECONDS=str(interval), CLAIM_LEASE_SECONDS=str(lease),
                    DISPATCH_MAX_QUEUED=str(queued_max), HEALTH_BACKLOG_MAX_AGE_SECONDS=str(limit))
    broker = redis.Redis.from_url(target.redis_url)

    # Idle: the same processes after sending a chunk in each pool process and a few idle cycles, then
    # stopped (the outage).
    spawned, _, sender = _start(env=env, target=target)
    try:
        first, last = data.due_sms_insert(clinic=clinic, program=program, count=chunk * WORKER_CONCURRENCY,
                                          first_due=datetime.now(UTC))
        wait_until_final(first_id=first, last_id=last, timeout=120, processes=spawned)
        time.sleep(interval * 3)
        idle, idle_redis = sender.rss_bytes(), redis_db_bytes(broker)
        idle_rss = idle["total"]
    finally:
        processes_stop(*reversed(spawned))
    fake.reset()

    # The outage: N texts fell due over the last minute while nothing ran.
    outage = sizes["backlog_outage_seconds"]
    first_id, last_id = data.due_sms_insert(clinic=clinic, program=program, count=n,
                                            first_due=datetime.now(UTC) - timedelta(seconds=outage),
                                            spread_seconds=outage / 2)
    samples, fresh = [], None
    peak_rss, peak_redis, peak, heartbeats = idle_rss, idle_redis, idle, set()
    spawned, beat_worker, sender = _start(env=env, target=target)
    try:
        started = time.monotonic()
        deadline = started + n / computed * 4 + 120
        while True:
            now = datetime.now(UTC)
            with override_settings(HEALTH_BACKLOG_MAX_AGE_SECONDS=limit):
                backlog_ok = health_report(now=now).checks["backlog"].ok
            samples.append((_oldest_due_age(now), backlog_ok))
            rss = sender.rss_bytes()
            if rss["total"] > peak_rss:
                peak_rss, peak = rss["total"], rss
            heartbeats.add(broker.get(BEAT_HEARTBEAT_KEY))
            peak_redis = max(peak_redis, redis_db_bytes(broker))
            sent = _sent_count(first_id, last_id)
            if fresh is None and sent >= n // 2:
                fresh = data.due_sms_insert(clinic=clinic, program=program, count=1,
                                            first_due=datetime.now(UTC))[0]
            if sent >= n and fresh is not None and _sent_count(fresh, fresh):
                break
            for process in spawned:
                process.check_alive()
            if time.monotonic() > deadline:
                break
            time.sleep(SAMPLE_SECONDS)
        drain = time.monotonic() - started
        statuses = wait_until_final(first_id=first_id, last_id=fresh or last_id, timeout=60, processes=spawned)
        time.sleep(interval * 2)  # health after: the last cycles have run
        with override_settings(HEALTH_BACKLOG_MAX_AGE_SECONDS=limit):
            after = health_report()
        beat_log, send_log = beat_worker.output(), sender.output()
    finally:
        processes_stop(*reversed(spawned))
        fake.configure(delay=0.0, delay_max=0.0)

    stats = fake.stats(summary=True)
    arrivals = {int(MESSAGE_ID.search(m["status_callback"])[1]): m["received_at"] for m in fake.messages()}
    fresh_late = float("inf")
    if fresh is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT due_at FROM reminders_message WHERE id = %s", [fresh])
            fresh_late = arrivals.get(fresh, float("inf")) - cursor.fetchone()[0].timestamp()
    published = logs.tasks_received(send_log)[logs.SEND_TASK]
    expected = logs.tasks_expected(messages=n + 1, chunk=chunk)
    recovered = logs.claims_recovered(beat_log)
    out_of_time = logs.chunks_out_of_time(send_log)
    # Beat's ticks are logged at DEBUG only (reminders/log_filters.py): the ticks seen are the
    # heartbeats each one records, sampled; an expired one is logged at INFO whatever the level.
    ticks = len(heartbeats - {None})
    expired = logs.tasks_discarded(beat_log)[logs.TICK_TASK]
    budget = 10 * MB + n * 50
    past = [ok for age, ok in samples if age > limit + HEALTH_MARGIN_SECONDS]
    within = [ok for age, ok in samples if age < limit - HEALTH_MARGIN_SECONDS]
    health_right = bool(past) and not any(past) and all(within) and after.ok
    total = n + 1
    complete = statuses == {"sent": total} and stats["accepted"] == total and stats["duplicates"] == 0
    checks = {
        "tasks": published / expected <= 1.05,
        "recovered": recovered == 0 and out_of_time == 0,
        "memory": peak_rss - idle_rss <= budget and peak_redis - idle_redis <= budget,
        "ticks": expired == 0,
        "fresh": fresh_late <= 2 * interval,
        "health": health_right,
    }
    missed = [name for name, ok in checks.items() if not ok]
    return Figure(
        number=11, name="Backlog after an outage",
        result=f"{n:,} due drained in {drain:.1f} s; tasks {published} / {expected} = {published / expected:.2f}; "
               f"{recovered} claims taken back; peak +{(peak_rss - idle_rss) / MB:.1f} MB worker, "
               f"+{(peak_redis - idle_redis) / MB:.2f} MB Redis; {expired} expired ticks; a text due mid-drain "
               f"sent {fresh_late:.1f} s after; health {'right' if health_right else 'WRONG'}"
               + (f" (missed: {', '.join(missed)})" if missed else ""),
        goal=f"tasks / ceil(N / chunk) <= 1.05; 0 taken back; worker and Redis <= idle + 10 MB + N x 50 B; "
             f"0 expired ticks; mid-drain text <= 2 beat intervals ({2 * interval:g} s); health unhealthy while "
             f"the oldest is past {limit} s, healthy after",
        met=complete and not missed,
        sound=complete,
        details={
            "texts due when the workers start": f"{n:,}, due over {outage / 2:.0f} s from {outage:.0f} s before",
            "workers": f"one send worker (-Q {SEND_QUEUE}), prefork pool of {WORKER_CONCURRENCY}, {threads} send "
                       f"thread(s); one worker for beat's queue; beat every {interval:g} s",
            "provider latency (the fake)": f"{low * 1000:.0f}-{high * 1000:.0f} ms",
            "lease (CLAIM_LEASE_SECONDS)": f"{lease} s",
            "drain if claimed at once, at the computed rate": f"{n / computed:.0f} s ({computed:.0f} texts/s = "
                                                              f"{WORKER_CONCURRENCY} x {threads} / {latency:g} s)",
            "DISPATCH_MAX_QUEUED (computed rate x lease / 2)": f"{queued_max:,}",
            "drain, workers started -> last sent": f"{drain:.1f} s = {n / drain:.0f} texts/s",
            "send tasks received / ceil((N + 1) / chunk)": f"{published} / {expected} (chunks of {chunk})",
            "claims taken back by lease expiry (recovered expired claims)": recovered,
            "messages returned unsent, out of lease time": out_of_time,
            "worker RSS: idle / peak": f"{_rss(idle)} / {_rss(peak)} (budget +{budget / MB:.2f} MB)",
            "Redis db (sum of its keys): idle / peak": f"{idle_redis / MB:.3f} / {peak_redis / MB:.3f} MB",
            "dispatch ticks seen running (heartbeats sampled) / expired unrun":
                f"{ticks} in {drain:.0f} s / {expired}",
            "a text due mid-drain: due -> provider": f"{fresh_late:.2f} s",
            "health samples past the limit: unhealthy / all": f"{past.count(False)} / {len(past)}",
            "health samples within the limit: healthy / all": f"{within.count(True)} / {len(within)}",
            "health after the drain": "healthy" if after.ok else f"unhealthy: {after.as_dict()['checks']}",
            "statuses recorded": statuses,
            "fake: accepted / duplicates": f"{stats['accepted']:,} / {stats['duplicates']}",
        },
        notes=["Idle is the same worker command line after sending one chunk and a few idle cycles, before the "
               "outage; the peaks are sampled every half second during the drain. Redis is counted as the memory "
               "of the keys in the benchmark's own db (MEMORY USAGE), since the server may be shared. Tasks, "
               "expired ticks and claims taken back are read from the workers' logs (task names and ids, counts; "
               "no patient data)."],
    )
