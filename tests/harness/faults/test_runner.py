"""One small fault scenario through the harness, on real processes (the six run in `make chaos-quick`)."""

import os
import socket
from dataclasses import replace

import pytest

from harness.faults.database import REQUIRED_PREFIX
from harness.faults.runner import QUICK, chaos_run
from harness.faults.scenarios import SCENARIOS_BY_NAME
from harness.processes import database_drop

pytestmark = pytest.mark.celery_worker

# A database of its own (the harness drops and recreates it), never the tests' one, and
# of this run alone: other runs on the machine share its PostgreSQL.
URL = f"postgres://postgres@127.0.0.1:5432/chaos_pytest_{os.getpid()}"


def _postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _postgres_answers(), reason="the fault scenarios need PostgreSQL on 127.0.0.1:5432")
def test_two_beats_on_real_processes_send_each_message_once(django_db_blocker):
    try:
        with django_db_blocker.unblock():
            [result] = chaos_run(scenarios=[SCENARIOS_BY_NAME["two-beats"]], sizes=replace(QUICK, patients=4),
                                 url=URL, say=lambda text: None)
    finally:
        database_drop(url=URL, required_prefix=REQUIRED_PREFIX)
    assert result.ok, (result.error, result.checks)
    # 4 patients x the 13 messages of after-procedure (its appointment reminders wait for appointments).
    assert result.planned == 52
    assert result.counts.get("delivered", 0) + result.counts.get("sent", 0) > 0
    assert result.duplicates == 0
