"""`manage.py dispatch`: one dispatch cycle in the foreground."""

import json
from datetime import timedelta
from io import StringIO

from django.core.management import call_command

from tests.moments import DAY0_DUE


def test_dispatch_prints_a_json_summary_as_its_last_line(enrollment, sms_outbox, clock):
    out = StringIO()
    with clock.at(DAY0_DUE + timedelta(seconds=5)):
        call_command("dispatch", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary == {"claimed": 1, "sent": 1, "failed": 0, "skipped": 0, "deferred": 0,
                       "retrying": 0, "unknown": 0, "cancelled": 0, "recovered": 0}
    assert len(sms_outbox) == 1
