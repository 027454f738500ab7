"""Issue 13, item 7: no dead ends for a new coordinator."""

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from reminders.models import Message, Step
from reminders.services.csv_import import enrollment_csv_import
from reminders.services.enrollments import enrollment_pause
from tests.moments import NOW

# The admin suites live on the afternoon of the reference day.
pytestmark = pytest.mark.time_machine(NOW, tick=False)


def test_a_patients_page_has_an_enroll_button_for_that_patient(coord_a_client, side_a):
    page = coord_a_client.get(reverse("admin:reminders_patient_change", args=[side_a.patient.pk]))
    link = f'{reverse("admin:reminders_enrollment_add")}?patient={side_a.patient.pk}'
    assert link in page.content.decode()
    add = coord_a_client.get(link)
    assert add.status_code == 200
    assert add.context["adminform"].form.initial["patient"] == str(side_a.patient.pk)


def test_the_csv_refusal_names_the_button_that_exists(clinic, program, side_a, coord_a):
    data = ("clinic,first_name,last_name,mobile,email,sms_consent,email_consent,discreet,language,time_zone,"
            f"program,anchor_event,anchor_date\n{clinic.name},Margaret,Okafor,+12025550101,,yes,no,no,en,,"
            f"{program.slug},pvp,2026-06-01\n").encode()
    result = enrollment_csv_import(data=data, clinics=[clinic], imported_by=coord_a)
    reasons = " ".join(error.reason for error in result.errors)
    assert "“Enroll in a program” on their page" in reasons


def test_an_enrollments_page_shows_no_save_buttons(coord_a_client, side_a):
    page = coord_a_client.get(reverse("admin:reminders_enrollment_change", args=[side_a.enrollment.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in html and 'name="_continue"' not in html


def test_resuming_offers_discharged_from_hospital(coord_a_client, side_a):
    enrollment_pause(enrollment=side_a.enrollment, reason="Admitted to hospital")
    url = reverse("admin:reminders_enrollment_resume", args=[side_a.enrollment.pk])
    assert "Discharged from hospital" in coord_a_client.get(url).content.decode()
    coord_a_client.post(url, {"reason": "discharged_from_hospital", "apply": "1"})
    side_a.enrollment.refresh_from_db()
    assert (side_a.enrollment.status, side_a.enrollment.status_reason) == ("active", "Discharged from hospital")
    cancel = coord_a_client.get(reverse("admin:reminders_enrollment_cancel", args=[side_a.enrollment.pk]))
    assert "discharged_from_hospital" not in dict(cancel.context["form"].fields["reason"].choices)


def test_a_step_reads_as_its_day_and_topic_in_words(program):
    step = Step(program=program, key="day00-welcome", offset_days=0, topic="warning_signs")
    assert str(step) == "Day 0 · Welcome / warning signs"
    assert str(Step(program=program, key="day02-warning-signs", offset_days=2, topic="warning_signs")) == \
        "Day 2 · Warning signs"
    assert str(program.steps.get(key="day0")) == "Day 0 · Warning signs"


def test_an_enrollments_timeline_shows_labels_and_each_messages_status(coord_a_client, side_a):
    step = side_a.enrollment.program.steps.get(key="day0")
    step.asks, step.topic = "choice_1_3", "specialist_consultation"
    step.save()
    Message.objects.filter(enrollment=side_a.enrollment, step=step).update(status="skipped", reason="too late: x")
    page = coord_a_client.get(reverse("admin:reminders_enrollment_timeline", args=[side_a.enrollment.pk]))
    html = page.content.decode()
    assert "choice_1_3" not in html and "specialist_consultation" not in html
    assert "Reply 1, 2 or 3" in html and "Specialist consultation" in html
    assert '<td class="status">Skipped<br><span class="followup-note">too late: x</span></td>' in html
    assert '<td class="status">Pending' in html


def test_the_enrollment_page_lists_messages_in_the_programs_order(coord_a_client, side_a):
    # Quiet hours may move an SMS past a later step's time; the list keeps the program's days.
    day0 = Message.objects.get(enrollment=side_a.enrollment, step__key="day0")
    day1 = Message.objects.get(enrollment=side_a.enrollment, step__key="day1")
    Message.objects.filter(pk=day0.pk).update(due_at=day1.due_at + (day1.due_at - day0.due_at))
    page = coord_a_client.get(reverse("admin:reminders_enrollment_change", args=[side_a.enrollment.pk]))
    html = page.content.decode()
    assert html.index("Day 0 · Warning signs") < html.index("Day 1 · Warning signs")


def test_the_action_to_resume_several_offers_discharged_too(coord_a_client, side_a):
    enrollment_pause(enrollment=side_a.enrollment, reason="Admitted to hospital")
    page = coord_a_client.post(reverse("admin:reminders_enrollment_changelist"), {
        "action": "resume_enrollments", helpers.ACTION_CHECKBOX_NAME: [side_a.enrollment.pk]})
    assert "Discharged from hospital" in page.content.decode()
