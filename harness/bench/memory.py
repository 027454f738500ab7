"""
Figure 4, worker memory: a worker's resident memory after the same number of
dispatch cycles with 100,000 messages scheduled for the coming months, and
with none. The schedule is rows in the database: nothing is parked in the
worker or the broker (no ETA tasks), so the two should not differ.
"""

import time

import redis
from django.conf import settings

from reminders.redis_client import BEAT_HEARTBEAT_KEY

from ..processes import beat_start, processes_stop, worker_start, workers_wait_ready
from . import data
from .environment import WORK_DIR, BenchTarget, analyze, bench_clinic, bench_env, bench_program, data_wipe
from .report import Figure

MB = 2**20


def _worker_after_cycles(*, target: BenchTarget, fake, interval: float, ticks: int) -> dict:
    env = bench_env(target=target, fake_url=fake.url, DISPATCH_INTERVAL_SECONDS=str(interval))
    worker = worker_start(name="worker1", env=env, log_dir=WORK_DIR)
    spawned = [worker]
    try:
        workers_wait_ready(spawned, broker_url=target.redis_url)
        broker = redis.Redis.from_url(target.redis_url)
        broker.delete(BEAT_HEARTBEAT_KEY)
        spawned.append(beat_start(env=env, log_dir=WORK_DIR))
        # Every dispatch cycle notes its start: the cycles seen are the work the figure compares.
        # (Beat's start-up may take longer than a tick: it is waited for, within limits.)
        cycles, deadline = set(), time.monotonic() + interval * ticks + 1
        while time.monotonic() < deadline or (len(cycles - {None}) < ticks and time.monotonic() < deadline + 30):
            time.sleep(interval / 4)
            cycles.add(broker.get(BEAT_HEARTBEAT_KEY))
        cycles.discard(None)
        memory = worker.rss_bytes()
        queued = broker.llen("celery")
        broker_memory = broker.info("memory")["used_memory"]
    finally:
        processes_stop(*spawned)
    return {**memory, "queued_tasks": queued, "redis_used_memory": broker_memory, "cycles": len(cycles)}


def figure_memory(*, target: BenchTarget, fake, sizes: dict) -> Figure:
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    ticks = sizes["memory_ticks"]
    data_wipe(target=target)
    empty = _worker_after_cycles(target=target, fake=fake, interval=interval, ticks=ticks)

    data_wipe(target=target)
    scheduled = data.history_insert(clinic=bench_clinic(), program=bench_program(),
                                    rows=sizes["memory_scheduled"], future_only=True)
    analyze()
    loaded = _worker_after_cycles(target=target, fake=fake, interval=interval, ticks=ticks)
    difference = (loaded["total"] - empty["total"]) / MB
    ran = min(empty["cycles"], loaded["cycles"]) >= ticks

    def describe(m: dict) -> str:
        children = ", ".join(f"{c / MB:.1f}" for c in m["children"])
        return f"{m['total'] / MB:.1f} MB (main {m['main'] / MB:.1f} + pool {children})"

    return Figure(
        number=4, name="Worker memory",
        result=f"{loaded['total'] / MB:.1f} MB with {scheduled:,} messages scheduled vs "
               f"{empty['total'] / MB:.1f} MB with none ({difference:+.1f} MB)",
        goal="within 10 MB",
        # Two idle workers weigh the same: the figure means something only if both ran their cycles.
        met=abs(difference) <= 10 and ran,
        sound=ran,
        details={
            "messages scheduled (pending, due over the coming months)": f"{scheduled:,}",
            "dispatch cycles before measuring": f"{ticks} (every {interval:g} s); seen running: "
                                                f"{empty['cycles']} / {loaded['cycles']}",
            "worker RSS, none scheduled": describe(empty),
            "worker RSS, all scheduled": describe(loaded),
            "difference": f"{difference:+.1f} MB",
            "tasks waiting in the broker (none / all scheduled)": f"{empty['queued_tasks']} / {loaded['queued_tasks']}",
            "Redis used memory (none / all scheduled)": f"{empty['redis_used_memory'] / MB:.1f} / "
                                                        f"{loaded['redis_used_memory'] / MB:.1f} MB",
        },
        notes=["RSS is summed over the worker's main process and its prefork pool. For scale: an ETA "
               "task held by a worker costs about 11 KB, so parking 100,000 in a worker would cost about a "
               "gigabyte."],
    )
