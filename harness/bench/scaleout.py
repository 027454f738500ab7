"""
Figure 10, scale-out: send workers started as two machines would start them
(each its own host name, serving the send queue only, CELERY_SEND_QUEUE=send)
and one worker for beat's queue, against the fake answering in 150-250 ms.
The send rate with one send worker, then with two; which worker sent what is
read from each one's log (a line per text, with its message id only).
"""

import time
from datetime import UTC, datetime

from django.conf import settings

from ..processes import WORKER_CONCURRENCY, beat_start, processes_stop, worker_start, workers_wait_ready
from . import data, logs
from .environment import WORK_DIR, BenchTarget, bench_clinic, bench_env, bench_program, data_wipe
from .report import Figure
from .throughput import wait_until_final
from .timeliness import MESSAGE_ID

SEND_QUEUE = "send"


def _phase(*, fake, workers: list, n: int, clinic, program, timeout: float, processes: list) -> dict:
    """``n`` texts due now, sent by ``workers``; the rate at the fake and each worker's sends."""
    fake.reset()
    first_id, last_id = data.due_sms_insert(clinic=clinic, program=program, count=n, first_due=datetime.now(UTC))
    statuses = wait_until_final(first_id=first_id, last_id=last_id, timeout=timeout, processes=processes)
    time.sleep(0.5)  # the last lines reach the logs
    arrivals = [m["received_at"] for m in fake.messages()
                if first_id <= int(MESSAGE_ID.search(m["status_callback"])[1]) <= last_id]
    by_worker = {w.name: logs.sent_ids(w.output(), first_id=first_id, last_id=last_id) for w in workers}
    logged = [pk for ids in by_worker.values() for pk in ids]
    stats = fake.stats(summary=True)
    return {
        "n": n, "rate": logs.rate(arrivals), "span": max(arrivals) - min(arrivals) if arrivals else 0.0,
        "statuses": statuses, "accepted": stats["accepted"], "duplicates": stats["duplicates"],
        "sends": {name: len(ids) for name, ids in by_worker.items()},
        # Every text sent by exactly one worker, as its log says, and as the fake counted.
        "logged_once": len(logged) == len(set(logged)) == n,
    }


def figure_scaleout(*, target: BenchTarget, fake, sizes: dict) -> Figure:
    data_wipe(target=target)
    low, high = sizes["scaleout_latency"]
    latency = (low + high) / 2
    per_worker = sizes["scaleout_messages_per_worker"]
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    fake.configure(delay=low, delay_max=high)
    clinic, program = bench_clinic(), bench_program()
    # Every process of the run reads the same settings, as every machine would.
    env = bench_env(target=target, fake_url=fake.url, LOG_LEVEL="INFO", CELERY_SEND_QUEUE=SEND_QUEUE,
                    DISPATCH_INTERVAL_SECONDS=str(interval))
    formula = logs.texts_per_second(processes=WORKER_CONCURRENCY, threads=settings.SMS_SEND_THREADS, latency=latency)
    timeout = per_worker / formula * 3 + 60
    spawned = []
    try:
        beat_worker = worker_start(name="beat-worker", env=env, log_dir=WORK_DIR, queues=[settings.BEAT_QUEUE])
        send_a = worker_start(name="send-a", env=env, log_dir=WORK_DIR, queues=[SEND_QUEUE])
        spawned += [beat_worker, send_a]
        workers_wait_ready(spawned, broker_url=target.redis_url)
        spawned.append(beat_start(env=env, log_dir=WORK_DIR))
        one = _phase(fake=fake, workers=[send_a], n=per_worker, clinic=clinic, program=program, timeout=timeout,
                     processes=spawned)
        send_b = worker_start(name="send-b", env=env, log_dir=WORK_DIR, queues=[SEND_QUEUE])
        spawned.append(send_b)
        workers_wait_ready([send_b], broker_url=target.redis_url)
        two = _phase(fake=fake, workers=[send_a, send_b], n=2 * per_worker, clinic=clinic, program=program,
                     timeout=timeout, processes=spawned)
        beat_worker_sent = len(logs.SENT.findall(beat_worker.output()))
    finally:
        processes_stop(*reversed(spawned))
        fake.configure(delay=0.0, delay_max=0.0)
    ratio = two["rate"] / one["rate"] if one["rate"] else 0.0
    share = logs.shares(two["sends"])
    exactly_once = all(p["statuses"] == {"sent": p["n"]} and p["accepted"] == p["n"] and p["duplicates"] == 0
                       and p["logged_once"] for p in (one, two))
    even = all(0.40 <= s <= 0.60 for s in share.values())
    shares_text = ", ".join(f"{name} {s:.0%} ({two['sends'][name]:,})" for name, s in share.items())
    return Figure(
        number=10, name="Scale-out",
        result=f"{two['rate']:.1f} texts/s with two send workers / {one['rate']:.1f} with one = {ratio:.2f}; "
               f"shares {shares_text}; {one['duplicates'] + two['duplicates']} duplicates",
        goal="two / one >= 1.8; each worker's share 40-60 %; 0 duplicates",
        met=exactly_once and ratio >= 1.8 and even,
        sound=exactly_once and beat_worker_sent == 0,
        details={
            "processes": f"beat; a worker for beat's queue (-Q {settings.BEAT_QUEUE}); send workers "
                         f"(-Q {SEND_QUEUE}, CELERY_SEND_QUEUE={SEND_QUEUE}), each -n <name>@<host>, prefork pool "
                         f"of {WORKER_CONCURRENCY}, {settings.SMS_SEND_THREADS} send thread(s) per process",
            "provider latency (the fake)": f"{low * 1000:.0f}-{high * 1000:.0f} ms, {latency * 1000:.0f} ms on average",
            "texts due at once": f"{one['n']:,} with one send worker, {two['n']:,} with two",
            "rate with one send worker (first to last arrival at the fake)":
                f"{one['rate']:.2f} texts/s over {one['span']:.1f} s",
            "rate with two send workers": f"{two['rate']:.2f} texts/s over {two['span']:.1f} s",
            "computed per worker (processes x threads / latency)": f"{formula:.1f} texts/s",
            "one worker against the computed rate": f"{one['rate'] / formula:.2f}",
            "sends per worker with two (from each one's log)": shares_text,
            "sends by beat's worker": beat_worker_sent,
            "dispatch interval (beat)": f"{interval:g} s; chunks of {settings.DISPATCH_CHUNK_SIZE}",
            "statuses recorded (one / two)": f"{one['statuses']} / {two['statuses']}",
            "fake: accepted / duplicates (one; two)": f"{one['accepted']:,} / {one['duplicates']}; "
                                                      f"{two['accepted']:,} / {two['duplicates']}",
            "every text in exactly one worker's log": "yes" if one["logged_once"] and two["logged_once"] else "NO",
        },
        notes=["The send workers run as on two machines: each has a host name of its own (-n) and serves only the "
               "send queue; a third worker serves beat's queue, so the dispatch tick never waits behind sends. "
               "Each worker logs a line per text with its message id (LOG_LEVEL=INFO, as in production); the "
               "shares are counted from those lines. The second worker is started once the first has sent its "
               "part, so both phases share the beat, the beat worker and the first send worker."],
    )
