"""The daily reconciliation: planned, sent, delivered ... per clinic and channel, and flags."""

import json
import logging
from datetime import date, timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import CommandError, call_command

from reminders.models import Message, MessageStatus
from reminders.selectors.reconciliation import reconciliation_for_day
from reminders.services.reconciliation import reconciliation_run
from reminders.tasks import reconcile_yesterday
from tests.factories import EnrollmentFactory
from tests.moments import DAY, utc

CHECKED = utc(2026, 6, 3, 12, 15)  # the next day, when beat reconciles
S = MessageStatus


@pytest.fixture
def clinics(make_clinic):
    return (make_clinic(name="Riverside Spine Clinic"),
            make_clinic(name="Hillcrest Fracture Service", phone="+442079460958", time_zone="Europe/London"))


def day0_texts(program, clinic, n: int) -> list[Message]:
    """The day-0 texts of ``n`` patients of ``clinic``, enrolled that morning (they also get emails)."""
    enrollments = EnrollmentFactory.create_batch(n, patient__clinic=clinic, patient__email_consent=True,
                                                 program=program, enrolled_at=utc(2026, 6, 2, 8, 0))
    return [enrollment.messages.get(step__key="day0") for enrollment in enrollments]


def outcome(message, status, **fields):
    defaults = {
        S.SENT: {"sent_at": CHECKED - timedelta(days=1), "provider_message_id": f"SM{message.pk}"},
        S.DELIVERED: {"sent_at": CHECKED - timedelta(days=1), "delivered_at": CHECKED - timedelta(days=1),
                      "provider_message_id": f"SM{message.pk}"},
        S.FAILED: {"reason": "The number does not exist.", "error_code": "30005"},
        S.SKIPPED: {"reason": "too late"},
        S.CANCELLED: {"reason": "cancelled: moved away"},
    }.get(status, {})
    Message.objects.filter(pk=message.pk).update(status=status, **{**defaults, **fields})


@pytest.fixture
def day_of_outcomes(clinics, program):
    """Riverside: nine SMS planned for the day, one of each fate; Hillcrest: one delivered."""
    riverside, hillcrest = clinics
    sms = day0_texts(program, riverside, 9)
    outcome(sms[0], S.SENT)
    outcome(sms[1], S.DELIVERED)
    outcome(sms[2], S.DELIVERED)
    outcome(sms[3], S.FAILED)
    outcome(sms[4], S.SKIPPED)
    outcome(sms[5], S.CANCELLED)
    outcome(sms[6], S.UNKNOWN, updated_at=CHECKED - timedelta(hours=20))  # never settled
    outcome(sms[7], S.PENDING, due_at=CHECKED - timedelta(hours=20))  # never claimed
    outcome(sms[8], S.QUEUED, lease_expires_at=CHECKED - timedelta(hours=20))  # claim never taken back
    [edith] = day0_texts(program, hillcrest, 1)
    outcome(edith, S.DELIVERED)
    return riverside, hillcrest


def row(result, clinic, channel="sms"):
    [found] = [r for r in result.rows if r.clinic_id == clinic.pk and r.channel == channel]
    return found


def test_every_message_planned_for_the_day_is_counted_once_in_its_fate(day_of_outcomes):
    riverside, hillcrest = day_of_outcomes
    result = reconciliation_for_day(day=DAY, now=CHECKED)
    assert row(result, riverside).counts == {
        "planned": 9, "sent": 3, "delivered": 2, "failed": 1, "skipped": 1, "cancelled": 1,
        "pending": 1, "paused": 0, "in_flight": 1, "unknown": 1}
    assert row(result, riverside).flags == {"claim_past_lease": 1, "unknown_past_settle": 1, "pending_overdue": 1}
    assert row(result, hillcrest).counts["delivered"] == 1
    assert row(result, hillcrest).flags == {}
    # Now, any day: also Hillcrest's day-1 text, due at 08:30 UTC today and not yet claimed.
    assert result.stuck_now == {"claim_past_lease": 1, "unknown_past_settle": 1, "pending_overdue": 2}
    assert result.flagged
    # The day-7 emails and the day-1 texts belong to other days.
    assert {r.channel for r in result.rows} == {"sms"}
    assert result.totals["planned"] == 10


def test_a_message_settling_normally_is_not_flagged(day_of_outcomes):
    riverside, _ = day_of_outcomes
    recent = CHECKED - timedelta(minutes=5)
    for status, fields in [(S.UNKNOWN, {"updated_at": recent}), (S.PENDING, {"due_at": recent}),
                           (S.QUEUED, {"lease_expires_at": CHECKED + timedelta(minutes=1)})]:
        Message.objects.filter(status=status).update(**fields)
    result = reconciliation_for_day(day=DAY, now=CHECKED)
    assert row(result, riverside).flags == {}
    assert not result.flagged


