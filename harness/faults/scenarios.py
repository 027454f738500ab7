"""The six faults. Each function runs while dispatching goes on, and returns once the fault is done."""

import time

from .database import database_connections_cut
from .runner import BEAT_QUEUE, DEFAULT_QUEUE, SEND_QUEUE, ChaosRun, Scenario, WorkerSpec


def worker_killed(run: ChaosRun) -> None:
    run.wait_for_sent(0.3)
    at = run.sent()
    pids = run.workers[0].kill()
    run.note(f"SIGKILL to the worker's process group ({len(pids)} processes: main and pool) at {at:.0%} sent")
    time.sleep(2)
    run.worker_start(spec=WorkerSpec("worker-restarted"))
    run.note("worker started again")


def redis_restarted(run: ChaosRun) -> None:
    run.wait_for_sent(0.3)
    at = run.sent()
    run.redis.stop()
    run.note(f"Redis stopped at {at:.0%} sent (no persistence: every queued task is lost)")
    time.sleep(5)
    run.redis.start()
    run.note("Redis started again, empty, on the same port")


def beats_doubled(run: ChaosRun) -> None:
    run.note(f"{len(run.beats)} beat processes running from the start")


def provider_erratic(run: ChaosRun) -> None:
    run.note("the provider answers with the error mix from the start")


def connections_cut(run: ChaosRun) -> None:
    for share in (0.25, 0.45, 0.65):
        run.wait_for_sent(share)
        at = run.sent()
        cut = database_connections_cut()
        run.note(f"pg_terminate_backend cut {cut} connections to the scenario's database at {at:.0%} sent")
        time.sleep(1)


def queues_split(run: ChaosRun) -> None:
    run.note(f"dispatch on queue '{BEAT_QUEUE}' ({run.workers[0].name}), sends on queue '{SEND_QUEUE}' "
             f"({run.workers[1].name})")


SCENARIOS = [
    Scenario(
        name="worker-killed",
        title="A worker killed with SIGKILL mid-dispatch, then restarted",
        what="The worker's whole process group (main process and prefork pool) gets SIGKILL once 30% "
             "of the messages are sent; a new worker starts 2 s later. Status callbacks are off, so "
             "messages caught mid-send are settled by looking them up at the provider.",
        fault=worker_killed,
        callbacks=False,
    ),
    Scenario(
        name="redis-restarted",
        title="Redis restarted mid-dispatch",
        what="The scenario's own redis-server (never the machine's) is stopped once 30% of the messages "
             "are sent and started again, empty, 5 s later: every task waiting in it is lost.",
        fault=redis_restarted,
    ),
    Scenario(
        name="two-beats",
        title="Two beat processes at once",
        what="Two `celery beat` processes, each with its own schedule file, both dispatch every second.",
        fault=beats_doubled,
        beats=2,
    ),
    Scenario(
        name="provider-errors",
        title="The provider answers 500, 429, drops connections and times out after accepting",
        what="The fake answers 8% HTTP 500, 8% HTTP 429, drops 4% of connections without an answer (nothing "
             "recorded) and accepts 3% but answers only after the client's read timeout (the ambiguous case). "
             "Status callbacks are off: unknown outcomes are settled by lookups.",
        fault=provider_erratic,
        fake_args=("--errors", "500=0.08,429=0.08,drop=0.04,timeout=0.03"),
        callbacks=False,
    ),
    Scenario(
        name="postgres-cut",
        title="PostgreSQL connections cut mid-dispatch",
        what="`pg_terminate_backend` on every connection to the scenario's database (workers, web server) "
             "at 25%, 45% and 65% sent. Status callbacks are off, so a send whose outcome could not be "
             "recorded is settled by a lookup.",
        fault=connections_cut,
        callbacks=False,
    ),
    Scenario(
        name="two-queues",
        title="Two workers on separate queues, as on two machines",
        what=f"Send tasks are routed to their own queue (`CELERY_SEND_QUEUE={SEND_QUEUE}`): one worker takes "
             f"beat's tasks from '{BEAT_QUEUE}', another only sends, from '{SEND_QUEUE}'.",
        fault=queues_split,
        workers=(WorkerSpec("dispatcher", queues=(DEFAULT_QUEUE, BEAT_QUEUE)),
                 WorkerSpec("sender", queues=(SEND_QUEUE,))),
        env={"CELERY_SEND_QUEUE": SEND_QUEUE},
    ),
]

SCENARIOS_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
