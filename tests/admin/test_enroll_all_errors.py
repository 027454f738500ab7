"""Issue 13, item 2: the enroll page shows every problem of every field in one round."""

import pytest
from django.urls import reverse

from reminders.models import Patient
from tests.moments import NOW

# The admin suites live on the afternoon of the reference day.
pytestmark = pytest.mark.time_machine(NOW, tick=False)

URL = reverse("admin:reminders_patient_enroll")


def test_five_bad_fields_are_all_reported_at_once(coord_a_client, clinic, program):
    data = {"clinic": clinic.pk, "first_name": "Ann1", "last_name": "Lee", "time_zone": "Mars/Base",
            "language": "en", "mobile": "+12025550111", "email": "not-an-email", "sms_consent": "on",
            "email_consent": "on", "program": program.pk, "anchor_event": "diagnosis", "anchor_date": "2026-06-09",
            "date_of_birth": "2031-01-01", "_preview": "1"}
    response = coord_a_client.post(URL, data)
    errors = response.context["form"].errors
    assert response.status_code == 400
    # Form parsing (email, time zone), model validation (name, birth date) and the
    # enrollment rules (anchor event) together; the anchor date needs the zone, so it waits.
    assert {"first_name", "time_zone", "email", "anchor_event", "date_of_birth"} <= set(errors)
    assert "not a known time zone" in " ".join(errors["time_zone"])
    assert "does not start" in " ".join(errors["anchor_event"])
    assert response.context["check"] is None and not Patient.objects.exists()


def test_the_anchor_date_and_channel_rules_run_beside_field_errors(coord_a_client, clinic, program):
    data = {"clinic": clinic.pk, "first_name": "Ann", "last_name": "L3e", "time_zone": "", "language": "xx",
            "mobile": "", "email": "", "sms_consent": "on", "program": program.pk, "anchor_event": "pvp",
            "anchor_date": "2026-06-09", "_preview": "1"}
    errors = coord_a_client.post(URL, data).context["form"].errors
    assert {"last_name", "language", "mobile", "anchor_date"} <= set(errors)
    assert "in the future" in " ".join(errors["anchor_date"])
    assert "needed to send SMS" in " ".join(errors["mobile"])
