"""The program definitions: valid, stable, loaded idempotently and versioned."""

import re
import tomllib
from datetime import date, datetime, time
from io import StringIO

from django.core.management import call_command

from reminders.models import AnswerKind, Message, MessageStatus, Program, Step
from reminders.rendering import render_message
from reminders.services.programs import PROGRAMS_DIR, program_load, programs_load
from tests.factories import EnrollmentFactory
from tests.moments import ENROLLED_AT

from .conftest import program_files

# Step keys of the first released version. A step with messages can never be removed,
# so these keys stay in the files for good.
FIRST_VERSION_KEYS = {
    "after-procedure": {
        "day00-welcome", "day00-home-care-guide", "day01-get-moving", "day02-warning-signs",
        "day03-pain-check", "day07-followup-visit", "day14-bone-health", "day30-bone-scan",
        "day45-exercise", "day90-bone-medicine", "day180-keep-going", "day365-yearly-review",
    },
    "after-diagnosis": {
        "day00-welcome", "day00-home-care-guide", "day01-book-specialist", "day03-keep-moving",
        "day05-pain-medicine", "day07-specialist-check", "day14-pain-check", "day25-followup-visit",
        "day42-six-week-check", "day60-bone-scan", "day90-review-medicine", "day120-falls-exercise",
        "day180-keep-going", "day365-yearly-review",
    },
}
TOPICS = {"specialist_consultation", "early_mobilization", "warning_signs", "wound_care", "pain",
          "bone_health", "medication", "falls"}
# The word that starts the key of a step timed from an appointment.
APPOINTMENT_KEY_PREFIXES = {"consultation_booked": "consultation", "dxa_booked": "dxa"}
# What escalate_when may say, per kind of answer.
ESCALATION_RULES = {
    AnswerKind.PAIN_SCORE: r"(>=|<=|>|<)(10|[0-9])",
    AnswerKind.YES_NO: r"yes|no",
    AnswerKind.CHOICE_1_3: r"[1-3](,[1-3])*",
}


