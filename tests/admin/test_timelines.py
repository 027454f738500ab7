"""A program's timeline and a patient's own, as the admin shows them."""

import pytest
from django.urls import reverse

from reminders.models import Patient
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


def test_a_program_timeline_renders_every_message_for_the_coordinators_clinic(coord_a_client, program, side_a):
    url = reverse("admin:reminders_program_timeline", args=[program.pk])
    page = coord_a_client.get(url)
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [(r.step, r.channel) for r in rows] == [("day0", "sms"), ("day1", "sms"), ("day7", "sms"), ("day7", "email")]
    text = page.content.decode()
    assert "Riverside Spine Clinic: Hello" in text  # the coordinator's clinic, not a sample
    assert "GSM-7, 1 segment" in text


def test_the_program_timeline_switches_language(coord_a_client, program, side_a):
    url = reverse("admin:reminders_program_timeline", args=[program.pk]) + "?language=es"
    assert "Hola" in coord_a_client.get(url).content.decode()
    unknown = reverse("admin:reminders_program_timeline", args=[program.pk]) + "?language=xx"
    assert coord_a_client.get(unknown).context["language"] == "en"


def test_an_enrollment_shows_the_patients_own_timeline_in_their_zone(coord_a_client, side_a):
    Patient.objects.filter(pk=side_a.patient.pk).update(time_zone="Europe/London")
    url = reverse("admin:reminders_enrollment_timeline", args=[side_a.enrollment.pk])
    page = coord_a_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Hello Margaret, this is day 0." in text
    assert "2026-06-02 10:00 BST" in text  # day 0 at 10:00 in London
    change = coord_a_client.get(reverse("admin:reminders_enrollment_change", args=[side_a.enrollment.pk]))
    assert url in change.content.decode()


def test_another_clinics_patient_timeline_is_out_of_reach(coord_a_client, side_b):
    url = reverse("admin:reminders_enrollment_timeline", args=[side_b.enrollment.pk])
    assert coord_a_client.get(url).status_code in (403, 404)
