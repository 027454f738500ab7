"""program_preview and the render_programs command: everything rendered, nothing written."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reminders.models import Clinic, Enrollment, Message, Patient, Program
from reminders.selectors.programs import PreviewRow, program_preview, sample_clinic
from reminders.services.programs import programs_load

ROW_KEYS = {"program", "step", "day", "time", "topic", "channel", "language", "is_first_message",
            "asks", "subject", "text", "encoding", "segments", "characters", "send_at",
            "when", "relative_to", "appointment", "until", "records"}


@pytest.fixture
def loaded(db):
    programs_load()
    return {p.slug: p for p in Program.objects.all()}


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries
            if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_preview_renders_every_step_and_channel_without_writing(loaded):
    program = loaded["after-procedure"]
    expected = {(s.key, c) for s in program.steps.all() for c in s.channels()}
    with CaptureQueriesContext(connection) as queries:
        rows = program_preview(program=program, language="en")
    assert not writes(queries.captured_queries)
    assert len(queries.captured_queries) <= 2
    assert {(r.step, r.channel) for r in rows} == expected and len(rows) == len(expected)
    assert [(r.day, r.time) for r in rows] == sorted((r.day, r.time) for r in rows)  # in the order they go out
    assert all(isinstance(r, PreviewRow) for r in rows)
    assert [r.is_first_message for r in rows].count(True) == 1 and rows[0].is_first_message
    for row in rows:
        assert row.text.startswith(sample_clinic().name) or row.channel == "email"
        if row.channel == "sms":
            assert row.encoding == "GSM-7" and row.segments in (1, 2) and not row.subject
        else:
            assert row.subject and row.html.startswith("<!DOCTYPE html>") and row.encoding is None
    assert Clinic.objects.count() == Patient.objects.count() == Enrollment.objects.count() == 0
    assert Message.objects.count() == 0


def test_preview_for_a_real_patient_uses_their_clinic_and_leaves_them_untouched(loaded, patient):
    patient.discreet = True
    patient.save()
    rows = program_preview(program=loaded["after-diagnosis"], language="es", patient=patient)
    patient.refresh_from_db()
    assert patient.language == "en"  # the preview's language is not saved
    sms = [r for r in rows if r.channel == "sms"]
    assert all(r.text.startswith("Riverside Spine Clinic:") for r in sms)
    assert all(r.language == "es" for r in rows)
    assert not any("fractura" in r.text for r in sms)  # discreet, from the patient


def test_preview_dates_each_message_in_the_patients_zone(loaded, make_patient):
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    patient = make_patient(time_zone="Europe/Madrid")
    rows = program_preview(program=loaded["after-procedure"], language="en", patient=patient,
                           anchor_date=date(2026, 3, 27))
    by_step = {r.step: r for r in rows}
    # Day 2 is after the spring change in Madrid: still 10:00 local.
    assert by_step["day02-warning-signs"].send_at == datetime(2026, 3, 29, 10, 0, tzinfo=ZoneInfo("Europe/Madrid"))
    assert by_step["day00-welcome"].send_at.hour == 18
    assert program_preview(program=loaded["after-procedure"], language="en")[0].send_at is None


def test_preview_can_render_a_later_step_as_the_first_sms(loaded):
    rows = program_preview(program=loaded["after-procedure"], language="en",
                           first_sms_step="day03-pain-check")
    first = [r for r in rows if r.is_first_message]
    assert [r.step for r in first] == ["day03-pain-check"]
    assert "HELP" in first[0].text and "24/7" in first[0].text


def test_render_programs_json_lists_every_message_in_every_language(loaded):
    out = StringIO()
    call_command("render_programs", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert rows and all(set(row) == ROW_KEYS for row in rows)
    expected = {
        (p.slug, s.key, c, lang)
        for p in loaded.values() for s in p.steps.all() for c in s.channels() for lang in ("en", "es")
    }
    assert {(r["program"], r["step"], r["channel"], r["language"]) for r in rows} == expected
    assert len(rows) == len(expected)
    for row in rows:
        if row["channel"] == "sms":
            assert row["encoding"] in ("GSM-7", "UCS-2") and row["segments"] >= 1 and row["subject"] == ""
        else:
            assert row["encoding"] is None and row["segments"] is None and row["subject"]
        assert isinstance(row["day"], int) and len(row["time"]) == 5


def test_render_programs_filters_and_html(loaded):
    out = StringIO()
    call_command("render_programs", "--json", "--program", "after-diagnosis", "--language", "es",
                 "--discreet", "--html", stdout=out)
    rows = json.loads(out.getvalue())
    assert {r["program"] for r in rows} == {"after-diagnosis"} and {r["language"] for r in rows} == {"es"}
    assert all("html" in r for r in rows)
    assert not any("columna" in r["text"] for r in rows if r["channel"] == "sms")
    with pytest.raises(CommandError, match="no such program"):
        call_command("render_programs", "--program", "nope", stdout=StringIO())


def test_render_programs_readable_listing(loaded):
    out = StringIO()
    call_command("render_programs", "--language", "en", stdout=out)
    text = out.getvalue()
    assert "== after-procedure · en ==" in text and "== after-diagnosis · en ==" in text
    assert "GSM-7, 2 segment(s)" in text or "GSM-7, 1 segment(s)" in text
    assert "Subject: " in text and "first SMS" in text


def test_render_programs_from_files_needs_no_loaded_program(db):
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("render_programs", "--files", "--json", "--language", "en", stdout=out)
    assert not writes(queries.captured_queries)
    rows = json.loads(out.getvalue())
    assert {r["program"] for r in rows} == {"after-procedure", "after-diagnosis"}
    assert Program.objects.count() == 0
    asks = {(r["step"], r["asks"]) for r in rows if r["asks"]}
    assert ("day14-pain-check", "pain_score") in asks  # read from the file, loader or not


def test_render_programs_says_when_nothing_is_loaded(db):
    err = StringIO()
    call_command("render_programs", stdout=StringIO(), stderr=err)
    assert "load_programs" in err.getvalue()


def test_preview_renders_the_reminders_for_a_sample_appointment_in_their_place(loaded):
    """The evening before a consultation on the clinic's target day and a scan at 6 weeks, both at 10:30,
    at the sample clinic's address."""
    from datetime import date

    rows = program_preview(program=loaded["after-diagnosis"], language="en", anchor_date=date(2026, 6, 2))
    steps = [r.step for r in rows]
    consultation = rows[steps.index("consultation-evening-before")]
    scan = rows[steps.index("dxa-evening-before")]
    assert (consultation.day, consultation.time, consultation.send_at.date()) == (13, "18:00", date(2026, 6, 15))
    assert (consultation.when, consultation.relative_to, consultation.appointment) == (
        "1 day before consultation booked", "consultation_booked", "2026-06-16 10:30")
    assert "16 June at 10:30 AM, at 1250 Riverside Avenue, Suite 400." in consultation.text
    assert (scan.day, scan.appointment) == (41, "2026-07-14 10:30") and "14 July at 10:30 AM" in scan.text
    assert steps.index("day07-specialist-check") < steps.index("consultation-evening-before") < steps.index(
        "day14-pain-check")
    assert steps.index("day28-pain-check") < steps.index("dxa-evening-before") < steps.index("day42-six-week-check")
    assert not consultation.is_first_message and not scan.is_first_message
    welcome = rows[0]
    assert (welcome.step, welcome.when, welcome.relative_to, welcome.until) == ("day00-welcome", "Day 0", "", [])
    booking = rows[steps.index("day01-book-specialist")]
    assert booking.until == ["consultation_booked", "consultation_attended"]
    check = rows[steps.index("day07-specialist-check")]
    assert check.records == {"1": "consultation_attended"}


def test_a_reminder_on_its_own_is_not_taken_for_the_first_text(loaded):
    """An unsaved reminder timed "day -1" (or 0) from an appointment never opens the enrollment."""
    from reminders.rendering import is_first_sms

    program = loaded["after-procedure"]
    for step in program.steps.exclude(relative_to=""):
        for offset in (-1, 0):
            step.offset_days = offset
            message = Message(enrollment=Enrollment(program=program), step=step, channel="sms")
            assert is_first_sms(message=message) is False
    welcome = Message(enrollment=Enrollment(program=program), step=program.steps.get(key="day00-welcome"),
                      channel="sms")
    assert is_first_sms(message=welcome) is True


def test_render_programs_says_when_a_reminder_goes_and_what_stops_a_step(loaded):
    out = StringIO()
    call_command("render_programs", "--language", "es", "--program", "after-procedure", stdout=out)
    text = out.getvalue()
    assert "1 day before consultation booked (sample appointment 2026-" in text
    assert "1 day before bone density scan booked" in text
    assert "stops at: consultation booked, consultation attended" in text
    assert "answer 1 records: bone density scan done" in text
    assert "Su visita de control es el" in text
