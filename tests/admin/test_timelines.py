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


def test_the_patients_timeline_renders_each_reminder_for_its_own_appointment(coord_a_client, side_a, make_program):
    from datetime import date, time

    from reminders.models import MilestoneKind
    from reminders.services.milestones import milestone_record
    from tests.factories import EnrollmentFactory

    program = make_program(slug="with-reminders", steps=[
        {"key": "day1", "offset_days": 1, "send_time": time(10)},
        {"key": "evening-before", "relative_to": MilestoneKind.CONSULTATION_BOOKED, "offset_days": -1,
         "send_time": time(18), "template": "test/appointment"},
    ])
    enrollment = EnrollmentFactory(patient=side_a.patient, program=program)
    for day, at in ((date(2026, 6, 12), time(14, 30)), (date(2026, 6, 26), time(9, 0))):
        milestone_record(patient=side_a.patient, kind=MilestoneKind.CONSULTATION_BOOKED, on=day, at=at)

    page = coord_a_client.get(reverse("admin:reminders_enrollment_timeline", args=[enrollment.pk]))
    rows = page.context["rows"]
    assert [(row["step"], row["status_label"]) for row in rows] == [
        ("day1", "Pending"), ("evening-before", "Pending"), ("evening-before", "Pending")]
    text = page.content.decode()
    # Each reminder quotes its own appointment, in order: never a sample one, never one for both.
    assert text.index("your visit is on 12 Jun at 14:30") < text.index("your visit is on 26 Jun at 09:00")
