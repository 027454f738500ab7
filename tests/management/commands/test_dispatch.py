"""`manage.py dispatch`: one dispatch cycle in the foreground."""

import json
from datetime import date, datetime, timezone
from io import StringIO

import time_machine
from django.core.management import call_command

from reminders.services.enrollments import enrollment_create

UTC = timezone.utc


def test_dispatch_prints_a_json_summary_as_its_last_line(patient, program, sms_outbox):
    with time_machine.travel(datetime(2026, 6, 2, 13, 0, tzinfo=UTC), tick=False):
        enrollment_create(patient=patient, program=program, anchor_event="pvp", anchor_date=date(2026, 6, 2))
    out = StringIO()
    with time_machine.travel(datetime(2026, 6, 2, 14, 0, 5, tzinfo=UTC), tick=False):
        call_command("dispatch", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary == {"claimed": 1, "sent": 1, "failed": 0, "skipped": 0, "deferred": 0,
                       "retrying": 0, "unknown": 0, "cancelled": 0, "recovered": 0}
    assert len(sms_outbox) == 1
