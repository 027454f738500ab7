"""Issue 13, item 6: no channel is ticked until the coordinator ticks it."""

import pytest
import re

from django.urls import reverse

from reminders.models import Patient
from tests.moments import NOW

# The admin suites live on the afternoon of the reference day.
pytestmark = pytest.mark.time_machine(NOW, tick=False)


def checkbox(page: str, name: str) -> str:
    return re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)


def test_the_enroll_page_starts_with_no_consent_ticked(coord_a_client, clinic, program):
    response = coord_a_client.get(reverse("admin:reminders_patient_enroll"))
    page = response.content.decode()
    form = response.context["form"]
    assert not form["sms_consent"].value() and not form["email_consent"].value()
    assert "checked" not in checkbox(page, "sms_consent")
    assert "checked" not in checkbox(page, "email_consent")


def test_the_add_patient_page_starts_with_no_consent_ticked(admin_client, clinic):
    page = admin_client.get(reverse("admin:reminders_patient_add")).content.decode()
    assert "checked" not in checkbox(page, "sms_consent")
    assert "checked" not in checkbox(page, "email_consent")


def test_a_patient_consents_to_nothing_unless_told():
    assert Patient().sms_consent is False and Patient().email_consent is False
