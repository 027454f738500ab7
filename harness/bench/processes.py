"""The processes a benchmark runs against: the Twilio fake, Celery workers and beat."""

import os
import re
import signal
import subprocess
import sys
import time

import psutil
from django.conf import settings

from ..fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioClient
from .environment import BASE_DIR, WORK_DIR, BenchTarget

SENDER = "+12025550199"
# Pool processes per worker, as in the Procfile.
WORKER_CONCURRENCY = 2


class BenchProcessError(RuntimeError):
    pass


class Spawned:
    """A child process with its output in a log file under var/bench/."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str]) -> None:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = WORK_DIR / f"{name}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchProcessError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")

    def stop(self, *, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session: only its children
                self.process.wait(10)
        self._log.close()

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
        children = parent.children(recursive=True)
        main = parent.memory_info().rss
        kids = [child.memory_info().rss for child in children]
        return {"main": main, "children": kids, "total": main + sum(kids)}


def base_env(*, target: BenchTarget, fake_url: str, **extra: str) -> dict[str, str]:
    """The environment of every spawned process: the benchmark database, Redis and the fake as Twilio."""
    env = {
        **os.environ,
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "project.settings.base",
        "DATABASE_URL": target.database_url,
        "REDIS_URL": target.redis_url,
        # Production-like: DEBUG would keep every query in memory.
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "bench-only-not-a-secret-0123456789",
        "LOG_LEVEL": "WARNING",
        "SMS_BACKEND": "twilio",
        "TWILIO_API_URL": fake_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": SENDER,
        "TWILIO_MESSAGING_SERVICE_SID": "",
        # Callbacks are not posted in the benchmarks; the URL only carries the message id.
        "PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "DISPATCH_INTERVAL_SECONDS": str(settings.DISPATCH_INTERVAL_SECONDS),
    }
    env.update(extra)
    return env


def fake_start(*, extra_args: list[str] = ()) -> tuple[Spawned, FakeTwilioClient]:
    fake = Spawned("fake-twilio", [sys.executable, "-m", "harness.fakes.twilio", "--port", "0",
                                   *extra_args], env={**os.environ, "PYTHONPATH": str(BASE_DIR)})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        fake.check_alive()
        found = re.search(r"http://127\.0\.0\.1:\d+", fake.log_path.read_text())
        if found:
            client = FakeTwilioClient(found[0])
            if client.healthy():
                return fake, client
        time.sleep(0.05)
    raise BenchProcessError(f"the fake did not start:\n{fake.log_tail()}")


def worker_start(*, name: str, env: dict[str, str], concurrency: int = WORKER_CONCURRENCY,
                 include: str = "") -> Spawned:
    args = [sys.executable, "-m", "celery", "-A", "project", "worker", "--loglevel=WARNING",
            f"--concurrency={concurrency}", "--pool=prefork", f"--hostname={name}@%h",
            "--without-gossip", "--without-mingle"]
    if include:
        args.append(f"--include={include}")
    return Spawned(name, args, env=env)


def beat_start(*, env: dict[str, str]) -> Spawned:
    schedule = WORK_DIR / "celerybeat-schedule"
    for stale in WORK_DIR.glob("celerybeat-schedule*"):
        stale.unlink()
    return Spawned("beat", [sys.executable, "-m", "celery", "-A", "project", "beat", "--loglevel=WARNING",
                            f"--schedule={schedule}", f"--pidfile={WORK_DIR / 'beat.pid'}"], env=env)


def workers_wait_ready(workers: list[Spawned], *, timeout: float = 60) -> None:
    """Until every worker answers a ping on the broker."""
    from project.celery import app

    names = {w.name for w in workers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            worker.check_alive()
        replies = app.control.ping(timeout=0.5) or []
        answered = {name.split("@")[0] for reply in replies for name in reply}
        if names <= answered:
            return
    raise BenchProcessError("workers did not come up:\n" + "\n".join(w.log_tail() for w in workers))


def stop_all(*spawned: Spawned | None) -> None:
    for process in spawned:
        if process is not None:
            process.stop()


def settings_for_fake(fake_url: str) -> dict:
    """Settings overrides for in-process sends to the fake (the foreground dispatch cycle)."""
    return {"SMS_BACKEND": "twilio", "TWILIO_API_URL": fake_url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": SENDER, "TWILIO_MESSAGING_SERVICE_SID": "",
            "PUBLIC_BASE_URL": "http://127.0.0.1:9", "SMS_RATE_PER_SECOND": 0}
