"""Issue 13, item 1: a patient already on file is not enrolled twice by mistake (enroll page)."""

import pytest
from django.urls import reverse

from reminders.models import Enrollment, Patient
from tests.moments import NOW

# The admin suites live on the afternoon of the reference day.
pytestmark = pytest.mark.time_machine(NOW, tick=False)

URL = reverse("admin:reminders_patient_enroll")


def form(clinic, program, **overrides):
    data = {"clinic": clinic.pk, "first_name": "Ann", "last_name": "Lee", "time_zone": "Europe/London",
            "language": "en", "mobile": "+12025550101", "email": "", "sms_consent": "on",
            "program": program.pk, "anchor_event": "pvp", "anchor_date": "2026-05-31", "_preview": "1",
            "mrn": "", "date_of_birth": ""}
    return {**data, **overrides}


def enroll(client, data):
    preview = client.post(URL, data)
    data = {**data, "preview_digest": preview.context["digest"], "_enroll": "1"}
    del data["_preview"]
    return preview, client.post(URL, data)


def test_a_mobile_on_file_is_warned_with_a_link_and_needs_a_confirmation(coord_a_client, side_a, clinic, program):
    # side_a's patient (Margaret Okafor) has +12025550101: a second person on that phone.
    preview, refused = enroll(coord_a_client, form(clinic, program, mobile="(202) 555-0101"))
    page = preview.content.decode()
    link = reverse("admin:reminders_patient_change", args=[side_a.patient.pk])
    assert f'href="{link}"' in page and "The same mobile as" in page
    assert "This is a different person (e.g. a shared family phone)" in page
    assert refused.status_code == 400
    assert "tick this box" in " ".join(refused.context["form"].errors["different_person"])
    assert Patient.objects.count() == 1
    data = {**form(clinic, program, mobile="(202) 555-0101"), "different_person": "on"}
    _, enrolled = enroll(coord_a_client, data)
    assert enrolled.status_code == 302 and Patient.objects.filter(mobile="+12025550101").count() == 2


def test_an_exact_duplicate_is_warned_as_the_same_person(coord_a_client, side_a, clinic, program):
    preview, refused = enroll(coord_a_client, form(clinic, program, first_name="margaret", last_name="OKAFOR"))
    assert "The same name and contact as" in preview.content.decode()
    assert refused.status_code == 400 and not Enrollment.objects.exclude(pk=side_a.enrollment.pk).exists()


def test_a_mobile_of_another_clinic_is_no_duplicate(coord_a_client, side_b, clinic, program):
    preview, enrolled = enroll(coord_a_client, form(clinic, program, mobile=str(side_b.patient.mobile)))
    assert not preview.context["matches"] and enrolled.status_code == 302


def test_a_medical_record_number_on_file_is_refused_naming_the_patient(coord_a_client, side_a, clinic, program):
    side_a.patient.mrn = "MRN-77"
    side_a.patient.save()
    response = coord_a_client.post(URL, form(clinic, program, mobile="+12025550155", mrn="MRN-77"))
    assert response.status_code == 400
    assert f"already on file for patient {side_a.patient.pk}" in " ".join(response.context["form"].errors["mrn"])


def test_mrn_and_date_of_birth_are_recorded_and_a_future_birth_refused(coord_a_client, clinic, program):
    response = coord_a_client.post(URL, form(clinic, program, date_of_birth="2030-01-01"))
    assert "in the future" in " ".join(response.context["form"].errors["date_of_birth"])
    _, enrolled = enroll(coord_a_client, form(clinic, program, mrn=" MRN-1 ", date_of_birth="1941-03-09"))
    assert enrolled.status_code == 302
    patient = Patient.objects.get()
    assert (patient.mrn, str(patient.date_of_birth)) == ("MRN-1", "1941-03-09")


def test_the_patient_page_refuses_a_record_number_of_another_patient(admin_client, side_a, clinic):
    other = Patient.objects.create(clinic=clinic, first_name="Bo", last_name="Diaz", mrn="MRN-9")
    url = reverse("admin:reminders_patient_change", args=[side_a.patient.pk])
    response = admin_client.post(url, {
        "clinic": clinic.pk, "first_name": "Margaret", "last_name": "Okafor", "mrn": "MRN-9", "date_of_birth": "",
        "mobile": "+12025550101", "email": "", "sms_consent": "on", "time_zone": "", "language": "en"})
    assert response.status_code == 400
    assert "Another patient of this clinic has this medical record number." in response.content.decode()
    assert other.pk
    side_a.patient.refresh_from_db()
    assert side_a.patient.mrn == ""
