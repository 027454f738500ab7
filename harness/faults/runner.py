"""
Running a scenario: a fresh database, real processes, the fault, the wait, the checks.
"""

import logging
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from ..fakes.twilio import FakeTwilioClient
from ..processes import (
    LOOPBACK,
    ManagedProcess,
    RedisServer,
    beat_start,
    database_drop,
    database_recreate,
    run_lock,
    free_port,
    processes_stop,
    provider_start,
    service_env,
    web_start,
    worker_start,
)
from .database import REQUIRED_PREFIX, database_config, database_url, database_use, template_prepare
from .invariants import DONE, SENT, Check, Windows, invariants_check, status_counts
from .plan import chaos_enrollments_cancel, chaos_messages_plan

logger = logging.getLogger(__name__)

REDIS_DB = 9  # a database of the scenario's own Redis server, flushed with it
DEFAULT_QUEUE = "celery"
BEAT_QUEUE = "beat"
SEND_QUEUE = "send"
DISPATCH_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class Sizes:
    patients: int  # twelve SMS each
    lease_seconds: int
    unknown_settle_seconds: int
    settle_interval_seconds: float
    read_timeout_seconds: float
    settle_timeout: float  # seconds to wait, after the fault, for every message to be done
    progress_timeout: float = 120.0  # seconds for dispatching to reach a fault's moment


FULL = Sizes(patients=170, lease_seconds=20, unknown_settle_seconds=15, settle_interval_seconds=5,
             read_timeout_seconds=2, settle_timeout=240)
QUICK = Sizes(patients=25, lease_seconds=8, unknown_settle_seconds=4, settle_interval_seconds=2,
              read_timeout_seconds=1, settle_timeout=75)


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    queues: tuple[str, ...] = (DEFAULT_QUEUE, BEAT_QUEUE)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    what: str  # what is done, for the report
    fault: Callable[["ChaosRun"], None]
    workers: tuple[WorkerSpec, ...] = (WorkerSpec("worker"),)
    beats: int = 1
    # The fake provider's options (python -m harness.fakes.twilio --help).
    fake_args: tuple[str, ...] = ()
    # Signed status callbacks from the fake; without them only lookups settle an unknown outcome.
    callbacks: bool = True
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class ScenarioResult:
    name: str
    title: str
    what: str
    planned: int = 0
    too_late: int = 0
    cancelled_enrollments: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    max_requests: int = 0
    provider: dict = field(default_factory=dict)
    recovered: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    settled: bool = False
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        # Unsettled, the checks saw a moment mid-flight, not the end state they vouch for.
        return not self.error and self.settled and bool(self.checks) and all(check.ok for check in self.checks)

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


