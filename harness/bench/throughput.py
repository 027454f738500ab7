"""
Figure 1, dispatch throughput: due rows to the fake provider and back to
recorded status, against two baselines measured in the same run: a bare loop
of the same SDK calls to the same fake, in as many processes as the worker's
pool (WORKER_CONCURRENCY), and Celery no-op tasks per second on the same
broker. The fake's own ceiling is measured too, to show it is not the
bottleneck.
"""

import base64
import http.client
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import connection
from twilio.rest import Client

from reminders.backends.sms.twilio import TimeoutHttpClient, status_callback_url

from ..fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilioClient
from ..processes import (
    WORKER_CONCURRENCY,
    ManagedProcess,
    beat_start,
    processes_stop,
    worker_start,
    workers_wait_ready,
)
from . import data
from .environment import WORK_DIR, BenchTarget, bench_clinic, bench_env, bench_program, data_wipe
from .report import Figure
from .tasks import NOOP_KEY

FAKE_LOAD_PROCESSES = 2


def _hammer(url: str, seconds: float) -> int:
    """Raw keep-alive POSTs for ``seconds``; returns how many were answered."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"}
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn.request("POST", path, body=f"To=%2B1202{done:07d}&From=%2B12025550100&Body=load+{done}",
                     headers=headers)
        conn.getresponse().read()
        done += 1
    return done


def fake_max_rate(*, fake: FakeTwilioClient, seconds: float) -> float:
    """Requests per second the fake answers to raw clients in other processes (a lower bound)."""
    fake.reset()
    with ProcessPoolExecutor(FAKE_LOAD_PROCESSES, mp_context=get_context("fork")) as pool:
        started = time.monotonic()
        done = sum(pool.map(_hammer, [fake.url] * FAKE_LOAD_PROCESSES, [seconds] * FAKE_LOAD_PROCESSES))
        elapsed = time.monotonic() - started
    fake.reset()
    return done / elapsed


def _sdk_loop(url: str, first: int, calls: int, start_at: float) -> tuple[float, float, float]:
    """One process's bare loop of ``calls`` sends from ``start_at`` (wall clock), after one send to warm up
    (the SDK imports its API on the first call, the connection opens); returns its start and end (wall
    clock) and its CPU seconds."""
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=TimeoutHttpClient(
        base_url=url, connect_timeout=5, read_timeout=15))
    client.messages.create(to=f"+1203{first:07d}", body=f"{data.SENT_BODY} warm-up", from_=SENDER,
                           status_callback=status_callback_url(first))
    time.sleep(max(start_at - time.time(), 0.0))
    started, cpu = time.time(), time.process_time()
    for index in range(first, first + calls):
        client.messages.create(to=f"+1202{index:07d}", body=f"{data.SENT_BODY} {index}", from_=SENDER,
                               status_callback=status_callback_url(index))
    return started, time.time(), time.process_time() - cpu


def sdk_loop_rate(*, fake: FakeTwilioClient, calls: int, processes: int = WORKER_CONCURRENCY) -> tuple[float, float]:
    """A bare loop of the calls the backend makes, with the same client class, to the same fake, in as
    many processes as the worker's pool has, each sending its share one call after the other as a pool
    process does, all starting together.

    Returns the calls per second of them all (from the first start to the last end) and the CPU seconds
    per call on the client side.
    """
    fake.reset()
    share = calls // processes
    start_at = time.time() + 1.0  # after the processes have started and warmed up
    with ProcessPoolExecutor(processes, mp_context=get_context("fork")) as pool:
        loops = list(pool.map(_sdk_loop, [fake.url] * processes, [i * share for i in range(processes)],
                              [share] * processes, [start_at] * processes))
    fake.reset()
    done = share * processes
    elapsed = max(end for _, end, _ in loops) - min(start for start, _, _ in loops)
    return done / elapsed, sum(cpu for _, _, cpu in loops) / done


def noop_task_rate(*, target: BenchTarget, fake: FakeTwilioClient, tasks: int) -> tuple[float, float]:
    """No-op tasks per second through the broker, on the same worker command line as the dispatch.

    The tasks are queued first and the worker started after, so this is the
    worker's and broker's pace alone, not the publisher's. Returns the tasks per
    second and the worker's CPU seconds per task.
    """
    from .tasks import noop

    client = redis.Redis.from_url(target.redis_url)
    client.delete(NOOP_KEY, f"{NOOP_KEY}:first", f"{NOOP_KEY}:last")
    for _ in range(tasks):
        noop.delay()
    worker = worker_start(name="noop", env=bench_env(target=target, fake_url=fake.url), log_dir=WORK_DIR,
                          include="harness.bench.tasks")
    try:
        deadline = time.monotonic() + 60 + tasks / 50
        while not client.get(NOOP_KEY):  # started: its start-up is not counted
            worker.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("the worker ran none of the no-op tasks")
            time.sleep(0.01)
        cpu, done = worker.cpu_seconds(), int(client.get(NOOP_KEY))
        while int(client.get(NOOP_KEY) or 0) < tasks:
            worker.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {client.get(NOOP_KEY)} of {tasks} no-op tasks ran")
            time.sleep(0.1)
        cpu = (worker.cpu_seconds() - cpu) / max(tasks - done, 1)
    finally:
        processes_stop(worker)
    first, last = float(client.get(f"{NOOP_KEY}:first")), float(client.get(f"{NOOP_KEY}:last"))
    return (tasks - 1) / (last - first), cpu


@dataclass
class DrainResult:
    due_at: datetime
    first_call: float
    last_recorded: datetime
    statuses: dict[str, int]
    worker_cpu_seconds: float
    fake_cpu_seconds: float
    # The worker's CPU while the drain was measured, in seconds (wall clock), and its CPU a second
    # before anything fell due (its broker polling and beat's empty ticks): 0 unless asked for.
    cpu_window_seconds: float = 0.0
    worker_idle_cpu_per_second: float = 0.0


def wait_until_final(*, first_id: int, last_id: int, timeout: float,
                     processes: list = (), poll: float = 0.2) -> dict[str, int]:
    """Until no message in the id range is pending, queued or sending; returns the count per status."""
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT status, count(*) FROM reminders_message WHERE id BETWEEN %s AND %s "
                           "GROUP BY status", [first_id, last_id])
            statuses = dict(cursor.fetchall())
        if not set(statuses) & {"pending", "queued", "sending"}:
            return statuses
        for process in processes:
            process.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"messages still in flight after {timeout:.0f} s: {statuses}")
        time.sleep(poll)


def dispatch_drain(*, target: BenchTarget, fake: FakeTwilioClient, fake_process: ManagedProcess | None,
                   messages: int, interval: float, idle_seconds: float = 0.0, **overrides: str) -> DrainResult:
    """``messages`` SMS due at once, through beat and a worker; timed from due to the last recorded send.

    ``overrides``: further settings of the worker and beat (SMS_SEND_THREADS, say). Without
    ``fake_process`` the fake's CPU is not measured (0). With ``idle_seconds``, the worker's CPU
    is measured that long with beat running and nothing due, before the messages fall due.
    """
    data_wipe(target=target)
    fake.reset()
    clinic, program = bench_clinic(), bench_program()
    env = bench_env(target=target, fake_url=fake.url, DISPATCH_INTERVAL_SECONDS=str(interval), **overrides)
    spawned = [worker_start(name="worker1", env=env, log_dir=WORK_DIR)]

    def fake_cpu() -> float:
        return fake_process.cpu_seconds() if fake_process else 0.0

    try:
        workers_wait_ready(spawned, broker_url=target.redis_url)
        spawned.append(beat_start(env=env, log_dir=WORK_DIR))
        time.sleep(interval)  # beat in its rhythm: the rows fall due at some point of a cycle
        idle = 0.0
        if idle_seconds:
            idle_from, idle_at = spawned[0].cpu_seconds(), time.monotonic()
            time.sleep(idle_seconds)
            idle = (spawned[0].cpu_seconds() - idle_from) / (time.monotonic() - idle_at)
        cpu_before, cpu_at = (spawned[0].cpu_seconds(), fake_cpu()), time.monotonic()
        due_at = datetime.now(UTC)
        first_id, last_id = data.due_sms_insert(clinic=clinic, program=program, count=messages, first_due=due_at)
        statuses = wait_until_final(first_id=first_id, last_id=last_id, timeout=120 + messages / 20,
                                    processes=spawned)
        worker_cpu = spawned[0].cpu_seconds() - cpu_before[0]
        fake_used = fake_cpu() - cpu_before[1]
        window = time.monotonic() - cpu_at
    finally:
        processes_stop(*spawned)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(updated_at) FROM reminders_message WHERE id BETWEEN %s AND %s",
                       [first_id, last_id])
        last_recorded = cursor.fetchone()[0]
    stats = fake.stats(summary=True)
    return DrainResult(due_at=due_at, first_call=stats["first_accepted_at"] or 0, last_recorded=last_recorded,
                       statuses=statuses, worker_cpu_seconds=worker_cpu, fake_cpu_seconds=fake_used,
                       cpu_window_seconds=window, worker_idle_cpu_per_second=idle)


def _cpu_note(*, message_cpu: float, fake_cpu: float, sdk_cpu: float, noop_cpu: float) -> str:
    """Where a message's time goes, from the CPU measured, against a no-op task's."""
    ms, chunk = 1000, settings.DISPATCH_CHUNK_SIZE
    return (
        f"Where the time goes: the worker spends {message_cpu * ms:.2f} ms of CPU per message, of which the "
        f"twilio SDK call itself is about {sdk_cpu * ms:.2f} ms (as in the bare loop), and the fake "
        f"{fake_cpu * ms:.2f} ms more on the same cores; a Celery no-op task costs the worker {noop_cpu * ms:.2f} "
        f"ms. In chunks of {chunk}, Celery's own cost comes to about {noop_cpu / chunk * ms:.3f} ms per message: "
        "the drain pays for its claim, its reads and writes (a few statements per chunk, not per message), the "
        "rendering and the provider call, and hardly at all for the task around them."
    )


@dataclass
class _Round:
    """One round of the three measurements, taken one after the other."""

    sdk_rate: float
    sdk_cpu: float
    noop_rate: float
    noop_cpu: float
    rate: float
    drained: DrainResult
    exactly_once: bool


def _round(*, target: BenchTarget, fake: FakeTwilioClient, fake_process: ManagedProcess, sizes: dict,
           interval: float) -> _Round:
    n = sizes["throughput"]
    sdk_rate, sdk_cpu = sdk_loop_rate(fake=fake, calls=sizes["sdk_calls"])
    noop_rate, noop_cpu = noop_task_rate(target=target, fake=fake, tasks=sizes["noop_tasks"])
    drained = dispatch_drain(target=target, fake=fake, fake_process=fake_process, messages=n, interval=interval)
    stats = fake.stats(summary=True)
    return _Round(
        sdk_rate=sdk_rate, sdk_cpu=sdk_cpu, noop_rate=noop_rate, noop_cpu=noop_cpu,
        rate=n / (drained.last_recorded.timestamp() - drained.first_call), drained=drained,
        exactly_once=drained.statuses == {"sent": n} and stats["accepted"] == n and stats["duplicates"] == 0,
    )


def figure_throughput(*, target: BenchTarget, fake: FakeTwilioClient, fake_process: ManagedProcess,
                      sizes: dict) -> Figure:
    fake_rate = fake_max_rate(fake=fake, seconds=sizes["fake_load_seconds"])
    n = sizes["throughput"]
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    # The machine's pace drifts: the three are measured in turn, several times, and the medians compared.
    rounds = [_round(target=target, fake=fake, fake_process=fake_process, sizes=sizes, interval=interval)
              for _ in range(sizes["throughput_rounds"])]
    rate, sdk_rate, noop_rate = (statistics.median(getattr(r, name) for r in rounds)
                                 for name in ("rate", "sdk_rate", "noop_rate"))
    middle = sorted(rounds, key=lambda r: r.rate)[len(rounds) // 2]
    drained = middle.drained
    drain = drained.last_recorded.timestamp() - drained.first_call
    elapsed = (drained.last_recorded - drained.due_at).total_seconds()
    exactly_once = all(r.exactly_once for r in rounds)
    met = exactly_once and rate >= 0.6 * sdk_rate and rate >= noop_rate

    def listed(name: str) -> str:
        return ", ".join(f"{getattr(r, name):,.0f}" for r in rounds)

    return Figure(
        number=1, name="Dispatch throughput",
        result=(f"{rate:,.0f} SMS/s ({n:,} from the cycle that found them due to the last status recorded) = "
                f"{rate / sdk_rate:.2f} of the bare SDK loop ({sdk_rate:,.0f}/s), {rate / noop_rate:.2f} of "
                f"Celery no-op tasks ({noop_rate:,.0f}/s)"
                + (f"; medians of {len(rounds)} rounds" if len(rounds) > 1 else "")),
        goal=">= 0.6 of the SDK loop and >= 1.0 of no-op tasks; every message once",
        met=met,
        sound=exactly_once,
        notes=["The rate is taken over the drain, from the dispatch cycle that found the messages due (its first "
               "provider call) to the last status recorded, like the two baselines, which are rates too. How "
               "long a due message waits for that cycle is figure 2's subject; it is shown here as well. Each "
               "round measures the SDK loop, the no-op tasks and the drain one after the other; the figure "
               "compares the medians. The SDK loop runs in as many processes as the worker's pool "
               f"({WORKER_CONCURRENCY}), each sending one call after the other as a pool process does with one "
               "send thread: the same processes against the same fake on both sides.",
               "What it took (each measured, see README's settings): the worker keeps its database connection "
               "between tasks (Celery otherwise closes it after each, and PostgreSQL starts a new backend for "
               "every chunk); the SDK's request goes straight to the session's connection pool with its form "
               "encoded once; a backend, and its provider connection, is kept per thread rather than made "
               "per chunk; and sends go one at a time per process (SMS_SEND_THREADS=1), since against a fake "
               "that answers in well under a millisecond, send threads only add CPU.",
               _cpu_note(message_cpu=drained.worker_cpu_seconds / n, fake_cpu=drained.fake_cpu_seconds / n,
                         sdk_cpu=middle.sdk_cpu, noop_cpu=middle.noop_cpu)],
        details={
            "messages due at once": f"{n:,}",
            "worker": f"1 worker, prefork pool of {WORKER_CONCURRENCY}, chunks of {settings.DISPATCH_CHUNK_SIZE}, "
                      f"claims of {settings.DISPATCH_BATCH_SIZE}, beat every {interval:g} s, "
                      f"{settings.SMS_SEND_THREADS} send thread(s) per process (SMS_SEND_THREADS)",
            "drain rate, each round (SMS/s)": listed("rate"),
            f"baseline: bare twilio SDK loop, {WORKER_CONCURRENCY} processes as the pool, each round (calls/s)":
                f"{listed('sdk_rate')} ({sizes['sdk_calls']:,} calls)",
            "baseline: Celery no-op tasks, same worker and broker, each round (tasks/s)":
                f"{listed('noop_rate')} ({sizes['noop_tasks']:,} tasks, queued before the worker starts)",
            "median round: first provider call -> last status recorded": f"{drain:.2f} s",
            "median round: due -> first provider call (waiting for the next cycle)":
                f"{drained.first_call - drained.due_at.timestamp():.2f} s",
            "median round: due -> last status recorded": f"{elapsed:.2f} s = {n / elapsed:,.0f} SMS/s",
            "the fake's own ceiling (raw HTTP, 2 client processes)": f"{fake_rate:,.0f} requests/s",
            "CPU per message: worker (pool included) / fake": f"{drained.worker_cpu_seconds / n * 1000:.2f} ms / "
                                                              f"{drained.fake_cpu_seconds / n * 1000:.2f} ms",
            "CPU per SDK call in the bare loop (client side)": f"{middle.sdk_cpu * 1000:.2f} ms",
            "CPU per no-op task (worker, pool included)": f"{middle.noop_cpu * 1000:.2f} ms",
            "every message sent once (statuses and the fake's counts, all rounds)":
                "yes" if exactly_once else f"NO: {[r.drained.statuses for r in rounds]}",
        },
    )
