"""Runs the figures in one go against one fake, one database and one Redis db."""

import logging
import shutil
import time
import traceback
from collections.abc import Callable

from django.conf import settings

from ..processes import RunLocked, database_recreate, processes_stop, provider_start, run_lock
from . import backlog, burst, enrollment, latency, memory, pacing, production, scan, scaleout, throughput, timeliness
from .environment import (
    REQUIRED_PREFIX,
    BenchRefused,
    WORK_DIR,
    BenchTarget,
    OtherWork,
    bench_target,
    data_wipe,
    database_prepare,
    load_average,
    machine_describe,
)
from .report import Figure, Report

logger = logging.getLogger(__name__)

FULL = {
    "fake_load_seconds": 3.0,
    "sdk_calls": 3_000,
    "noop_tasks": 5_000,
    "throughput": 10_000,
    "throughput_rounds": 3,
    "timeliness": 1_000,
    "timeliness_spread_seconds": 60.0,
    "scan_due": 100,
    "scan_small": 10_000,
    "scan_large": 1_000_000,
    "scan_repeats": 7,
    "memory_scheduled": 100_000,
    "memory_ticks": 3,
    "enrollment_patients": 10_000,
    # Figure 12: about 40 s of sending each run, at 200 ms answers and 2 x 8 send threads.
    "production_messages": 3_000,
    # Figure 3: rows churned between two rounds of the claim (sent, delivered; a tenth deleted).
    "scan_churn": 2_000,
    "admin_repeats": 20,
    "pacing_messages": 300,
    "pacing_rate": 10.0,
    "pacing_workers": 2,
    # Figure 8: about 30 s of sending each, at 1 and at 8 send threads per process against 200 ms answers.
    "latency_1": 300,
    "latency_8": 2_400,
    "burst_messages": 5_000,
    "burst_rate": 50.0,
    "burst_trickle": 100,
    "dispatch_interval": None,  # the setting's (5 s by default)
    # Figure 10: texts per send worker, against the fake at 150-250 ms.
    "scaleout_messages_per_worker": 1_000,
    "scaleout_latency": (0.15, 0.25),
    # Figure 11: the backlog, a lease shorter than the drain, health's limit, the fake's latency.
    "backlog_messages": 100_000,
    "backlog_lease": 60,
    "backlog_health_limit": 30,
    "backlog_outage_seconds": 120.0,
    "backlog_latency": (0.0025, 0.0075),
}
# The CI smoke mode: every figure runs, with sizes cut about 100 times.
QUICK = {
    **FULL,
    "fake_load_seconds": 0.5,
    "sdk_calls": 100,
    "noop_tasks": 100,
    "throughput": 100,
    "throughput_rounds": 1,
    "timeliness": 10,
    "timeliness_spread_seconds": 5.0,
    "scan_due": 10,
    "scan_small": 100,
    "scan_large": 10_000,
    "scan_repeats": 3,
    "memory_scheduled": 1_000,
    "memory_ticks": 1,
    "enrollment_patients": 100,
    # A chunk (50) for each pool process twice over, so that both send with all their threads.
    "production_messages": 200,
    "scan_churn": 50,
    "admin_repeats": 3,
    "pacing_messages": 20,
    # A chunk (50) for each pool process at least, so that both send.
    "latency_1": 100,
    "latency_8": 200,
    # About 8 s of draining: 100 texts of two segments at 25 segments a second.
    "burst_messages": 100,
    "burst_rate": 25.0,
    "burst_trickle": 5,
    "dispatch_interval": 1.0,
    # A whole chunk for each pool process: fewer would measure the chunking, not the workers.
    "scaleout_messages_per_worker": 100,
    "backlog_messages": 1_000,
    "backlog_lease": 10,
    "backlog_health_limit": 10,
    "backlog_outage_seconds": 30.0,
    "backlog_latency": (0.01, 0.03),
}

FigureRun = Callable[..., list[Figure] | Figure]
# In this order, so that the two figures over a million rows share them.
RUNS: list[tuple[set[int], FigureRun]] = [
    ({1}, throughput.figure_throughput),
    ({7}, pacing.figure_pacing),
    ({8}, latency.figure_latency),
    ({9}, burst.figure_burst),
    ({2}, timeliness.figure_timeliness),
    ({4}, memory.figure_memory),
    ({5}, enrollment.figure_enrollment),
    ({3, 6}, scan.figures_scan_and_admin),
    ({10}, scaleout.figure_scaleout),
    ({11}, backlog.figure_backlog),
    ({12}, production.figure_production),
]


def _figures(*, run: FigureRun, numbers: set[int], wanted: set[int], target: BenchTarget, fake, fake_process,
             sizes: dict, others: OtherWork, progress: Callable[[str], None]) -> list[Figure]:
    progress(f"figure {', '.join(map(str, sorted(wanted)))} ...")
    started, sample = time.monotonic(), len(others.samples)
    kwargs = {"only": wanted} if len(numbers) > 1 else {}
    if run is throughput.figure_throughput:
        kwargs["fake_process"] = fake_process  # for the fake's CPU time
    try:
        produced = run(target=target, fake=fake, sizes=sizes, **kwargs)
    except Exception as exc:  # one broken figure must not lose the others
        logger.exception("figure %s failed", numbers)
        produced = [Figure(number=n, name=f"figure {n}", result=f"error: {type(exc).__name__}: {exc}", goal="",
                           met=None, notes=[traceback.format_exc()]) for n in sorted(wanted)]
    produced = produced if isinstance(produced, list) else [produced]
    for figure in produced:
        figure.details["CPU used by other work meanwhile"] = f"{others.mean_since(sample):.2f} cores on average"
        progress(f"  {figure.number}. {figure.name}: {figure.result} [{'met' if figure.met else 'NOT met'}] "
                 f"({time.monotonic() - started:.0f} s)")
    return produced


def benchmarks_run(*, quick: bool = False, only: set[int] | None = None,
                   progress: Callable[[str], None] = lambda line: None) -> Report:
    """Run the figures (all, or ``only`` these numbers) and return the report."""
    target: BenchTarget = bench_target()
    try:
        with run_lock(database_url=target.database_url, redis_url=target.redis_url):
            return _run(target=target, quick=quick, only=only, progress=progress)
    except RunLocked as exc:
        raise BenchRefused(str(exc)) from exc


def _run(*, target: BenchTarget, quick: bool, only: set[int] | None, progress: Callable[[str], None]) -> Report:
    # Anew, so that every run starts from the current migrations: a database left by an
    # older run may hold migrations since renamed.
    database_recreate(url=target.database_url, required_prefix=REQUIRED_PREFIX)
    progress("made the benchmark database anew")
    # The processes' logs are appended to: this run's alone.
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    database_prepare()
    sizes = QUICK if quick else FULL
    report = Report(quick=quick, machine=machine_describe(target=target), load_before=load_average())
    started = time.monotonic()
    with OtherWork(database=settings.DATABASES["default"]["NAME"]) as others:
        fake, client = provider_start(log_dir=WORK_DIR)
        try:
            for numbers, run in RUNS:
                wanted = numbers if only is None else numbers & only
                if wanted:
                    report.figures += _figures(run=run, numbers=numbers, wanted=wanted, target=target,
                                               fake=client, fake_process=fake, sizes=sizes, others=others,
                                               progress=progress)
        finally:
            processes_stop(fake)
            data_wipe(target=target)
    report.other_work = others.summary()
    report.seconds = time.monotonic() - started
    report.load_after = load_average()
    return report