def raw_steps():
    for path in sorted(PROGRAMS_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for raw in data["steps"]:
            yield data["slug"], raw


def test_no_step_of_the_first_version_was_dropped():
    keys = {}
    for slug, raw in raw_steps():
        keys.setdefault(slug, set()).add(raw["key"])
    for slug, first in FIRST_VERSION_KEYS.items():
        assert first <= keys[slug], f"{slug} lost {sorted(first - keys[slug])}"


def test_every_step_is_complete_and_valid():
    problems = []
    for program, steps in program_files():
        keys = [s.key for s in steps]
        assert len(keys) == len(set(keys)), f"{program.slug}: duplicate keys"
        program.full_clean(exclude=["slug"])  # the slug is unique in the database, not here
        for step in steps:
            try:
                step.full_clean(exclude=["program"])
            except Exception as exc:
                problems.append(f"{program.slug}/{step.key}: {exc}")
            if step.topic not in TOPICS:
                problems.append(f"{program.slug}/{step.key}: topic {step.topic}")
            if step.relative_to:
                # Timed from an appointment: the key names the appointment, not a day of the program.
                prefix = APPOINTMENT_KEY_PREFIXES[step.relative_to]
                if not re.fullmatch(rf"{prefix}-[a-z0-9-]+", step.key):
                    problems.append(f"{program.slug}/{step.key}: the key does not start with {prefix}-")
            else:
                named_day = re.fullmatch(r"day\d{2,3}-[a-z0-9-]+", step.key)
                if not named_day or int(step.key[3:6].rstrip("-")) != step.offset_days:
                    problems.append(f"{program.slug}/{step.key}: the key does not name day {step.offset_days}")
            if step.max_lateness is None or step.max_lateness.total_seconds() <= 0:
                problems.append(f"{program.slug}/{step.key}: needs a late policy")
    assert not problems, "\n".join(problems)


def test_check_ins_say_when_to_escalate_and_what_to_do():
    problems = []
    for slug, raw in raw_steps():
        asks, when, note = raw.get("asks", ""), raw.get("escalate_when", ""), raw.get("escalation_note", "")
        where = f"{slug}/{raw['key']}"
        if not asks:
            if when or note:
                problems.append(f"{where}: escalation without a question")
            continue
        if asks not in ESCALATION_RULES:
            problems.append(f"{where}: unknown asks {asks!r}")
        elif not re.fullmatch(ESCALATION_RULES[asks], when):
            problems.append(f"{where}: escalate_when {when!r} does not fit {asks}")
        if not 10 <= len(note) <= 200:
            problems.append(f"{where}: escalation_note must say what the coordinator does (10-200 chars)")
        if "sms" not in raw["channel"] and raw["channel"] != "both":
            problems.append(f"{where}: a check-in must go by SMS to be answered")
    assert not problems, "\n".join(problems)


def test_at_most_one_sms_a_day_and_none_in_quiet_hours():
    """On the program's own days; an appointment reminder comes on its appointment's eve, whatever day that is."""
    for program, steps in program_files():
        sms_days = [s.offset_days for s in steps if "sms" in s.channels() and not s.relative_to]
        assert len(sms_days) == len(set(sms_days)), f"{program.slug}: two SMS on one day"
        for step in steps:
            assert time(8, 0) <= step.send_time < time(21, 0), f"{program.slug}/{step.key}"


def test_every_booked_appointment_is_reminded_the_evening_before_and_never_on_the_day():
    """A reminder the evening before each booked consultation and bone density scan, by SMS, whose
    late policy ends before the default quiet hours (21:00), so a late one is skipped, not sent on the day."""
    for program, steps in program_files():
        reminders = {s.relative_to: s for s in steps if s.relative_to}
        assert set(reminders) == {"consultation_booked", "dxa_booked"}, program.slug
        for step in reminders.values():
            where = f"{program.slug}/{step.key}"
            assert (step.offset_days, step.offset_hours, step.send_time) == (-1, None, time(18, 0)), where
            assert step.channel == "sms" and not step.asks, where
            latest = datetime.combine(date.min, step.send_time) + step.max_lateness
            assert latest.time() < time(21, 0) and latest.date() == date.min, where


def test_the_programs_cover_a_year_and_the_issues_milestones():
    by_slug = {p.slug: steps for p, steps in program_files()}
    for slug, steps in by_slug.items():
        days = {s.offset_days for s in steps}
        assert 0 in days and 365 in days, slug
        topics = {s.topic for s in steps}
        assert {"warning_signs", "early_mobilization", "pain", "bone_health", "medication", "falls"} <= topics
    procedure = {s.key: s for s in by_slug["after-procedure"]}
    assert procedure["day02-warning-signs"].topic == "warning_signs"
    assert procedure["day03-pain-check"].asks == "choice_1_3"
    assert any(s.topic == "wound_care" for s in procedure.values())
    diagnosis = {s.key: s for s in by_slug["after-diagnosis"]}
    pain_checks = sorted(s.offset_days for s in diagnosis.values() if s.asks == "pain_score")
    assert pain_checks == [14, 28]  # at 2 and 4 weeks
    assert diagnosis["day01-book-specialist"].topic == "specialist_consultation"
    # Bone density within 12 weeks and medicine within 16 weeks are asked about before then.
    for steps in by_slug.values():
        assert any(s.topic == "bone_health" and s.asks and s.offset_days < 84 for s in steps)
        assert any(s.topic == "medication" and s.asks and s.offset_days < 112 for s in steps)


def test_loading_the_default_programs_twice_changes_nothing(db):
    first = programs_load()
    snapshot = list(Step.objects.order_by("pk").values())
    again = programs_load()
    assert [r.changed for r in first] == [True, True]
    assert [r.changed for r in again] == [False, False]
    assert [r.program.version for r in again] == [1, 1]
    assert list(Step.objects.order_by("pk").values()) == snapshot
    counts = {p.slug: p.steps.count() for p in Program.objects.all()}
    assert counts == {p.slug: len(steps) for p, steps in program_files()}


def test_the_loader_keeps_the_check_in_fields(db):
    programs_load()
    for slug, raw in raw_steps():
        step = Step.objects.get(program__slug=slug, key=raw["key"])
        assert (step.asks, step.escalate_when, step.escalation_note) == (
            raw.get("asks", ""), raw.get("escalate_when", ""), raw.get("escalation_note", ""))
    step = Step.objects.get(program__slug="after-diagnosis", key="day14-pain-check")
    assert (step.asks, step.escalate_when) == ("pain_score", ">=7")


def test_check_in_rules_escalate_the_answers_the_texts_describe():
    """The triage reads the replies the texts ask for, and the rule picks the worrying ones."""
    from reminders.triage import parse_answer, rule_matches

    for slug, raw in raw_steps():
        asks, rule = raw.get("asks"), raw.get("escalate_when")
        if not asks:
            continue
        if asks == "pain_score":
            assert parse_answer("8", asks=asks) == "8"
            assert rule_matches(rule, "7") and rule_matches(rule, "10"), raw["key"]
            assert not rule_matches(rule, "3"), raw["key"]
        elif asks == "choice_1_3":
            assert parse_answer("2", asks=asks) == "2"
            assert not rule_matches(rule, "1"), f"{slug}/{raw['key']}: answer 1 is the good one"
            assert rule_matches(rule, "2"), f"{slug}/{raw['key']}"


TINY = '''
slug = "tiny"
name = "Tiny program"
kind = "after_procedure"

[[steps]]
key = "day00-hello"
day = 0
time = "10:00"
channel = "sms"
topic = "warning_signs"
template = "TEMPLATE"
max_lateness_hours = 6

[[steps]]
key = "day01-next"
day = 1
time = "10:00"
channel = "sms"
topic = "early_mobilization"
template = "TEMPLATE"
max_lateness_hours = 6
'''


def test_a_changed_program_bumps_its_version_and_pending_messages_render_from_the_current_text(
    db, tmp_path, patient
):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.replace("TEMPLATE", "test/hello"))
    program = program_load(path=path).program
    enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    sent = enrollment.messages.get(step__key="day00-hello")
    sent.status, sent.body = MessageStatus.SENT, render_message(message=sent).text
    sent.save()
    pending = enrollment.messages.get(step__key="day01-next")
    assert "Hello" in render_message(message=pending).text

    path.write_text(TINY.replace("TEMPLATE", "test/both"))
    result = program_load(path=path)
    assert (result.changed, result.program.version) == (True, 2)
    assert program_load(path=path).changed is False

    pending = Message.objects.get(pk=pending.pk)
    assert pending.step.template == "test/both"  # the same step row, now with the new text
    assert "see your email" in render_message(message=pending).text
    sent.refresh_from_db()
    assert "Hello" in sent.body and sent.status == MessageStatus.SENT  # what was sent stays as sent
    assert enrollment.messages.count() == 2


def test_load_programs_command_reports_unchanged_on_a_second_run(db):
    call_command("load_programs", stdout=StringIO())
    out = StringIO()
    call_command("load_programs", stdout=out)
    assert out.getvalue().count("unchanged") == 2
