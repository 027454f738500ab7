"""
The rules every message obeys, checked over every program, step, channel and language,
rendered with the longest realistic clinic name and settings, long accented first names,
discreet mode on and off, and every SMS both as a later text and as the enrollment's first.

Each test collects every offending message and reports them all at once.
"""

import html as html_lib
import re
from pathlib import Path

import pytest
from django.conf import settings

from reminders.sms_encoding import GSM7, non_gsm7_characters, sms_cost

from .conftest import LANGUAGES, program_files
from .readability import reading_grade, spanish_reading_ease
from .rules import (
    CLINIC_TODAY_SIGNS,
    DIAGNOSIS_WORDS,
    DOSES,
    EMERGENCY_SIGNS,
    NOW,
    PAIN_PROMISES,
    SPANISH_MISSING_ACCENTS,
    TODAY,
    email_units,
    found,
    sms_units,
)

MAX_GRADE = 7.0
MIN_SPANISH_EASE = 70.0
TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates" / "messages"
PARTS = {"sms": ["sms.txt"], "email": ["subject.txt", "body.txt", "body.html"]}


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_every_template_exists_in_every_language_and_none_is_orphaned():
    missing, referenced = [], set()
    for _, steps in program_files():
        for step in steps:
            referenced.add(step.template)
            for channel in step.channels():
                for part in PARTS[channel]:
                    for language in LANGUAGES:
                        path = TEMPLATES_DIR / language / step.template / part
                        if not path.is_file():
                            missing.append(str(path.relative_to(TEMPLATES_DIR)))
    assert not missing, report(missing)
    on_disk = {
        str(folder.relative_to(TEMPLATES_DIR / language))
        for language in LANGUAGES
        for folder in (TEMPLATES_DIR / language).glob("after_*/*")
        if folder.is_dir()
    }
    assert on_disk == referenced, f"template folders no step uses: {sorted(on_disk - referenced)}"


def test_english_sms_are_gsm7_and_fit_two_segments(sms_cases):
    problems = []
    for case in sms_cases:
        if case.language != "en":
            continue
        cost = sms_cost(case.text)
        if cost.encoding != GSM7:
            problems.append(f"{case}: UCS-2 because of {non_gsm7_characters(case.text)}")
        elif cost.segments > 2:
            problems.append(f"{case}: {cost.units} septets, {cost.segments} segments: {case.text}")
    assert not problems, report(problems)


def test_spanish_sms_fit_two_gsm7_or_three_ucs2_segments(sms_cases):
    problems = []
    for case in sms_cases:
        if case.language != "es":
            continue
        cost = sms_cost(case.text)
        limit = 2 if cost.encoding == GSM7 else 3
        if cost.segments > limit:
            problems.append(f"{case}: {cost.encoding} {cost.units} units, {cost.segments} segments"
                            f" (non-GSM-7: {non_gsm7_characters(case.text)}): {case.text}")
    assert not problems, report(problems)


def test_sms_never_carry_the_patients_name(sms_cases):
    """A name such as María or Zoë would switch a text to UCS-2 and halve its length."""
    problems = [f"{case}: {case.text}" for case in sms_cases if "Zoë" in case.text or "María" in case.text]
    assert not problems, report(problems)


def test_english_reading_grade_is_at_most_7(cases):
    """Flesch-Kincaid grade (textstat), with the clinic's name and address and phone numbers replaced."""
    pytest.importorskip("textstat")
    problems = []
    for case in cases:
        if case.language != "en":
            continue
        text = case.text if case.channel == "sms" else case.text.split("\n--\n")[0]
        grade = reading_grade(text, names=[case.clinic_name, case.clinic_address, "Zoë-Siobhán Margaret"])
        if grade > MAX_GRADE:
            problems.append(f"{case}: grade {grade:.1f}: {text}")
    assert not problems, report(problems)


def test_spanish_reads_fairly_easy(cases):
    """Fernández-Huerta reading ease of 70 or more ("fairly easy"), names, addresses and numbers replaced."""
    pytest.importorskip("textstat")
    problems = []
    for case in cases:
        if case.language != "es" or case.clinic_kind != "long":
            continue
        text = case.text if case.channel == "sms" else case.text.split("\n--\n")[0]
        ease = spanish_reading_ease(text, names=[case.clinic_name, case.clinic_address, "María de los Ángeles"])
        if ease < MIN_SPANISH_EASE:
            problems.append(f"{case}: ease {ease:.0f}: {text}")
    assert not problems, report(problems)


