import json
from datetime import date, datetime, timezone
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from reminders.models import Enrollment, Message, Program
from reminders.services.enrollments import enrollment_create
from reminders.services.programs import PROGRAMS_DIR, program_load

UTC = timezone.utc

PROGRAM_FILE = '''
slug = "tiny"
name = "Tiny program"
kind = "after_procedure"

[[steps]]
key = "day0"
day = 0
time = "10:00"
channel = "sms"
topic = "warning_signs"
template = "test/hello"
max_lateness_hours = 6
'''


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


def test_loading_a_program_is_idempotent_and_versioned(db, tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(PROGRAM_FILE)
    first = program_load(path=path)
    again = program_load(path=path)
    assert (first.changed, again.changed, again.program.version) == (True, False, 1)

    path.write_text(PROGRAM_FILE.replace('time = "10:00"', 'time = "11:00"'))
    changed = program_load(path=path)
    assert (changed.changed, changed.program.version) == (True, 2)
    assert Program.objects.get(slug="tiny").steps.get().send_time.hour == 11


def test_the_default_programs_load_and_every_template_exists(db):
    from reminders.models import Channel
    from reminders.rendering import _template_path

    call_command("load_programs", stdout=StringIO())
    kinds = set(Program.objects.values_list("kind", flat=True))
    assert kinds == {"after_procedure", "after_diagnosis"}
    for program in Program.objects.all():
        assert program.steps.count() >= 8
        for step in program.steps.all():
            parts = {Channel.SMS: ["sms.txt"], Channel.EMAIL: ["subject.txt", "body.txt", "body.html"]}
            for channel in step.channels():
                for part in parts[channel]:
                    assert _template_path(language="en", template=step.template, part=part, engine=None)
    assert sorted(p.name for p in PROGRAMS_DIR.glob("*.toml")) == ["after_diagnosis.toml", "after_procedure.toml"]


def test_seed_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=StringIO())
    assert not Enrollment.objects.exists()


def test_seed_demo_leaves_an_existing_admin_password_alone(db, settings, django_user_model):
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    settings.DEBUG = True
    django_user_model.objects.create_superuser(username="admin", password="their-own-long-password")
    call_command("load_programs", stdout=StringIO())
    out = StringIO()
    call_command("seed_demo", stdout=out)
    request = RequestFactory().post("/admin/login/")
    assert authenticate(request, username="admin", password="their-own-long-password")
    assert not authenticate(request, username="admin", password="demo-pass-123")
    assert "left as they were (their own password): admin" in out.getvalue()


def test_seed_demo_makes_logins_and_messages_due_within_a_minute(db, settings):
    from django.contrib.auth import authenticate
    from django.test import RequestFactory
    from django.utils import timezone as djtz

    settings.DEBUG = True
    call_command("load_programs", stdout=StringIO())
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())  # again: resets, never duplicates
    assert "coord-a" in out.getvalue()
    for username in ("admin", "coord-a", "coord-b"):
        # django-axes checks every login against its lockouts, so it needs the request.
        assert authenticate(RequestFactory().post("/admin/login/"), username=username, password="demo-pass-123")
    now = djtz.now()
    due_soon = Message.objects.filter(status="pending", due_at__lte=now + djtz.timedelta(minutes=1))
    assert due_soon.count() >= 4
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"active", "paused", "cancelled"}
