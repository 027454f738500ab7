"""The health check (/healthz, `manage.py health`), beat's heartbeat and the operations alerts."""

import json
import logging
import time
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.db import OperationalError

from reminders.models import Message, MessageStatus
from reminders.redis_client import BEAT_HEARTBEAT_KEY
from reminders.selectors.health import health_report
from reminders.services.health import beat_heartbeat_record, ops_alerts_check
from reminders.tasks import check_health_and_alert, dispatch_due_messages
from tests.moments import DAY0_DUE, utc
from tests.twilio_fakes import closed_port


@pytest.fixture
def ops(settings):
    settings.OPS_ALERT_EMAIL = ["ops@followup.example"]
    settings.PUBLIC_BASE_URL = "https://followup.example.org"


def healthz(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, json.loads(response.content)


def run_health_command(*args) -> tuple[int, dict]:
    out = StringIO()
    try:
        call_command("health", *args, stdout=out)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, json.loads(out.getvalue())


# --- the report -------------------------------------------------------------------------

def test_healthy_when_everything_answers(client, enrollment, clock):
    with clock.at(DAY0_DUE - timedelta(minutes=5)):
        beat_heartbeat_record()
        status, report = healthz(client)
        assert (status, report["ok"]) == (200, True)
        assert set(report["checks"]) == {"database", "redis", "beat", "backlog"}
        assert report["checks"]["beat"]["last_run_age_seconds"] == 0
        assert report["checks"]["backlog"] == {"ok": True, "due_count": 0, "oldest_due_age_seconds": 0.0,
                                               "max_age_seconds": 600,
                                               "by_status": {"pending": 0, "queued": 0, "sending": 0}}
        assert run_health_command() == (0, report)


def test_a_due_message_unsent_for_over_ten_minutes_makes_it_unhealthy(client, enrollment, patient, clock):
    with clock.at(DAY0_DUE + timedelta(minutes=9, seconds=59)):
        beat_heartbeat_record()
        assert healthz(client)[0] == 200
    with clock.at(DAY0_DUE + timedelta(minutes=10, seconds=1)):
        beat_heartbeat_record()
        response = client.get("/healthz")
        backlog = json.loads(response.content)["checks"]["backlog"]
        assert (response.status_code, backlog["ok"], backlog["due_count"], backlog["oldest_due_age_seconds"]) == (
            503, False, 1, 601.0)
        assert backlog["detail"] == "1 due messages waiting, the oldest for 10 min (limit 10 min)"
        code, report = run_health_command()
        assert (code, report["ok"]) == (1, False)
    body = response.content.decode()
    for private in (patient.first_name, patient.last_name, "2025550101", patient.email):
        assert private not in body


def test_messages_not_due_are_no_backlog(client, enrollment, clock):
    with clock.at(DAY0_DUE - timedelta(seconds=1)):
        beat_heartbeat_record()
        assert healthz(client)[1]["checks"]["backlog"]["due_count"] == 0


@pytest.mark.parametrize("status", [MessageStatus.QUEUED, MessageStatus.SENDING])
def test_claimed_messages_stuck_behind_the_workers_are_a_backlog_too(client, enrollment, clock, status):
    # Claimed at once, but no worker took them (a queue of tasks in Redis), or still sending.
    Message.objects.filter(enrollment=enrollment, step__key="day0").update(status=status)
    with clock.at(DAY0_DUE + timedelta(minutes=11)):
        beat_heartbeat_record()
        code, report = healthz(client)
        backlog = report["checks"]["backlog"]
        assert (code, backlog["ok"], backlog["due_count"]) == (503, False, 1)
        assert backlog["by_status"] == {"pending": 0, "queued": 0, "sending": 0, status.value: 1}


def test_no_dispatch_cycle_for_three_minutes_makes_it_unhealthy(client, db, clock):
    now = utc(2026, 6, 2, 12, 0)
    with clock.at(now):
        status, report = healthz(client)
        assert (status, report["checks"]["beat"]["detail"]) == (503, "no dispatch cycle recorded")
    with clock.at(now - timedelta(seconds=179)):
        beat_heartbeat_record()
    with clock.at(now):
        assert healthz(client)[0] == 200
    with clock.at(now + timedelta(seconds=2)):
        status, report = healthz(client)
        assert (status, report["checks"]["beat"]["last_run_age_seconds"]) == (503, 181.0)
        assert report["checks"]["beat"]["detail"] == "no dispatch cycle for 3 min (limit 3 min)"


def test_the_beat_dispatch_task_records_the_heartbeat(enrollment, service_redis, clock):
    with clock.at(DAY0_DUE + timedelta(seconds=1)):
        dispatch_due_messages()
        assert float(service_redis.get(BEAT_HEARTBEAT_KEY)) == DAY0_DUE.timestamp() + 1
        assert health_report().checks["beat"].ok


def test_dispatch_goes_on_when_redis_is_down(enrollment, settings, caplog, clock):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    with clock.at(DAY0_DUE + timedelta(seconds=1)):
        assert dispatch_due_messages() == 1
    assert Message.objects.get(enrollment=enrollment, step__key="day0").status == MessageStatus.QUEUED
    assert "dispatch heartbeat not recorded: Redis unreachable" in caplog.text


def test_redis_down_is_reported_at_once(client, db, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    started = time.monotonic()
    status, report = healthz(client)
    assert time.monotonic() - started < 5
    assert status == 503
    assert report["checks"]["redis"] == {"ok": False, "detail": "unreachable (ConnectionError)"}
    assert report["checks"]["beat"]["detail"] == "unknown: Redis is unreachable"
    assert report["checks"]["database"]["ok"] is True


def test_the_database_down_is_reported(client, db):
    broken = mock.Mock()
    broken.cursor.side_effect = OperationalError("connection refused")
    with mock.patch("reminders.selectors.health.connection", broken):
        status, report = healthz(client)
    assert status == 503
    assert report["checks"]["database"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    assert report["checks"]["backlog"]["detail"] == "unknown: the database is unreachable"


def test_healthz_only_answers_reads_and_is_never_cached(client, db):
    assert client.post("/healthz").status_code == 405
    assert "no-cache" in client.get("/healthz")["Cache-Control"]


# --- alerts -----------------------------------------------------------------------------

def alerts() -> list[str]:
    subjects = [m.subject for m in mail.outbox]
    mail.outbox.clear()
    return subjects


def test_a_backlog_is_announced_once_and_its_recovery_once(enrollment, ops, clock):
    late = DAY0_DUE + timedelta(minutes=11)
    with clock.at(late):
        beat_heartbeat_record()
        assert ops_alerts_check() == ["backlog failing"]
        assert alerts() == ["[followup.example.org] ALERT backlog: 1 due messages waiting, the oldest for "
                            "11 min (limit 10 min)"]
    with clock.at(late + timedelta(minutes=1)):
        beat_heartbeat_record()
        assert ops_alerts_check() == []
        assert alerts() == []
    Message.objects.filter(status=MessageStatus.PENDING, due_at__lte=late).update(status=MessageStatus.SENT)
    with clock.at(late + timedelta(minutes=20)):
        beat_heartbeat_record()
        assert ops_alerts_check() == ["backlog recovered"]
        assert alerts() == ["[followup.example.org] RECOVERED backlog (after 20 min)"]
        assert ops_alerts_check() == []


def test_beat_stopping_is_announced_and_its_return_too(db, ops, clock):
    now = utc(2026, 6, 2, 12, 0)
    with clock.at(now):
        beat_heartbeat_record()
        assert ops_alerts_check() == []
    with clock.at(now + timedelta(minutes=4)):
        assert ops_alerts_check() == ["beat failing"]
        [email] = mail.outbox
        assert email.to == ["ops@followup.example"]
        assert "no dispatch cycle for 4 min (limit 3 min)" in email.subject
        assert '"last_run_age_seconds": 240.0' in email.body
    with clock.at(now + timedelta(minutes=9)):
        beat_heartbeat_record()
        assert ops_alerts_check() == ["beat recovered"]


def test_beats_task_and_crons_command_side_by_side_announce_once(enrollment, ops, clock):
    with clock.at(DAY0_DUE + timedelta(minutes=30)):
        beat_heartbeat_record()
        assert check_health_and_alert() == 1
        assert run_health_command("--alert")[0] == 1
        assert check_health_and_alert() == 0
    assert len(alerts()) == 1


def test_an_alert_that_could_not_be_emailed_is_tried_again(enrollment, ops, settings, clock):
    locmem = settings.EMAIL_BACKEND
    with clock.at(DAY0_DUE + timedelta(minutes=30)):
        beat_heartbeat_record()
        # The outside world: a mail server that is not there.
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
        assert ops_alerts_check() == []
        settings.EMAIL_BACKEND = locmem
        assert ops_alerts_check() == ["backlog failing"]
    assert len(alerts()) == 1


def test_without_an_ops_address_incidents_are_logged_once(enrollment, settings, caplog, clock):
    settings.OPS_ALERT_EMAIL = []
    with clock.at(DAY0_DUE + timedelta(minutes=30)), caplog.at_level(logging.WARNING):
        beat_heartbeat_record()
        ops_alerts_check()
        ops_alerts_check()
    assert mail.outbox == []
    assert caplog.text.count("ops alert not emailed, OPS_ALERT_EMAIL is not set: ALERT backlog") == 1


def test_alerts_carry_no_patient_data(enrollment, patient, ops, clock):
    with clock.at(DAY0_DUE + timedelta(minutes=30)):
        ops_alerts_check()
    assert len(mail.outbox) == 2  # beat and backlog
    text = " ".join(m.subject + m.body for m in mail.outbox)
    for private in (patient.first_name, patient.last_name, "2025550101", "555-0101", patient.email,
                    patient.clinic.name):
        assert private not in text


def test_beat_runs_the_alert_check_every_minute():
    entry = django_settings.CELERY_BEAT_SCHEDULE["check-health-and-alert"]
    assert (entry["task"], entry["schedule"]) == ("reminders.tasks.check_health_and_alert", 60.0)
