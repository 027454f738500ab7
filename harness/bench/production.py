"""
Figure 12, the production path: the same send load twice in one run, against the
fake at Twilio's latency (200 +- 50 ms), first without status callbacks, then
with the fake posting signed ``sent`` and ``delivered`` callbacks for every text
to a real WSGI server (gunicorn serving ``project.wsgi``), everything logging at
INFO as in production. The callbacks must not slow the sends much, must be
answered quickly while the drain goes on, and must bring every text to
``delivered``.
"""

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from django.conf import settings
from django.db import connection

from reminders.models import Clinic, Program

from ..fakes.twilio import CALLBACK_THREADS, FakeTwilioClient
from ..processes import (
    LOOPBACK,
    WORKER_CONCURRENCY,
    ManagedProcess,
    beat_start,
    free_port,
    processes_stop,
    web_start,
    worker_start,
    workers_wait_ready,
)
from . import data
from .environment import WORK_DIR, BenchTarget, bench_clinic, bench_env, bench_program, data_wipe
from .report import Figure
from .throughput import wait_until_final

# The fake's latency: a uniform draw between the two, in seconds (Twilio's 150-250 ms).
LATENCY = (0.15, 0.25)
# Send threads per pool process, as a worker facing real latency is set (README: 4 to 8).
SEND_THREADS = 8
CALLBACKS = ["sent", "delivered"]
# gunicorn's sync workers: one for each of the fake's callback threads, so that no post waits
# for a free worker while another is being answered.
WEB_WORKERS = CALLBACK_THREADS
# The goals: the rate with callbacks as a share of the rate without, and the callbacks' p99.
RATE_SHARE = 0.7
CALLBACK_P99_MS = 100.0


def production_goal_met(*, rate_without: float, rate_with: float, callback_p99_ms: float | None,
                        statuses: dict[str, int], messages: int, duplicates: int) -> bool:
    """Whether the production path holds: callbacks cost at most 30 % of the send rate, the web
    server answers them within 100 ms at the 99th percentile, every text ends delivered, none twice."""
    return (rate_with >= RATE_SHARE * rate_without and callback_p99_ms is not None
            and callback_p99_ms <= CALLBACK_P99_MS and statuses == {"delivered": messages} and duplicates == 0)


@dataclass
class _Run:
    callbacks: bool
    messages: int
    seconds: float  # from the first provider call to the last text recorded sent
    statuses: dict[str, int]
    accepted: int
    duplicates: int
    worker_cpu: float
    web_cpu: float
    round_trips: dict
    posted: int
    failed: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def _statuses(first_id: int, last_id: int) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM reminders_message WHERE id BETWEEN %s AND %s GROUP BY status",
                       [first_id, last_id])
        return dict(cursor.fetchall())


def _last_sent(first_id: int, last_id: int) -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(sent_at) FROM reminders_message WHERE id BETWEEN %s AND %s", [first_id, last_id])
        return cursor.fetchone()[0]


def _web_warm(url: str) -> None:
    """A few requests on each of gunicorn's workers: Django loads its URLs and views on a worker's
    first request, which would otherwise count as slow callbacks."""
    def hits(_: int) -> None:
        for _ in range(5):
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{url}/healthz", timeout=10)

    with ThreadPoolExecutor(WEB_WORKERS * 2) as pool:
        list(pool.map(hits, range(WEB_WORKERS * 2)))


def _drain(*, fake: FakeTwilioClient, callbacks: bool, messages: int, clinic: Clinic, program: Program,
           worker: ManagedProcess, web: ManagedProcess, processes: list[ManagedProcess]) -> _Run:
    fake.reset()
    fake.configure(callbacks=CALLBACKS if callbacks else [])
    cpu = worker.cpu_seconds(), web.cpu_seconds()
    first_id, last_id = data.due_sms_insert(clinic=clinic, program=program, count=messages,
                                            first_due=datetime.now(UTC))
    statuses = wait_until_final(first_id=first_id, last_id=last_id, timeout=120 + messages / 10,
                                processes=processes)
    if callbacks:  # until every callback is answered (or given up on) and recorded
        deadline = time.monotonic() + 60 + messages / 20
        while time.monotonic() < deadline:
            counts = fake.stats(summary=True)["callbacks"]
            if counts["waiting"] == 0 and counts["posted"] + counts["failed"] >= len(CALLBACKS) * messages:
                break
            time.sleep(0.2)
        statuses = _statuses(first_id, last_id)
    worker_cpu, web_cpu = worker.cpu_seconds() - cpu[0], web.cpu_seconds() - cpu[1]
    stats = fake.stats(summary=True)
    seconds = _last_sent(first_id, last_id).timestamp() - (stats["first_accepted_at"] or 0)
    return _Run(callbacks=callbacks, messages=messages, seconds=seconds, statuses=statuses,
                accepted=stats["accepted"], duplicates=stats["duplicates"], worker_cpu=worker_cpu, web_cpu=web_cpu,
                round_trips=stats["callback_round_trip_ms"], posted=stats["callbacks"]["posted"],
                failed=stats["callbacks"]["failed"])