def test_the_day_is_each_clinics_local_day(clinics, program):
    riverside, _ = clinics
    [late_evening, after_midnight] = day0_texts(program, riverside, 2)
    # 23:30 and 00:30 in New York (EDT, UTC-4).
    Message.objects.filter(pk=late_evening.pk).update(scheduled_at=utc(2026, 6, 3, 3, 30))
    Message.objects.filter(pk=after_midnight.pk).update(scheduled_at=utc(2026, 6, 3, 4, 30))
    assert row(reconciliation_for_day(day=DAY, now=CHECKED), riverside).counts["planned"] == 1
    # June 3: the one after midnight and the two day-1 texts.
    assert row(reconciliation_for_day(day=date(2026, 6, 3), now=CHECKED), riverside).counts["planned"] == 3


@pytest.mark.parametrize(("fields", "flag"), [
    ({"status": "bogus"}, "unaccounted"),
    ({"status": S.SENT, "sent_at": None, "provider_message_id": "SM1"}, "sent_without_time"),
    ({"status": S.SENT, "sent_at": CHECKED, "provider_message_id": ""}, "sms_sent_without_provider_id"),
    ({"status": S.DELIVERED, "sent_at": CHECKED, "provider_message_id": "SM1", "delivered_at": None},
     "delivered_without_time"),
    ({"status": S.FAILED, "reason": ""}, "ended_without_reason"),
])
def test_rows_that_do_not_add_up_are_flagged(clinics, program, fields, flag):
    riverside, _ = clinics
    [message] = day0_texts(program, riverside, 1)
    Message.objects.filter(pk=message.pk).update(**fields)
    assert row(reconciliation_for_day(day=DAY, now=CHECKED), riverside).flags == {flag: 1}


def test_the_command_prints_a_table_or_json_and_exits_1_when_flagged(day_of_outcomes, clock):
    out = StringIO()
    with clock.at(CHECKED), pytest.raises(SystemExit) as exit_:
        call_command("reconcile", stdout=out)  # yesterday by default
    assert exit_.value.code == 1
    table = out.getvalue()
    assert "Messages planned for 2026-06-02 (each clinic's local day)" in table
    [line] = [line for line in table.splitlines() if line.startswith("Riverside Spine Clinic")]
    assert line.split()[4:14] == ["sms", "9", "3", "2", "1", "1", "1", "1", "0", "1"]
    assert "claim_past_lease 1, unknown_past_settle 1, pending_overdue 1" in line
    assert "FLAGGED" in table

    out = StringIO()
    with clock.at(CHECKED), pytest.raises(SystemExit):
        call_command("reconcile", "--date", "2026-06-02", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert (report["day"], report["flagged"], report["totals"]["planned"]) == ("2026-06-02", True, 10)


def test_a_clean_day_exits_0(day_of_outcomes, clock):
    Message.objects.filter(status__in=[S.UNKNOWN, S.PENDING, S.QUEUED]).update(
        status=S.CANCELLED, reason="cancelled: test")
    out = StringIO()
    with clock.at(CHECKED):
        call_command("reconcile", stdout=out)
    assert out.getvalue().rstrip().endswith("Nothing flagged.")


def test_a_bad_date_is_a_clear_error(db):
    with pytest.raises(CommandError, match="--date must be YYYY-MM-DD"):
        call_command("reconcile", "--date", "02/06/2026", stdout=StringIO())


def test_the_output_holds_counts_not_patients(day_of_outcomes):
    result = reconciliation_for_day(day=DAY, now=CHECKED)
    text = result.as_table() + json.dumps(result.as_dict())
    for private in ["Margaret", "Okafor", "202555", "example.com"]:
        assert private not in text


def test_the_daily_run_logs_counts_and_emails_operations_when_flagged(day_of_outcomes, settings, caplog, clock):
    settings.OPS_ALERT_EMAIL = ["ops@followup.example"]
    with clock.at(CHECKED), caplog.at_level(logging.INFO):
        assert reconcile_yesterday() is True
    assert "reconciliation 2026-06-02: planned=10 sent=4 delivered=3 failed=1" in caplog.text
    riverside = day_of_outcomes[0]
    assert (f"clinic {riverside.pk} sms flagged: claim_past_lease=1 unknown_past_settle=1 pending_overdue=1"
            in caplog.text)
    [email] = mail.outbox
    assert email.subject == "Reconciliation 2026-06-02: something does not add up or is stuck"
    assert "Riverside Spine Clinic" in email.body and "Margaret" not in email.body + caplog.text


def test_a_clean_daily_run_emails_nobody(db, settings):
    settings.OPS_ALERT_EMAIL = ["ops@followup.example"]
    assert reconciliation_run(day=DAY, now=CHECKED).flagged is False
    assert mail.outbox == []


def test_beat_runs_the_reconciliation_daily_after_every_zones_day_has_ended():
    entry = django_settings.CELERY_BEAT_SCHEDULE["reconcile-yesterday"]
    assert entry["task"] == "reminders.tasks.reconcile_yesterday"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({12}, {15})
