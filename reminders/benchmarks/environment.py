"""Where the benchmarks run: a dedicated PostgreSQL database and Redis db, wiped between figures."""

import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import environ
import psutil
import redis
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from ..models import Clinic, Program
from ..services.programs import programs_load

BASE_DIR = Path(settings.BASE_DIR)
WORK_DIR = BASE_DIR / "var" / "bench"
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
    must contain "bench" and the Redis db must not be the tests' (15) or db 0.
    """
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise BenchRefused("The benchmarks run on PostgreSQL: set DATABASE_URL=postgres://.../bench.")
    if "bench" not in database["NAME"] or not database_url:
        raise BenchRefused(f"Refusing to wipe database {database['NAME']!r}: its name must contain 'bench'.")
    redis_db = int(redis.Redis.from_url(redis_url).connection_pool.connection_kwargs.get("db", 0))
    if redis_db in {0, 15}:
        raise BenchRefused(f"Refusing to flush Redis db {redis_db}: give REDIS_URL a db of its own (e.g. /12).")
    return BenchTarget(database_url=database_url, redis_url=redis_url)


def database_ensure(*, database_url: str) -> bool:
    """Create the benchmark database if it is missing; returns whether it was created."""
    import psycopg

    config = environ.Env.db_url_config(database_url)
    maintenance = dict(host=config["HOST"] or None, port=config["PORT"] or None, user=config["USER"] or None,
                       password=config["PASSWORD"] or None, dbname="postgres", autocommit=True)
    with psycopg.connect(**{k: v for k, v in maintenance.items() if v is not None}) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{config["NAME"]}"')
        return True


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


def bench_clinic() -> Clinic:
    """A clinic whose quiet hours lie half a day away, so nothing waits for morning mid-run."""
    now = datetime.now(timezone.utc)
    start, end = (now + timedelta(hours=12)).time(), (now + timedelta(hours=13)).time()
    return Clinic.objects.create(
        name="Bench Spine Clinic", phone="+12025550143", time_zone="UTC",
        quiet_hours_start=start.replace(minute=0, second=0, microsecond=0),
        quiet_hours_end=end.replace(minute=0, second=0, microsecond=0),
    )


def bench_program() -> Program:
    return Program.objects.prefetch_related("steps").get(slug="after-procedure")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "postgresql": postgres,
        "redis": redis.Redis.from_url(target.redis_url).info("server")["redis_version"],
        "django": __import__("django").get_version(),
        "celery": __import__("celery").__version__,
        "twilio": __import__("twilio").__version__,
        "commit": commit,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
