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