class ChaosRun:
    """One scenario's live processes, and what a fault may do to them."""

    def __init__(self, *, scenario: Scenario, sizes: Sizes, database: str, planned: int, seed: int,
                 log_dir: Path) -> None:
        self.scenario, self.sizes, self.planned, self.log_dir = scenario, sizes, planned, log_dir
        self.database = database
        self.redis = RedisServer(log_dir=log_dir)
        self.web_port = free_port()
        # Both known once the fake provider is up (start).
        self.fake: FakeTwilioClient | None = None
        self.env: dict[str, str] = {}
        self.seed = seed
        self.processes: list[ManagedProcess] = []
        self.workers: list[ManagedProcess] = []
        self.beats: list[ManagedProcess] = []
        self.notes: list[str] = []
        self.started = time.monotonic()

    def _env(self) -> dict[str, str]:
        sizes = self.sizes
        overrides = {
            "ALLOWED_HOSTS": f"{LOOPBACK},localhost",
            "TWILIO_CONNECT_TIMEOUT": "2",
            "TWILIO_READ_TIMEOUT": str(sizes.read_timeout_seconds),
            "TRUST_PROXY_HEADERS": "false",
            # The callbacks' web server speaks plain HTTP on loopback, with no proxy in front:
            # redirected to HTTPS (debug off's default), every callback failed and none settled a message.
            "SECURE_SSL_REDIRECT": "false",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DISPATCH_INTERVAL_SECONDS": str(DISPATCH_INTERVAL_SECONDS),
            "CLAIM_LEASE_SECONDS": str(sizes.lease_seconds),
            "UNKNOWN_SETTLE_AFTER_SECONDS": str(sizes.unknown_settle_seconds),
            "SETTLE_INTERVAL_SECONDS": str(sizes.settle_interval_seconds),
            "SMS_MAX_ATTEMPTS": "5",
            "SMS_RETRY_BASE_SECONDS": "1",
            "SMS_RETRY_MAX_SECONDS": "8",
            "SMS_RATE_PER_SECOND": "0",
            "CELERY_SEND_QUEUE": "",
            "CELERY_BEAT_QUEUE": BEAT_QUEUE,
            **self.scenario.env,
        }
        return service_env(database_url=self.database, redis_url=self.redis.url(REDIS_DB),
                           provider_url=self.fake.url, public_base_url=f"http://{LOOPBACK}:{self.web_port}",
                           log_level="INFO", **overrides)

    # -- processes -------------------------------------------------------------

    def start(self) -> None:
        self.redis.start()
        options = ["--delay", "0.02", "--hold", str(self.sizes.read_timeout_seconds * 2), "--seed", str(self.seed),
                   *self.scenario.fake_args]
        if self.scenario.callbacks:
            options += ["--callbacks", "sent,delivered"]
        fake_process, self.fake = provider_start(log_dir=self.log_dir, options=options)
        self.processes.append(fake_process)
        self.env = self._env()
        self.processes.append(web_start(env=self.env, log_dir=self.log_dir, port=self.web_port))
        self.started = time.monotonic()
        for spec in self.scenario.workers:
            self.worker_start(spec=spec)
        for number in range(1, self.scenario.beats + 1):
            self.beat_start(name=f"beat-{number}")

    def worker_start(self, *, spec: WorkerSpec) -> ManagedProcess:
        worker = worker_start(name=spec.name, env=self.env, log_dir=self.log_dir, queues=spec.queues)
        self.processes.append(worker)
        self.workers.append(worker)
        return worker

    def beat_start(self, *, name: str) -> ManagedProcess:
        beat = beat_start(name=name, env=self.env, log_dir=self.log_dir)
        self.processes.append(beat)
        self.beats.append(beat)
        return beat

    def celery_stop(self) -> None:
        processes_stop(*self.beats, *self.workers)

    def stop(self) -> None:
        """Stop everything this run started, whatever state it is in."""
        processes_stop(*reversed(self.processes))
        self.redis.stop()

    # -- watching ----------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        self.notes.append(f"t+{self.elapsed():.1f} s: {text}")

    def sent(self) -> float:
        """The share of planned messages sent so far."""
        counts = status_counts()
        return sum(counts[status] for status in SENT) / self.planned

    def wait_for_sent(self, share: float) -> None:
        deadline = time.monotonic() + self.sizes.progress_timeout
        while self.sent() < share:
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {w.name}\n{w.log_tail()}" for w in self.workers)
                raise TimeoutError(f"dispatching did not reach {share:.0%} sent in "
                                   f"{self.sizes.progress_timeout:.0f} s\n{tails}")
            time.sleep(0.1)

    def wait_settled(self) -> bool:
        """Wait until every message is done and no status callback is pending."""
        deadline = time.monotonic() + self.sizes.settle_timeout
        calm = 0
        while time.monotonic() < deadline:
            counts = status_counts()
            still_open = sum(n for status, n in counts.items() if status not in DONE)
            waiting = self.fake.stats(summary=True)["callbacks"]["waiting"] if self.scenario.callbacks else 0
            # A few calm looks in a row: callbacks being posted right now land too.
            calm = calm + 1 if not still_open and not waiting else 0
            if calm >= 3:
                return True
            time.sleep(0.5)
        return False

    def windows(self) -> Windows:
        grace = timedelta(seconds=5 * DISPATCH_INTERVAL_SECONDS)
        return Windows(
            lease=timedelta(seconds=self.sizes.lease_seconds),
            unknown=timedelta(seconds=self.sizes.unknown_settle_seconds + 2 * self.sizes.settle_interval_seconds)
            + grace,
            grace=grace,
        )