def test_every_message_names_the_clinic(cases):
    problems = []
    for case in cases:
        if case.channel == "sms":
            if not case.text.startswith(case.clinic_name + ":"):
                problems.append(f"{case}: SMS does not start with the clinic's name")
        else:
            escaped = html_lib.escape(case.clinic_name)
            if case.clinic_name not in case.subject or case.clinic_name not in case.text or escaped not in case.html:
                problems.append(f"{case}: clinic missing from subject, text or HTML")
    assert not problems, report(problems)


INTRO = {
    "en": {"what": r"\btexts\b", "not watched": r"24/7|around the clock", "stop": r"\bSTOP\b", "help": r"\bHELP\b"},
    "es": {"what": r"\bmensajes\b", "not watched": r"24 horas", "stop": r"\bSTOP\b", "help": r"\bHELP\b"},
}


def test_the_first_sms_says_what_the_texts_are_and_how_to_get_help_or_stop(sms_cases):
    problems = []
    for case in sms_cases:
        if case.is_intro:
            missing = set(INTRO[case.language]) - found(INTRO[case.language], case.text)
            if case.emergency_number not in case.text:
                missing.add("emergency number")
            if missing:
                problems.append(f"{case}: intro lacks {sorted(missing)}: {case.text}")
        else:
            # A STOP reminder on every later text, but where the warning signs need every character.
            if case.step.topic != "warning_signs" and not re.search(r"\bSTOP\b", case.text):
                problems.append(f"{case}: no STOP reminder: {case.text}")
            if re.search(r"\bHELP\b|24/7|24 horas", case.text):
                problems.append(f"{case}: repeats the intro notice: {case.text}")
    assert not problems, report(problems)


def _units(case):
    return sms_units(case.text) if case.channel == "sms" else email_units(case.text)


def test_warning_signs_keep_call_emergency_now_apart_from_call_the_clinic_today(cases):
    """Every sentence (SMS) or paragraph (email) that names an emergency sign names all of them,
    with the emergency number and "now", and nothing of the call-the-clinic-today tier; one that
    names a call-today sign never sends the patient to the emergency number."""
    problems = []
    for case in cases:
        lang = case.language
        for unit in _units(case):
            emergency = found(EMERGENCY_SIGNS[lang], unit)
            today = found(CLINIC_TODAY_SIGNS[lang], unit)
            if emergency:
                if emergency != set(EMERGENCY_SIGNS[lang]):
                    problems.append(f"{case}: emergency signs split up, only {sorted(emergency)}: {unit!r}")
                if case.emergency_number not in unit or not re.search(NOW[lang], unit, re.I):
                    problems.append(f"{case}: emergency signs without 'call {case.emergency_number} now': {unit!r}")
                if today or re.search(TODAY[lang], unit, re.I):
                    problems.append(f"{case}: emergency and call-today signs mixed: {unit!r}")
            elif today and case.emergency_number in unit:
                problems.append(f"{case}: a call-today sign sent to the emergency number: {unit!r}")
    assert not problems, report(problems)


def _has_full_tier(case, signs: dict[str, str], *, need: set[str], marker: str, contact: str) -> bool:
    return any(
        need <= found(signs, unit) and re.search(marker, unit, re.I) and contact in unit
        for unit in _units(case)
    )


def test_warning_sign_messages_list_both_tiers_in_full(cases):
    """Warning-sign steps and the home-care guides list the whole emergency tier and the whole
    call-today tier (the wound after a procedure only). The intro texts keep the emergency tier
    whole and shorten the call-today tier to what fits beside the notice."""
    problems = []
    for case in cases:
        full_table = case.step.topic == "warning_signs" or case.step.template.endswith("day00_home_care_guide")
        if not full_table:
            continue
        lang = case.language
        if not _has_full_tier(case, EMERGENCY_SIGNS[lang], need=set(EMERGENCY_SIGNS[lang]),
                              marker=NOW[lang], contact=case.emergency_number):
            problems.append(f"{case}: no complete 'call emergency services now' tier")
        today_signs = set(CLINIC_TODAY_SIGNS[lang])
        if case.program.kind != "after_procedure":
            today_signs -= {"wound", "herida"}
        if case.step.key == "day00-welcome":
            continue  # the welcome: intro notice and the emergency tier only
        if case.is_intro:
            today_signs = {"fever", "fiebre"} & today_signs
        if not _has_full_tier(case, CLINIC_TODAY_SIGNS[lang], need=today_signs,
                              marker=TODAY[lang], contact=case.clinic_phone):
            problems.append(f"{case}: no complete 'call the clinic today' tier ({sorted(today_signs)})")
    assert not problems, report(problems)


