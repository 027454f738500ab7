"""Where the benchmarks run: a dedicated PostgreSQL database and Redis db, wiped between figures."""

import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import redis
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from reminders.models import Clinic, Program
from reminders.services.programs import programs_load

from ..fakes.twilio import provider_settings
from ..machine import cpu_model, memory_gb
from ..processes import service_env

BASE_DIR = Path(settings.BASE_DIR)
# The processes' logs, beat's schedule.
WORK_DIR = BASE_DIR / "var" / "bench"
# The benchmarks make their database anew and truncate it: only one so named.
REQUIRED_PREFIX = "bench"
# Nothing listens there: the benchmarks post no status callbacks, the URL only carries the message id.
BENCH_PUBLIC_BASE_URL = "http://127.0.0.1:9"
# Tables kept between figures: the programs, loaded once.
KEPT_TABLES = {"reminders_program", "reminders_step"}


class BenchRefused(Exception):
    """The configured database or Redis is not one the benchmarks may wipe."""


@dataclass(frozen=True)
class BenchTarget:
    database_url: str
    redis_url: str


def bench_target() -> BenchTarget:
    return target_check(database=settings.DATABASES["default"], database_url=os.environ.get("DATABASE_URL", ""),
                        redis_url=settings.REDIS_URL)


def target_check(*, database: dict, database_url: str, redis_url: str) -> BenchTarget:
    """The database and Redis, refused unless they are dedicated to benchmarks.

    The benchmarks truncate tables and flush the Redis db, so the database name
    must start with "bench" and the Redis db must not be the tests' (15) or db 0.
    """
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise BenchRefused("The benchmarks run on PostgreSQL: set DATABASE_URL=postgres://.../bench.")
    if not database["NAME"].startswith(REQUIRED_PREFIX) or not database_url:
        raise BenchRefused(f"Refusing to wipe database {database['NAME']!r}: its name must start with "
                           f"{REQUIRED_PREFIX!r}.")
    redis_db = int(redis.Redis.from_url(redis_url).connection_pool.connection_kwargs.get("db", 0))
    if redis_db in {0, 15}:
        raise BenchRefused(f"Refusing to flush Redis db {redis_db}: give REDIS_URL a db of its own (e.g. /12).")
    return BenchTarget(database_url=database_url, redis_url=redis_url)


def bench_env(*, target: BenchTarget, fake_url: str, **overrides: str) -> dict[str, str]:
    """The environment of the benchmark's worker and beat: its database and Redis, the fake as Twilio."""
    return service_env(
        database_url=target.database_url, redis_url=target.redis_url, provider_url=fake_url,
        public_base_url=BENCH_PUBLIC_BASE_URL, log_level="WARNING",
        **{"DISPATCH_INTERVAL_SECONDS": str(settings.DISPATCH_INTERVAL_SECONDS), **overrides},
    )


def bench_settings(*, fake_url: str) -> dict:
    """Settings overrides for sends from this process (the foreground dispatch cycle) to the fake."""
    return {**provider_settings(fake_url), "PUBLIC_BASE_URL": BENCH_PUBLIC_BASE_URL, "SMS_RATE_PER_SECOND": 0}


def database_prepare() -> None:
    call_command("migrate", interactive=False, verbosity=0)
    programs_load()


def data_wipe(*, target: BenchTarget) -> None:
    """Empty every table but the programs, and the benchmark Redis db."""
    tables = [m._meta.db_table for m in apps.get_app_config("reminders").get_models()
              if m._meta.db_table not in KEPT_TABLES]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    redis.Redis.from_url(target.redis_url).flushdb()


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reminders_message")
        cursor.execute("ANALYZE")


def bench_clinic(**fields) -> Clinic:
    """A clinic whose quiet hours lie half a day away, so nothing waits for morning mid-run;
    ``fields`` set others (a second clinic's name, its own SMS sender)."""
    now = datetime.now(UTC)
    start, end = (now + timedelta(hours=12)).time(), (now + timedelta(hours=13)).time()
    return Clinic.objects.create(**{
        "name": "Bench Spine Clinic", "phone": "+12025550143", "time_zone": "UTC",
        "quiet_hours_start": start.replace(minute=0, second=0, microsecond=0),
        "quiet_hours_end": end.replace(minute=0, second=0, microsecond=0),
        **fields,
    })


def bench_program() -> Program:
    return Program.objects.prefetch_related("steps").get(slug="after-procedure")


def machine_describe(*, target: BenchTarget) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True,
                                text=True, timeout=5).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "postgresql": postgres,
        "redis": redis.Redis.from_url(target.redis_url).info("server")["redis_version"],
        "django": __import__("django").get_version(),
        "celery": __import__("celery").__version__,
        "twilio": __import__("twilio").__version__,
        "commit": commit,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class OtherWork:
    """Samples, in a thread, the CPU that work other than the benchmark's uses on this machine.

    Ours: this process and its children, and PostgreSQL backends on the
    benchmark database; shared servers (PostgreSQL's own processes, Redis) are
    left out; everything else (other people's tests, say) is the others'.
    """

    def __init__(self, *, database: str, every: float = 1.0) -> None:
        self.database, self.every = database, every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="other-work")

    def _others(self, ours: set[int]) -> dict[int, float]:
        found = {}
        for process in psutil.process_iter(["pid", "name", "cmdline", "cpu_times"]):
            info = process.info
            command = " ".join(info["cmdline"] or []) or info["name"] or ""
            if info["pid"] in ours or info["cpu_times"] is None:
                continue
            if info["name"] in {"postgres", "redis-server"} or "redis-server" in command:
                backend = command.startswith("postgres: ") and "(" in command
                if not backend or f" {self.database} " in command:
                    continue  # ours, or a shared server's own process
            found[info["pid"]] = info["cpu_times"].user + info["cpu_times"].system
        return found

    def _run(self) -> None:
        me = psutil.Process()
        before, at = self._others(set()), time.monotonic()
        while not self._stop.wait(self.every):
            ours = {me.pid, *(child.pid for child in me.children(recursive=True))}
            now, now_at = self._others(ours), time.monotonic()
            used = sum(cpu - before.get(pid, cpu) for pid, cpu in now.items())
            self.samples.append(max(used, 0.0) / (now_at - at))
            before, at = now, now_at

    def __enter__(self) -> "OtherWork":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def mean_since(self, index: int) -> float:
        taken = self.samples[index:]
        return round(sum(taken) / len(taken), 2) if taken else 0.0

    def summary(self) -> dict:
        if not self.samples:
            return {"mean_cores": 0.0, "max_cores": 0.0}
        return {"mean_cores": round(sum(self.samples) / len(self.samples), 2),
                "max_cores": round(max(self.samples), 2)}
