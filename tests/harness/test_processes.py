"""The one process harness: the service's environment, processes stopped with their children, databases refused."""

import time

import pytest

from harness.fakes.twilio import ACCOUNT_SID, provider_settings
from harness.processes import (
    DatabaseRefused,
    ProcessError,
    database_drop,
    database_recreate,
    free_port,
    group_members,
    python_process,
    service_env,
    wait_until,
    web_start,
)

FAKE_URL = "http://127.0.0.1:8089"


def test_the_service_runs_on_productions_settings_whatever_the_harness_runs_on(monkeypatch):
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "project.settings.harness")
    monkeypatch.setenv("DJANGO_DEBUG", "true")

    env = service_env(database_url="postgres://postgres@127.0.0.1:5432/bench", redis_url="redis://127.0.0.1:6379/12",
                      provider_url=FAKE_URL, public_base_url="http://127.0.0.1:9", log_level="WARNING",
                      SMS_RATE_PER_SECOND="10", TWILIO_FROM_NUMBER="+12025550100")

    assert env["DJANGO_SETTINGS_MODULE"] == "project.settings.base"
    assert env["DJANGO_DEBUG"] == "false"
    assert (env["DATABASE_URL"], env["REDIS_URL"], env["LOG_LEVEL"]) == (
        "postgres://postgres@127.0.0.1:5432/bench", "redis://127.0.0.1:6379/12", "WARNING")
    assert (env["SMS_BACKEND"], env["TWILIO_API_URL"], env["TWILIO_ACCOUNT_SID"]) == ("twilio", FAKE_URL, ACCOUNT_SID)
    # Overrides win over the fake's defaults.
    assert (env["SMS_RATE_PER_SECOND"], env["TWILIO_FROM_NUMBER"]) == ("10", "+12025550100")
    assert len(env["DJANGO_SECRET_KEY"]) >= 40
    assert all(isinstance(value, str) for value in env.values())


def test_the_fakes_settings_are_the_ones_the_twilio_backend_reads(settings):
    for name in provider_settings(FAKE_URL):
        assert hasattr(settings, name), name


@pytest.mark.parametrize("drop", [database_drop, database_recreate])
def test_only_a_database_named_for_the_harness_is_dropped(drop):
    # Refused before any connection is made.
    with pytest.raises(DatabaseRefused, match="'followup'"):
        drop(url="postgres://postgres@127.0.0.1:5432/followup", required_prefix="chaos")


SPAWNS_A_CHILD = ("import subprocess, sys, time; "
                  "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                  "time.sleep(60)")


def test_a_process_is_stopped_with_its_children(tmp_path):
    process = python_process(name="parent", args=["-c", SPAWNS_A_CHILD], env={}, log_dir=tmp_path).start()
    try:
        wait_until(lambda: len(group_members(process.pid)) == 2, timeout=10, what="the child")
    finally:
        process.stop(timeout=2)
    assert not process.running()
    # The orphaned child is reaped by init a moment after it died.
    wait_until(lambda: group_members(process.pid) == [], timeout=5, what="the group gone")


def test_a_process_that_exited_says_so_with_its_own_output(tmp_path):
    first = python_process(name="once", args=["-c", "print('first start')"], env={}, log_dir=tmp_path).start()
    first.popen.wait(10)
    second = python_process(name="once", args=["-c", "import sys; print('second start'); sys.exit(3)"], env={},
                            log_dir=tmp_path).start()
    second.popen.wait(10)

    with pytest.raises(ProcessError, match="once exited with 3") as refused:
        second.check_alive()
    assert "second start" in str(refused.value) and "first start" not in str(refused.value)
    # The log keeps both starts.
    assert (tmp_path / "once.log").read_text().splitlines() == ["first start", "second start"]


def test_waiting_gives_up_and_says_what_for():
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="the fake provider not ready after 0 s"):
        wait_until(lambda: False, timeout=0.2, what="the fake provider", interval=0.05)
    assert time.monotonic() - started < 2



def test_two_runs_never_share_a_database_or_a_redis_db():
    # On the machine's PostgreSQL server (every machine of the project has one), whatever the suite runs on;
    # names no real run uses, so a benchmark running meanwhile is not in the way.
    from harness.processes import RunLocked, run_lock

    url = "postgres://postgres@127.0.0.1:5432/bench_lock_probe"
    other = url.replace("probe", "other")
    with run_lock(database_url=url, redis_url="redis://127.0.0.1:6379/96"):
        with pytest.raises(RunLocked, match="database bench_lock_probe"), \
                run_lock(database_url=url, redis_url="redis://127.0.0.1:6379/97"):
            pass
        with pytest.raises(RunLocked, match=r"Redis redis://127\.0\.0\.1:6379/96"), \
                run_lock(database_url=other, redis_url="redis://127.0.0.1:6379/96"):
            pass
        with run_lock(database_url=other, redis_url="redis://127.0.0.1:6379/97"):
            pass  # another database and another Redis db: both runs go ahead
    with run_lock(database_url=url, redis_url="redis://127.0.0.1:6379/96"):
        pass  # let go when the first run ended


def test_the_web_server_is_gunicorn_serving_the_project_at_the_services_log_level(tmp_path):
    import requests

    env = service_env(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", redis_url="redis://127.0.0.1:1/0",
                      provider_url=FAKE_URL, public_base_url="http://127.0.0.1:9", log_level="INFO",
                      SECURE_SSL_REDIRECT="false")
    port = free_port()
    web = web_start(env=env, log_dir=tmp_path, port=port, workers=2)
    try:
        # Whatever the health (no Redis here): the project's own view answered, through gunicorn.
        answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        assert answer.status_code in {200, 503} and "database" in answer.json()["checks"]
        assert "Starting gunicorn" in web.output() and "Booting worker" in web.output()
        assert len(group_members(web.pid)) == 3  # the arbiter and its two workers
    finally:
        web.stop()
    assert group_members(web.pid) == []
