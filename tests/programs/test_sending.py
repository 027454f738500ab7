"""The real programs rendered by the real send path: the first text a patient actually gets
carries the intro notice, whichever step it is, and emails carry the unsubscribe link."""

import pytest

from reminders.models import MessageStatus, Program
from reminders.rendering import render_message
from reminders.services.programs import programs_load
from reminders.unsubscribe_links import unsubscribe_url
from tests.factories import EnrollmentFactory
from tests.moments import utc

ON_DAY0 = utc(2026, 6, 2, 15, 0)  # 11:00 in New York on the anchor day


@pytest.fixture
def procedure(db):
    programs_load()
    return Program.objects.get(slug="after-procedure")


def test_a_late_enrollment_gets_the_intro_notice_on_its_first_text(procedure, patient):
    # Enrolled on the morning of day 2: the day-0 and day-1 texts are too late and skipped.
    enrollment = EnrollmentFactory(patient=patient, program=procedure, enrolled_at=utc(2026, 6, 4, 13, 0))
    sms = enrollment.messages.filter(channel="sms")
    assert set(sms.filter(status=MessageStatus.SKIPPED).values_list("step__key", flat=True)) == {
        "day00-welcome", "day01-get-moving"}
    first = sms.get(step__key="day02-warning-signs")
    text = render_message(message=first).text
    assert "24/7" in text and "HELP" in text and "Call 911 now" in text

    first.status, first.body = MessageStatus.SENT, text
    first.save()
    later = render_message(message=sms.get(step__key="day03-pain-check")).text
    assert "24/7" not in later and "HELP" not in later and later.endswith("Reply STOP to end.")


def test_the_welcome_is_the_first_text_of_an_enrollment_on_time(procedure, make_patient):
    patient = make_patient(language="es", discreet=True)
    enrollment = EnrollmentFactory(patient=patient, program=procedure, enrolled_at=ON_DAY0)
    welcome = enrollment.messages.get(step__key="day00-welcome", channel="sms")
    text = render_message(message=welcome).text
    assert text.startswith("Riverside Spine Clinic: Le enviaremos mensajes")
    assert "procedimiento" not in text and "STOP" in text and "HELP" in text


def test_emails_carry_the_patients_unsubscribe_link(procedure, make_patient):
    patient = make_patient(email_consent=True)
    enrollment = EnrollmentFactory(patient=patient, program=procedure, enrolled_at=ON_DAY0)
    email = enrollment.messages.get(step__key="day00-home-care-guide", channel="email")
    rendered = render_message(message=email)
    url = unsubscribe_url(patient=patient)
    assert f"unsubscribe here: {url}" in rendered.text
    assert f'href="{url}"' in rendered.html
    assert rendered.subject.startswith("Riverside Spine Clinic: ")
