"""
Names, numbers and email addresses with HTML, script, right-to-left marks, emoji
and very long values: clear errors in the forms (the admin's forms are model
forms, so these are the model's validators), escaped in HTML email, and never a
silently broken SMS encoding.
"""

import logging
import unicodedata
from email.utils import getaddresses

import pytest
from django import forms
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail.message import sanitize_address
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from reminders.models import Clinic, Message, Patient
from reminders.rendering import render_message, render_system_sms
from reminders.services.dispatch import dispatch_cycle
from reminders.sms_encoding import is_gsm7
from reminders.sms_text import GSM7_CHARACTERS, sms_text
from reminders.validators import is_invisible, validate_person_name
from tests.factories import EnrollmentFactory
from tests.moments import ENROLLED_AT, utc

PROPERTY = hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

PatientForm = forms.modelform_factory(
    Patient, fields=["clinic", "first_name", "last_name", "mobile", "email", "sms_consent", "email_consent",
                     "language"])
ClinicForm = forms.modelform_factory(
    Clinic, fields=["name", "phone", "email", "time_zone", "quiet_hours_start", "quiet_hours_end",
                    "alert_email", "emergency_number", "lifting_limit", "driving_advice",
                    "consultation_target_days"])


def patient_form(clinic, **overrides):
    data = {"clinic": clinic.pk, "first_name": "Margaret", "last_name": "Okafor", "mobile": "+12025550101",
            "email": "margaret@example.com", "sms_consent": "on", "language": "en", **overrides}
    return PatientForm(data=data)


# --- the forms --------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value", "says"), [
    ("first_name", "<script>alert(1)</script>", "“<” (U+003C LESS-THAN SIGN)"),
    ("last_name", "Okafor<b>", "“<”"),
    ("first_name", "Mar\u202egaret", "invisible character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
    ("first_name", "\u200fMargaret", "U+200F RIGHT-TO-LEFT MARK"),
    ("last_name", "Okafor\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("first_name", "Mar\u200bgaret", "U+200B ZERO WIDTH SPACE"),
    ("first_name", "Margaret\x00", "Null characters are not allowed"),
    ("first_name", "Mar\tgaret", "U+0009"),
    ("last_name", "Oka\u2028for", "U+2028 LINE SEPARATOR"),
    ("first_name", "Margaret 😀", "“😀” (U+1F600 GRINNING FACE)"),
    ("first_name", "Margaret\u00a0Ann", "U+00A0 NO-BREAK SPACE"),
    ("first_name", "R2-D2", "“2”"),
    ("first_name", "-.'", "needs at least one letter"),
    ("first_name", "M" * 10_000, "at most 80 characters (it has 10000)"),
    ("last_name", "名" * 81, "at most 80 characters"),
    ("email", "<script>@example.com", "valid email"),
    ("email", '"\x01evil"@example.com', "U+0001"),
    ("email", '"ab"@example.com', "without quotes or spaces"),
    ("email", "margaret@exa\u202emple.com", "U+202E"),
    ("email", "a" * 300 + "@example.com", "at most 254 characters"),
    ("mobile", "<script>alert(1)</script>", "valid phone number"),
    ("mobile", "+1202555010" + "1" * 500, "valid phone number"),
    ("mobile", "☎ 202 555", "valid phone number"),
])
def test_a_bad_value_is_refused_with_an_error_on_its_field(clinic, field, value, says):
    form = patient_form(clinic, **{field: value})
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert says in " ".join(form.errors[field]), form.errors[field]


@pytest.mark.parametrize(("first", "last"), [
    ("José-María", "O'Brien"), ("Zoë", "Nguyễn"), ("Ægir", "Ødegård"), ("Anne-Marie", "d’Arc"),
    ("李", "王芳"), ("محمد", "العلي"), ("Дмитрий", "Иванов"), ("ماه‌رخ", "Zand"),  # the last with a ZWNJ
    ("J.", "St. John"),
])
def test_names_in_any_script_are_accepted(clinic, first, last):
    form = patient_form(clinic, first_name=first, last_name=last)
    assert form.is_valid(), form.errors
    patient = form.save()
    assert (patient.first_name, patient.last_name) == (first, last)


def test_names_are_stored_in_one_spelling(clinic):
    form = patient_form(clinic, first_name="Jose\u0301", last_name="van  der Berg")  # é typed as e + accent
    assert form.is_valid(), form.errors
    patient = form.save()
    assert (patient.first_name, patient.last_name) == ("José", "van der Berg")


def test_a_number_with_invisible_marks_is_stored_clean_in_e164(clinic):
    form = patient_form(clinic, mobile="\u200f+1 (202) 555-0101\u202c")
    assert form.is_valid(), form.errors
    assert str(form.save().mobile) == "+12025550101"


@pytest.mark.parametrize(("field", "value", "says"), [
    ("name", "Riverside\nClinic", "U+000A"),
    ("name", "Riverside \u202eClinic", "U+202E"),
    ("name", "R" * 121, "at most 120 characters"),
    ("emergency_number", "911; call us", "digits only"),
    ("emergency_number", "", "required"),
    ("lifting_limit", "nothing heavy\x07", "U+0007"),
    ("alert_email", '"xy"@example.com', "without quotes or spaces"),
])
def test_clinic_details_quoted_in_messages_are_validated(db, field, value, says):
    data = {"name": "Riverside Spine Clinic", "phone": "+12025550143", "time_zone": "America/New_York",
            "quiet_hours_start": "21:00", "quiet_hours_end": "08:00", "emergency_number": "911",
            "consultation_target_days": 14, field: value}
    form = ClinicForm(data=data)
    assert not form.is_valid()
    assert says in " ".join(form.errors[field]), form.errors