def test_no_promise_of_pain_relief_and_no_doses(cases):
    problems = []
    for case in cases:
        for text in (case.subject, case.text):
            for pattern in (PAIN_PROMISES[case.language], DOSES):
                match = re.search(pattern, text, re.I)
                if match:
                    problems.append(f"{case}: {match.group(0)!r} in {text!r}")
    assert not problems, report(problems)


def test_discreet_sms_and_subjects_carry_no_diagnosis_or_procedure_words(cases):
    """Lock screens show SMS and email subjects; the clinic's own name and address are left aside."""
    problems = []
    for case in cases:
        if not case.discreet:
            continue
        texts = [case.text] if case.channel == "sms" else [case.subject]
        for text in texts:
            match = re.search(DIAGNOSIS_WORDS[case.language], _without_clinic(case, text), re.I)
            if match:
                problems.append(f"{case}: {match.group(0)!r}: {text}")
    assert not problems, report(problems)


def _without_clinic(case, text: str) -> str:
    """``text`` without the clinic's own name and address: the clinic's words, not the template's."""
    for own in (case.clinic_name, case.clinic_address):
        text = text.replace(own, "") if own else text
    return text


def test_discreet_mode_changes_the_sms_that_name_the_diagnosis(sms_cases):
    """The discreet branch exists where it matters: the words appear without it."""
    named = [c for c in sms_cases if not c.discreet and c.language == "en"
             and re.search(DIAGNOSIS_WORDS["en"], c.text.replace(c.clinic_name, ""), re.I)]
    assert len(named) >= 5


def test_spanish_is_spelt_with_its_accents(cases):
    problems = []
    for case in cases:
        if case.language != "es":
            continue
        for text in (case.subject, case.text):
            match = re.search(SPANISH_MISSING_ACCENTS, text, re.I)
            if match:
                problems.append(f"{case}: {match.group(0)!r} lacks its accent: {text}")
    assert not problems, report(problems)


def test_spanish_messages_are_not_english(cases):
    problems = [f"{case}: {case.text[:80]}" for case in cases if case.language == "es"
                and re.search(r"\b(the|your|call us|and)\b", _without_clinic(case, case.text))]
    assert not problems, report(problems)


def test_rendered_text_has_no_template_debris(cases):
    problems = []
    for case in cases:
        for text in (case.subject, case.text, case.html):
            match = re.search(r"\{\{|\{%|%\}|\}\}|\bNone\b|\.\.(?!\.)| ,| \.", text)
            if match:
                problems.append(f"{case}: {match.group(0)!r} in {text[:120]!r}")
        if case.channel == "sms" and "\n" in case.text:
            problems.append(f"{case}: SMS with a line break")
    assert not problems, report(problems)


def test_check_ins_ask_for_the_answer_they_escalate_on(sms_cases):
    asks_words = {
        "en": {"pain_score": [r"\b0\b", r"\b10\b"], "yes_no": [r"\bYES\b", r"\bNO\b"],
               "choice_1_3": [r"Reply 1\b", r"\b2\b"]},
        "es": {"pain_score": [r"\b0\b", r"\b10\b"], "yes_no": [r"\bSÍ\b", r"\bNO\b"],
               "choice_1_3": [r"Responda 1\b", r"\b2\b"]},
    }
    problems = []
    for case in sms_cases:
        asks = case.step.asks
        if not asks:
            if re.search(r"Reply (1|YES|with)|Responda (1|SÍ|con)", case.text):
                problems.append(f"{case}: asks for a reply but the step has no 'asks'")
            continue
        needed = list(asks_words[case.language][asks])
        if asks == "choice_1_3" and "3" in case.step.escalate_when:
            needed.append(r"\b3\b")
        for pattern in needed:
            if not re.search(pattern, case.text):
                problems.append(f"{case}: asks {asks} but lacks {pattern}: {case.text}")
    assert not problems, report(problems)