def figure_production(*, target: BenchTarget, fake: FakeTwilioClient, sizes: dict) -> Figure:
    data_wipe(target=target)
    clinic, program = bench_clinic(), bench_program()
    n = sizes["production_messages"]
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    port = free_port()
    env = bench_env(target=target, fake_url=fake.url, DISPATCH_INTERVAL_SECONDS=str(interval), LOG_LEVEL="INFO",
                    SMS_SEND_THREADS=str(SEND_THREADS), PUBLIC_BASE_URL=f"http://{LOOPBACK}:{port}",
                    # Plain HTTP on loopback: redirected to HTTPS (debug off's default), no callback would land.
                    SECURE_SSL_REDIRECT="false")
    fake.configure(delay=LATENCY[0], delay_max=LATENCY[1])
    spawned: list[ManagedProcess] = []
    try:
        web = web_start(env=env, log_dir=WORK_DIR, port=port, workers=WEB_WORKERS)
        spawned.append(web)
        _web_warm(f"http://{LOOPBACK}:{port}")
        worker = worker_start(name="worker1", env=env, log_dir=WORK_DIR)
        spawned.append(worker)
        workers_wait_ready([worker], broker_url=target.redis_url)
        spawned.append(beat_start(env=env, log_dir=WORK_DIR))
        time.sleep(interval)  # beat in its rhythm
        # New patients each run: the fake tells a duplicate by its number and body.
        runs = {callbacks: _drain(fake=fake, callbacks=callbacks, messages=n, clinic=clinic, program=program,
                                  worker=worker, web=web, processes=spawned) for callbacks in (False, True)}
        web_log = web.output()
    finally:
        processes_stop(*reversed(spawned))
        fake.configure(delay=0.0, delay_max=0.0, callbacks=[])
    without, with_ = runs[False], runs[True]
    ratio = with_.rate / without.rate
    p50, p99 = with_.round_trips["p50"], with_.round_trips["p99"]
    duplicates = without.duplicates + with_.duplicates
    sound = (without.statuses == {"sent": n} and with_.statuses == {"delivered": n} and duplicates == 0
             and without.accepted == with_.accepted == n and with_.posted == len(CALLBACKS) * n)
    met = sound and production_goal_met(rate_without=without.rate, rate_with=with_.rate, callback_p99_ms=p99,
                                        statuses=with_.statuses, messages=n, duplicates=duplicates)
    callback_lines = web_log.count("status callback for message")

    def ms(value: float | None) -> str:
        return "none" if value is None else f"{value:.0f} ms"

    return Figure(
        number=12, name="Production path",
        result=(f"{with_.rate:,.1f} SMS/s with signed callbacks to gunicorn vs {without.rate:,.1f} without = "
                f"{ratio:.2f}; callback p50 {ms(p50)}, p99 {ms(p99)}; delivered {with_.statuses.get('delivered', 0):,}"
                f" of {n:,}; duplicates {duplicates}"),
        goal=f">= {RATE_SHARE} of the rate without; callback p99 <= {CALLBACK_P99_MS:.0f} ms; every text delivered; "
             "0 duplicates",
        met=met, sound=sound,
        notes=["The same load twice in one run, on the same processes: the fake answers in "
               f"{LATENCY[0] * 1000:.0f}-{LATENCY[1] * 1000:.0f} ms, first with no status callbacks, then posting "
               f"'{CALLBACKS[0]}' and '{CALLBACKS[1]}' for every text, signed with the auth token as Twilio signs "
               "them, to gunicorn serving project.wsgi (the webhook checks each signature and records the status). "
               "Worker, beat and web log at INFO, as in production. The rate runs from the first provider call to "
               "the last text recorded sent; a callback's round trip is timed at the fake, from its post to the "
               "web server's answer."],
        details={
            "messages due at once, each run": f"{n:,}",
            "worker": f"1 worker, prefork pool of {WORKER_CONCURRENCY}, {SEND_THREADS} send threads per process, "
                      f"chunks of {settings.DISPATCH_CHUNK_SIZE}, beat every {interval:g} s, log level INFO",
            "web server": f"gunicorn, {WEB_WORKERS} sync workers, project.wsgi with production's settings, "
                          "log level INFO",
            "fake's latency": f"{LATENCY[0] * 1000:.0f}-{LATENCY[1] * 1000:.0f} ms, uniform",
            "rate without callbacks": f"{without.rate:,.1f} SMS/s ({without.seconds:.2f} s)",
            "rate with callbacks": f"{with_.rate:,.1f} SMS/s ({with_.seconds:.2f} s) = {ratio:.2f} of the rate without",
            "callbacks posted / failed": f"{with_.posted:,} / {with_.failed:,} (expected {len(CALLBACKS) * n:,})",
            "callback round trip p50 / p99 / max": f"{ms(p50)} / {ms(p99)} / {ms(with_.round_trips['max'])}",
            "callbacks the web server logged as received": f"{callback_lines:,}",
            "statuses without / with callbacks": f"{without.statuses} / {with_.statuses}",
            "fake: accepted / duplicates": f"{without.accepted:,} + {with_.accepted:,} / {duplicates}",
            "CPU per message, worker (without / with callbacks)":
                f"{without.worker_cpu / n * 1000:.2f} / {with_.worker_cpu / n * 1000:.2f} ms",
            "CPU per callback, web server": f"{with_.web_cpu / max(with_.posted, 1) * 1000:.2f} ms",
        },
    )
