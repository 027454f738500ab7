"""
Programs and their steps come from the files under reminders/programs/: an edit
in the admin never reached the file and was lost (or kept, unseen) at the next
`load_programs`. The admin shows them read-only and says where they are changed.
"""

import html
from datetime import time, timedelta

import pytest
from django.urls import reverse

from reminders.models import Program, Step
from reminders.services.programs import PROGRAMS_DIR, program_load
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


def _step_post(program: Program, **changes) -> dict:
    """The program's change form as a browser would post it, every step's fields included."""
    data = {"name": program.name, "slug": program.slug, "kind": program.kind, "description": "Edited here",
            "is_active": "on", "steps-TOTAL_FORMS": str(program.steps.count()),
            "steps-INITIAL_FORMS": str(program.steps.count()), "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000"}
    for index, step in enumerate(program.steps.order_by("offset_days", "send_time")):
        data.update({f"steps-{index}-id": step.pk, f"steps-{index}-program": program.pk,
                     f"steps-{index}-key": step.key, f"steps-{index}-offset_days": step.offset_days,
                     f"steps-{index}-send_time": step.send_time.strftime("%H:%M"),
                     f"steps-{index}-channel": step.channel, f"steps-{index}-topic": step.topic,
                     f"steps-{index}-template": step.template, f"steps-{index}-max_lateness": "12:00:00"})
    return {**data, **changes}


def test_a_posted_step_edit_changes_nothing(admin_client, program):
    before = list(Step.objects.order_by("pk").values())
    url = reverse("admin:reminders_program_change", args=[program.pk])
    response = admin_client.post(url, _step_post(program, **{
        "name": "Renamed here", "slug": "renamed", "steps-0-offset_days": "99", "steps-0-send_time": "03:00",
        "steps-0-template": "test/both", "steps-1-DELETE": "on", "steps-TOTAL_FORMS": "4",
        "steps-3-key": "added-here", "steps-3-offset_days": "5", "steps-3-send_time": "10:00",
        "steps-3-channel": "sms", "steps-3-topic": "pain", "steps-3-template": "test/hello"}))
    assert response.status_code == 302, html.unescape(response.content.decode())[:3000]
    assert list(Step.objects.order_by("pk").values()) == before
    program.refresh_from_db()
    assert (program.name, program.slug, program.description) == ("Program test-procedure", "test-procedure", "")


def test_only_whether_new_patients_may_be_enrolled_is_changed_here(admin_client, program):
    url = reverse("admin:reminders_program_change", args=[program.pk])
    data = _step_post(program)
    del data["is_active"]
    assert admin_client.post(url, data).status_code == 302
    program.refresh_from_db()
    assert not program.is_active


def test_the_page_says_the_file_is_where_steps_are_changed(admin_client, coord_a_client, program):
    for client in (admin_client, coord_a_client):
        page = html.unescape(client.get(reverse("admin:reminders_program_change", args=[program.pk]))
                             .content.decode())
        assert "Loaded from its file under reminders/programs/ by “python manage.py load_programs”" in page
        assert "the name, description and steps are changed there, not on this page" in page
        assert 'name="steps-0-offset_days"' not in page and 'name="name"' not in page
        assert "Steps, as the program's file has them (change them there)" in page
        assert "<p>day0</p>" in page and "<p>10:00</p>" in page  # the steps are shown
    assert admin_client.get(reverse("admin:reminders_program_add")).status_code == 403


def test_a_loaded_program_stays_as_its_file_says(admin_client, db):
    """What the issue saw: the edit was lost at the next load. Now there is none to lose."""
    [loaded] = [program_load(path=path).program for path in sorted(PROGRAMS_DIR.glob("after_procedure.toml"))]
    step = loaded.steps.filter(relative_to="").order_by("offset_days", "send_time").first()
    admin_client.post(reverse("admin:reminders_program_change", args=[loaded.pk]),
                      _step_post(loaded, **{"steps-0-offset_days": "40", "steps-0-send_time": "03:00"}))
    step.refresh_from_db()
    assert (step.offset_days, step.send_time) != (40, time(3, 0))
    assert program_load(path=PROGRAMS_DIR / "after_procedure.toml").changed is False
    step.refresh_from_db()
    assert step.max_lateness == timedelta(hours=24) and (step.offset_days, step.send_time) == (0, time(18, 0))


def test_the_steps_say_when_they_go_and_what_stops_them(admin_client, coord_a_client, db):
    """A physician reviewing a program sees the reminders timed from an appointment, what recorded
    milestone stops each step, and what a check-in's answer records; the timeline shows the same."""
    [loaded] = [program_load(path=path).program for path in sorted(PROGRAMS_DIR.glob("after_diagnosis.toml"))]
    for client in (admin_client, coord_a_client):
        page = html.unescape(client.get(reverse("admin:reminders_program_change", args=[loaded.pk]))
                             .content.decode())
        for column, header in (("when", "When"), ("stops_at", "Stops once recorded"),
                               ("answers_record", "Answer records")):
            assert f'<th class="column-{column}">{header}' in page, header
        assert "<p>1 day before consultation booked</p>" in page
        assert "<p>1 day before bone density scan booked</p>" in page
        assert "<p>Consultation booked, Consultation attended</p>" in page
        assert "<p>1: Consultation attended</p>" in page
        # The program's own days first, then the reminders.
        assert page.index("<p>Day 365</p>") < page.index("<p>1 day before consultation booked</p>")

        timeline = html.unescape(client.get(reverse("admin:reminders_program_timeline", args=[loaded.pk]))
                                 .content.decode())
        assert "1 day before consultation booked (sample appointment " in timeline
        assert "stops once recorded: consultation booked, consultation attended" in timeline
        assert "answer records: 1: consultation attended" in timeline