def test_email_html_says_what_the_text_body_says(email_cases):
    problems = []
    for case in email_cases:
        visible = html_lib.unescape(re.sub(r"<[^>]+>", " ", case.html))
        visible = " ".join(visible.split())
        for line in case.text.split("\n--\n")[0].splitlines():
            line = " ".join(line.removeprefix("- ").split())
            if line and line not in visible:
                problems.append(f"{case}: HTML lacks {line!r}")
    assert not problems, report(problems)


def test_emails_offer_the_unsubscribe_link_when_there_is_one(email_cases):
    problems = []
    for case in email_cases:
        if case.unsubscribe_url:
            if case.unsubscribe_url not in case.text or f'href="{case.unsubscribe_url}"' not in case.html:
                problems.append(f"{case}: no unsubscribe link")
        elif "http" in case.text or "href" in case.html:
            problems.append(f"{case}: a link although there is no unsubscribe URL")
        lang_attr = f'<html lang="{case.language}">'
        if lang_attr not in case.html:
            problems.append(f"{case}: HTML not marked {lang_attr}")
    assert not problems, report(problems)


def test_clinic_settings_are_quoted_and_have_fallbacks(email_cases, sms_cases):
    """The home-care guides quote the clinic's lifting and driving limits, after-hours line and
    emergency number, and fall back to "the limits your care team gave you" when a limit is
    empty. The limits are free text in one language, so Spanish emails always use the fallback
    (see the report: the clinic needs a Spanish version of them). The consultation target is
    quoted in the day-1 SMS, except in the Spanish first text, which says "as soon as possible"
    to stay within GSM-7 ("días" is UCS-2)."""
    fallback = {"en": "follow the limits your care team gave you",
                "es": "siga los límites que le dio su equipo de salud"}
    problems, guides, bookings = [], 0, 0
    for case in email_cases:
        if "day00_home_care_guide" not in case.step.template:
            continue
        guides += 1
        quoted = [case.emergency_number]
        if case.clinic_kind == "long":
            quoted.append("(202) 555-0199")
            if case.language == "en":
                quoted += ["gallon of milk", "no driving for 2 weeks"]
        elif "555-0199" in case.text:
            problems.append(f"{case}: an after-hours line the clinic does not have")
        if case.language == "es" or case.clinic_kind == "sparse":
            quoted.append(fallback[case.language])
        for value in quoted:
            if value not in case.text:
                problems.append(f"{case}: {value!r} not in the text")
    for case in sms_cases:
        if case.step.key == "day01-book-specialist" and not (case.language == "es" and case.first):
            bookings += 1
            days = "14" if case.clinic_kind == "long" else "10"
            if f" {days} " not in case.text:
                problems.append(f"{case}: consultation target ({days} days) not quoted")
    assert guides and bookings  # a renamed step would otherwise leave nothing checked
    assert not problems, report(problems)


def test_templates_hard_code_no_clinic_setting():
    """Emergency numbers, phone numbers and lifting or driving limits come from the clinic."""
    pattern = re.compile(
        r"\b(911|999|112|000|10177)\b|\(\d{3}\)|\d{3}[-. ]\d{4}|\d+\s*(lb|lbs|pounds?|kg|kilos?|libras?)\b"
        r"|gallon|gal[oó]n|within \d+ days|en \d+ días"
    )
    problems = []
    for path in sorted(TEMPLATES_DIR.rglob("*")):
        if path.is_file() and "system" not in path.parts:
            match = pattern.search(path.read_text(encoding="utf-8"))
            if match:
                problems.append(f"{path.relative_to(TEMPLATES_DIR)}: {match.group(0)!r}")
    assert not problems, report(problems)


def test_the_rendered_set_is_complete(cases):
    """Guard against a fixture that silently renders nothing."""
    steps = {(p.slug, s.key) for p, steps in program_files() for s in steps}
    rendered = {(c.program.slug, c.step.key) for c in cases}
    assert rendered == steps
    assert {c.language for c in cases} == set(LANGUAGES)
    assert {(c.discreet, c.first) for c in cases if c.channel == "sms"} == {
        (False, False), (False, True), (True, False), (True, True)}
    assert {c.clinic_kind for c in cases} == {"long", "sparse"}