RECOVERED = re.compile(r"recovered expired claims: requeued=(\d+) interrupted=(\d+)")


def _recovered_claims(*, log_dir: Path) -> dict[str, int]:
    """What lease recovery took back, from the workers' logs (it logs counts, never patient data)."""
    requeued = interrupted = 0
    for log in log_dir.glob("*.log"):
        for match in RECOVERED.finditer(log.read_text(errors="replace")):
            requeued, interrupted = requeued + int(match[1]), interrupted + int(match[2])
    return {"requeued": requeued, "interrupted": interrupted}


def scenario_run(*, scenario: Scenario, sizes: Sizes, config: dict, template: str, seed: int,
                 say: Callable[[str], None]) -> ScenarioResult:
    result = ScenarioResult(name=scenario.name, title=scenario.title, what=scenario.what)
    log_dir = settings.VAR_DIR / config["NAME"] / scenario.name
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    database_recreate(url=database_url(config=config, name=config["NAME"]), required_prefix=REQUIRED_PREFIX,
                      template=template)
    with database_use(config=config, name=config["NAME"]):
        plan = chaos_messages_plan(patients=sizes.patients, now=timezone.now(), seed=seed)
        result.planned, result.too_late = plan.messages, plan.too_late
        say(f"[{scenario.name}] {plan.messages} messages due; starting the processes")
        run = ChaosRun(scenario=scenario, sizes=sizes, database=database_url(config=config, name=config["NAME"]),
                       planned=plan.messages, seed=seed, log_dir=log_dir)
        try:
            run.start()
            run.wait_for_sent(0.1)
            result.cancelled_enrollments = chaos_enrollments_cancel(plan=plan, seed=seed)
            run.note(f"{result.cancelled_enrollments} enrollments cancelled by the coordinators' service "
                     f"at {run.sent():.0%} sent")
            scenario.fault(run)
            say(f"[{scenario.name}] fault done; waiting for every message to settle")
            result.settled = run.wait_settled()
            result.seconds = run.elapsed()
            checked_at = timezone.now()
            run.celery_stop()
            stats, recorded = run.fake.stats(), run.fake.messages()
            result.checks = invariants_check(planned=plan.messages, stats=stats, recorded=recorded,
                                             now=checked_at, windows=run.windows())
            result.counts = dict(status_counts())
            result.duplicates = stats["duplicates"]
            result.max_requests = max((m["requests"] for m in stats["messages"]), default=0)
            result.provider = {key: stats[key] for key in ("creates", "accepted", "lookups", "outcomes", "callbacks")}
            result.recovered = _recovered_claims(log_dir=log_dir)
        except Exception as exc:  # the harness failed, not an invariant: say so, keep going
            logger.exception("scenario %s could not run", scenario.name)
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            run.stop()
            result.notes = run.notes
    say(f"[{scenario.name}] {'invariants hold' if result.ok else 'FAILED'} ({result.seconds:.0f} s; logs in {log_dir})")
    return result


def chaos_run(*, scenarios: list[Scenario], sizes: Sizes, url: str,
              say: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> list[ScenarioResult]:
    """Run ``scenarios`` one after another, each on a fresh database and fresh processes."""
    config = database_config(url=url)
    template = f"{config['NAME']}_template"
    # Each scenario starts a Redis of its own; the database (and its template) is this run's alone.
    with run_lock(database_url=url, redis_url=f"per-scenario:{config['NAME']}"):
        say(f"migrating the template database {template}")
        template_prepare(config=config, name=template)
        try:
            return [scenario_run(scenario=scenario, sizes=sizes, config=config, template=template, seed=seed,
                                 say=say)
                    for seed, scenario in enumerate(scenarios, start=1)]
        finally:
            database_drop(url=database_url(config=config, name=template), required_prefix=REQUIRED_PREFIX)
