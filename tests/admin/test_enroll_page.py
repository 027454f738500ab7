import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from reminders.models import ConsentEvent, Enrollment, Patient
from tests.factories import UserFactory
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

URL = reverse("admin:reminders_patient_enroll")


def form(clinic, program, **overrides):
    data = {"clinic": clinic.pk, "first_name": "Ann", "last_name": "Lee", "time_zone": "Europe/London",
            "language": "en", "mobile": "+447911123456", "email": "", "sms_consent": "on",
            "program": program.pk, "anchor_event": "pvp", "anchor_date": "2026-05-31", "_preview": "1"}
    return {**data, **overrides}


def test_the_page_offers_only_own_clinics_and_preselects_the_only_one(coord_a_client, clinic, clinic_b):
    response = coord_a_client.get(URL)
    assert response.status_code == 200
    field = response.context["form"].fields["clinic"]
    assert list(field.queryset) == [clinic] and field.initial == clinic.pk


def test_the_preview_shows_the_timeline_in_the_patients_zone_and_what_is_too_late(coord_a_client, clinic, program):
    response = coord_a_client.post(URL, form(clinic, program))
    page = response.content.decode()
    assert response.status_code == 200
    assert [row["send_at"] for row in response.context["timeline"]] == [
        "2026-05-31 10:00 BST", "2026-06-01 09:30 BST", "2026-06-07 11:00 BST"]
    assert [row["skipped"] for row in response.context["timeline"]] == [True, True, False]
    assert "2 steps would be skipped as already too late." in page
    assert 'name="_enroll"' in page
    assert not Patient.objects.exists()  # a preview writes nothing


def test_enrolling_after_the_preview_saves_patient_consent_and_schedule(coord_a_client, coord_a, clinic, program):
    preview = coord_a_client.post(URL, form(clinic, program))
    data = form(clinic, program, preview_digest=preview.context["digest"], _enroll="1")
    del data["_preview"]
    response = coord_a_client.post(URL, data)
    enrollment = Enrollment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:reminders_enrollment_change", args=[enrollment.pk])
    assert enrollment.enrolled_by == coord_a and enrollment.patient.time_zone == "Europe/London"
    assert list(enrollment.messages.order_by("due_at").values_list("status", flat=True)) == [
        "skipped", "skipped", "pending"]
    assert list(ConsentEvent.objects.values_list("channel", "given", "recorded_by")) == [("sms", True, coord_a.pk)]
    assert LogEntry.objects.filter(user=coord_a, action_flag=1).count() == 2  # patient and enrollment


def test_enroll_without_a_matching_preview_shows_the_preview_first(coord_a_client, clinic, program):
    preview = coord_a_client.post(URL, form(clinic, program))
    data = form(clinic, program, preview_digest=preview.context["digest"], _enroll="1", first_name="Changed")
    response = coord_a_client.post(URL, data)
    assert response.status_code == 200 and not Patient.objects.exists()
    assert "changed since the preview" in response.content.decode()
    forged = form(clinic, program, preview_digest="forged", _enroll="1")
    assert coord_a_client.post(URL, forged).status_code == 200 and not Patient.objects.exists()


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"mobile": ""}, "mobile", "needed to send SMS"),
    ({"anchor_date": "2026-06-09"}, "anchor_date", "in the future"),
    ({"anchor_event": "diagnosis"}, "anchor_event", "does not start"),
    ({"time_zone": "Mars/Base"}, "time_zone", "not a known time zone"),
])
def test_bad_details_are_explained_on_their_field_and_nothing_is_previewed(
        coord_a_client, clinic, program, overrides, field, words):
    response = coord_a_client.post(URL, form(clinic, program, **overrides))
    assert words in " ".join(response.context["form"].errors[field])
    assert response.context["check"] is None and 'name="_enroll"' not in response.content.decode()


def test_no_channel_at_all_is_explained_on_the_form(coord_a_client, clinic, program):
    data = form(clinic, program, mobile="")
    del data["sms_consent"]
    response = coord_a_client.post(URL, data)
    assert "no channel to send to" in " ".join(response.context["form"].non_field_errors())


def test_another_clinic_cannot_be_chosen(coord_a_client, clinic_b, program):
    response = coord_a_client.post(URL, form(clinic_b, program))
    assert "clinic" in response.context["form"].errors


def test_a_user_who_may_not_add_patients_is_refused(client, db):
    client.force_login(UserFactory(username="viewer"))  # staff, in no group
    assert client.get(URL).status_code == 403
