"""`manage.py load_programs` and the loader behind it."""

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from reminders.models import Program
from reminders.services.programs import PROGRAMS_DIR, program_load

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


LISTENING_STEPS = '''
[[steps]]
key = "day1-check"
day = 1
time = "10:00"
channel = "sms"
topic = "specialist_consultation"
template = "test/hello"
asks = "choice_1_3"
until = ["consultation_booked", "consultation_attended"]
records = { 1 = "consultation_attended" }

[[steps]]
key = "evening-before"
relative_to = "consultation_booked"
day = -1
time = "18:00"
channel = "sms"
topic = "specialist_consultation"
template = "test/appointment"

[[steps]]
key = "two-hours-before"
relative_to = "consultation_booked"
hours = -2
channel = "sms"
topic = "specialist_consultation"
template = "test/appointment"
'''


def test_steps_may_listen_to_milestones_and_be_timed_from_an_appointment(db, tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(PROGRAM_FILE + LISTENING_STEPS)
    steps = {step.key: step for step in program_load(path=path).program.steps.all()}

    assert steps["day1-check"].until == ["consultation_booked", "consultation_attended"]
    assert steps["day1-check"].answer_milestones == {"1": "consultation_attended"}
    assert (steps["evening-before"].relative_to, steps["evening-before"].offset_days) == ("consultation_booked", -1)
    assert steps["evening-before"].when == "1 day before consultation booked"
    assert (steps["two-hours-before"].offset_hours, steps["two-hours-before"].when) == (
        -2, "2 hours before consultation booked")


@pytest.mark.parametrize(("change", "wrong"), [
    ('until = ["consultation_booked", "consultation_attended"]', 'until = ["lunch"]'),
    ('records = { 1 = "consultation_attended" }', 'records = { 1 = "lunch" }'),
    ('relative_to = "consultation_booked"\nday = -1', 'day = -1'),
    ('relative_to = "consultation_booked"\nhours = -2', 'hours = -2'),
])
def test_a_step_that_listens_to_what_does_not_exist_is_refused(db, tmp_path, change, wrong):
    path = tmp_path / "tiny.toml"
    path.write_text(PROGRAM_FILE + LISTENING_STEPS.replace(change, wrong, 1))
    with pytest.raises(ValidationError):
        program_load(path=path)
    assert not Program.objects.filter(slug="tiny").exists()
