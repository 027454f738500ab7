"""Issue 13, item 11: `make run` for a newcomer: the port, a demo kept across restarts, quiet logs."""

import logging
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from reminders.log_filters import QuietBeatTicks
from reminders.models import Clinic, Patient

ROOT = Path(__file__).resolve().parents[2]


def settings_value(name: str, **env) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_BASE_URL", "WEB_PORT")}
    environment |= {"DJANGO_SETTINGS_MODULE": "project.settings.local", **env}
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_the_public_base_url_follows_the_web_port():
    assert settings_value("PUBLIC_BASE_URL", WEB_PORT="8123") == "http://127.0.0.1:8123"
    assert settings_value("PUBLIC_BASE_URL", WEB_PORT="8123", PUBLIC_BASE_URL="https://f.example") == \
        "https://f.example"


@pytest.mark.django_db
def test_the_demo_is_seeded_only_into_an_empty_database(settings):
    settings.DEBUG = True
    call_command("load_programs", stdout=StringIO())
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8123"
    first = StringIO()
    call_command("seed_demo", "--if-empty", stdout=first)
    assert "Admin: http://127.0.0.1:8123/admin/" in first.getvalue()
    patients = set(Patient.objects.values_list("pk", flat=True))
    again = StringIO()
    call_command("seed_demo", "--if-empty", stdout=again)
    assert "left as it is" in again.getvalue() and "Admin: http://127.0.0.1:8123/admin/" in again.getvalue()
    assert set(Patient.objects.values_list("pk", flat=True)) == patients
    assert Clinic.objects.count() == 2


def test_make_run_seeds_only_an_empty_database_and_demo_reset_starts_anew():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile.split("\nrun: install\n")[1].split("\n\n")[0]
    assert "seed_demo --if-empty" in run
    reset = makefile.split("\ndemo-reset: install\n")[1].split("\n\n")[0]
    assert "flush --noinput" in reset and "seed_demo\n" in reset + "\n"


def test_no_favicon_404(client):
    assert client.get("/favicon.ico").status_code == 204


def record(name: str, message: str, level=logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, (), None)


def test_beats_periodic_task_lines_only_at_debug():
    quiet = QuietBeatTicks()
    root = logging.getLogger()
    before = root.level
    try:
        root.setLevel(logging.INFO)
        assert not quiet.filter(record("celery.app.trace",
                                       "Task reminders.tasks.dispatch_due_messages[1] succeeded in 0.01s: 0"))
        assert not quiet.filter(record("celery.worker.strategy",
                                       "Task reminders.tasks.dispatch_due_messages[1] received"))
        assert not quiet.filter(record("celery.beat",
                                       "Scheduler: Sending due task dispatch (reminders.tasks.dispatch_due_messages)"))
        assert quiet.filter(record("celery.app.trace", "Task reminders.tasks.send_messages[2] succeeded in 0.2s: 3"))
        assert quiet.filter(record("celery.app.trace", "Task reminders.tasks.dispatch_due_messages[1] raised",
                                   logging.ERROR))
        root.setLevel(logging.DEBUG)
        assert quiet.filter(record("celery.app.trace", "Task reminders.tasks.dispatch_due_messages[1] succeeded"))
    finally:
        root.setLevel(before)



def test_the_claim_line_is_logged_at_debug(caplog, db):
    from reminders.services.claims import dispatch_tick

    caplog.set_level(logging.DEBUG, logger="reminders.services.claims")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("reminders.services.claims.messages_claim", lambda limit: [1, 2])
        dispatch_tick(hand_over=lambda ids: None)
    [line] = [r for r in caplog.records if "dispatch claimed" in r.getMessage()]
    assert line.levelno == logging.DEBUG