@PROPERTY
@given(value=st.text(max_size=100))
def test_the_name_validator_accepts_only_visible_names_and_never_fails_otherwise(value):
    try:
        validate_person_name(value)
    except ValidationError as error:
        assert all(message.strip() for message in error.messages)  # a message for the form, nothing else
        return
    assert not any(is_invisible(char) for char in value)
    assert any(unicodedata.category(char).startswith("L") for char in value)
    assert not set(value) & set("<>&\"/\\;:=()")


# --- SMS encoding -----------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "sent"), [
    ("Ramón", "Ramon"), ("Zoë", "Zoe"), ("François", "Francois"), ("Łukasz", "Lukasz"),
    ("José", "José"), ("Peña", "Peña"), ("Müller", "Müller"), ("Ødegård", "Ødegård"),
    ("Anne\u2011Marie", "Anne-Marie"), ("d’Arc", "d'Arc"), ("😀Margaret", "Margaret"),
    ("Mar\u202egaret", "Margaret"), ("\u200fMargaret\u200b", "Margaret"), ("Ａｎｎ", "Ann"),
])
def test_a_name_is_folded_into_gsm7_in_a_gsm7_text(typed, sent):
    assert sms_text(f"Hello {typed}, this is day 1.") == f"Hello {sent}, this is day 1."
    assert is_gsm7(sms_text(f"Hello {typed}"))


@pytest.mark.parametrize("typed", ["王芳", "Дмитрий", "محمد", "Ζωή"])
def test_a_name_gsm7_cannot_write_keeps_its_letters_and_goes_as_ucs2(typed):
    text = sms_text(f"Hello {typed}\u202e, it’s day 1 😀")
    assert text == f"Hello {typed}, it’s day 1 😀"  # only the invisible mark is gone
    assert not is_gsm7(text)


@PROPERTY
@given(value=st.text(max_size=200))
def test_sms_text_is_gsm7_unless_a_letter_gsm7_cannot_write_needs_ucs2(value):
    text = sms_text(value)
    assert not any(is_invisible(char) for char in text)
    assert sms_text(text) == text
    # Letters, digits and marks of scripts GSM-7 cannot write (e.g. Miao vowel signs) need UCS-2.
    if not is_gsm7(text):
        assert any(unicodedata.category(c)[0] in "LNM" and c not in GSM7_CHARACTERS for c in text), text


def rename(patient, **names):
    # Saved past validation, as an old row or a direct import could be.
    Patient.objects.filter(pk=patient.pk).update(**names)


def test_an_sms_to_a_patient_with_an_accented_name_stays_gsm7(enrollment, patient):
    rename(patient, first_name="Ra😀món\u202e")
    text = render_message(message=Message.objects.get(enrollment=enrollment, step__key="day0")).text
    assert text == "Riverside Spine Clinic: Hello Ramon, this is day 0."


def test_an_sms_that_needs_ucs2_goes_as_ucs2_and_says_so_in_the_log(enrollment, patient, caplog):
    rename(patient, first_name="王芳")
    message = Message.objects.get(enrollment=enrollment, step__key="day0")
    with caplog.at_level(logging.INFO, logger="reminders.rendering"):
        text = render_message(message=message).text
    assert text == "Riverside Spine Clinic: Hello 王芳, this is day 0."
    assert f"message {message.pk} goes as UCS-2: units=48 segments=1" in caplog.text
    assert "王芳" not in caplog.text


def test_automatic_replies_are_folded_too(patient, clinic):
    Clinic.objects.filter(pk=clinic.pk).update(name="Clínica “Sur” 🦴")
    clinic.refresh_from_db()
    reply = render_system_sms(name="help", patient=patient, clinic=clinic)
    assert reply.startswith('Clinica "Sur" follow-up texts.')
    assert is_gsm7(reply)


# --- email ------------------------------------------------------------------------------

def test_html_email_escapes_names_and_the_text_part_keeps_them(make_patient, program, clinic):
    Clinic.objects.filter(pk=clinic.pk).update(name="Spine & <b>Bone</b>")
    patient = make_patient(mobile="", sms_consent=False, email_consent=True)
    rename(patient, first_name='<script>alert("x")</script>')
    enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    rendered = render_message(message=Message.objects.get(enrollment=enrollment, step__key="day7", channel="email"))
    assert "<script>" not in rendered.html and "<b>Bone" not in rendered.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered.html
    assert "Spine &amp; &lt;b&gt;Bone&lt;/b&gt;" in rendered.html
    assert 'Dear <script>alert("x")</script>,' in rendered.text  # plain text is not HTML
    assert "\n" not in rendered.subject


@pytest.mark.parametrize("name", ["Spine, Bone & Joint Clinic", 'Clínica "Sur" <x>', "A; B (Main)",
                                  "x@evil.example"])
def test_a_clinic_name_with_address_punctuation_still_makes_one_valid_sender(
        make_patient, program, clinic, clock, name):
    """The From header was built as f"{name} <address>": a comma or "<" in the name made
    it unparseable, and every email of that clinic failed (over SMTP) or went from two senders."""
    Clinic.objects.filter(pk=clinic.pk).update(name=name, email="followup@clinic.example")
    make_patient(mobile="", sms_consent=False, email_consent=True)
    EnrollmentFactory(patient=Patient.objects.get(), program=program, enrolled_at=ENROLLED_AT)
    with clock.at(utc(2026, 6, 9, 15, 0)):  # the day-7 email
        assert dispatch_cycle().as_dict()["sent"] == 1
    [email] = mail.outbox
    assert sanitize_address(email.from_email, "utf-8")  # what the SMTP backend does first
    [(_display, address)] = getaddresses([str(email.message()["From"])])
    assert address == "followup@clinic.example"
    assert Message.objects.get().status == "sent"
