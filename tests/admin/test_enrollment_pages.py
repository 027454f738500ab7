from datetime import date

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from reminders.models import Enrollment, Message, MessageStatus
from reminders.services.enrollments import enrollment_pause
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


def change_url(enrollment):
    return reverse("admin:reminders_enrollment_change", args=[enrollment.pk])


def test_the_enrollment_page_offers_pause_cancel_and_anchor_correction(coord_a_client, side_a):
    page = coord_a_client.get(change_url(side_a.enrollment)).content.decode()
    for name in ("pause", "cancel", "anchor"):
        assert reverse(f"admin:reminders_enrollment_{name}", args=[side_a.enrollment.pk]) in page
    assert reverse("admin:reminders_enrollment_resume", args=[side_a.enrollment.pk]) not in page


def test_cancelling_from_the_page_asks_for_a_reason_and_stops_every_pending_message(coord_a_client, side_a):
    url = reverse("admin:reminders_enrollment_cancel", args=[side_a.enrollment.pk])
    page = coord_a_client.get(url)
    choices = [label for _, label in page.context["form"].fields["reason"].choices][1:]
    assert choices == ["Consultation attended", "Procedure done", "Admitted to hospital", "Deceased",
                       "Moved away", "Patient request"]
    refused = coord_a_client.post(url, {"apply": "Cancel", "reason": ""})
    assert refused.status_code == 200 and "reason" in refused.context["form"].errors
    assert Enrollment.objects.get(pk=side_a.enrollment.pk).status == "active"

    response = coord_a_client.post(url, {"apply": "Cancel", "reason": "consultation_attended",
                                         "note": "seen on 1 June"})
    assert response.status_code == 302 and response["Location"] == change_url(side_a.enrollment)
    enrollment = Enrollment.objects.get(pk=side_a.enrollment.pk)
    assert (enrollment.status, enrollment.status_reason) == ("cancelled", "Consultation attended: seen on 1 June")
    assert set(enrollment.messages.values_list("status", flat=True)) == {"cancelled"}


def test_pause_and_resume_from_the_list_with_a_reason(coord_a_client, side_a):
    url = reverse("admin:reminders_enrollment_changelist")
    ids = {helpers.ACTION_CHECKBOX_NAME: [side_a.enrollment.pk]}
    form_page = coord_a_client.post(url, {"action": "pause_enrollments", **ids})
    assert form_page.status_code == 200 and "Admitted to hospital" in form_page.content.decode()
    coord_a_client.post(url, {"action": "pause_enrollments", **ids, "reason": "admitted_to_hospital", "apply": "1"})
    enrollment = Enrollment.objects.get(pk=side_a.enrollment.pk)
    assert enrollment.status == "paused"
    assert set(enrollment.messages.values_list("status", flat=True)) == {"paused"}

    coord_a_client.post(url, {"action": "resume_enrollments", **ids, "reason": "procedure_done", "apply": "1"})
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.status_reason) == ("active", "Procedure done")
    assert set(enrollment.messages.values_list("status", flat=True)) == {"pending"}


def test_an_enrollment_in_the_wrong_state_is_reported_not_changed(coord_a_client, side_a):
    response = coord_a_client.post(reverse("admin:reminders_enrollment_changelist"), {
        "action": "resume_enrollments", helpers.ACTION_CHECKBOX_NAME: [side_a.enrollment.pk],
        "reason": "patient_request", "apply": "1"}, follow=True)
    assert "Cannot resume an enrollment that is active." in response.content.decode()


def test_the_anchor_page_previews_then_applies_in_one_step(coord_a_client, side_a, coord_a):
    enrollment = side_a.enrollment
    url = reverse("admin:reminders_enrollment_anchor", args=[enrollment.pk])
    preview = coord_a_client.post(url, {"anchor_date": "2026-05-31"})
    assert preview.status_code == 200
    assert preview.context["counts"] == {"moves": 1, "skipped": 2, "sent": 0, "unchanged": 0}
    rows = {row["step"]: row for row in preview.context["rows"]}
    assert rows["Day 7 · Warning signs"]["new"] == "2026-06-07 11:00 EDT"
    assert rows["Day 0 · Warning signs"]["label"] == "skipped: too late (allowed 12 hours)"
    assert Enrollment.objects.get(pk=enrollment.pk).anchor_date == date(2026, 6, 2)  # not yet

    response = coord_a_client.post(url, {"anchor_date": "2026-05-31", "confirmed": "True"})
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.anchor_date == date(2026, 5, 31)
    assert enrollment.history.first().history_user == coord_a
    history = coord_a_client.get(reverse("admin:reminders_enrollment_history", args=[enrollment.pk]))
    assert "2026-05-31" in history.content.decode() or "31 May 2026" in history.content.decode()


def test_the_anchor_page_explains_a_date_not_allowed(coord_a_client, side_a):
    url = reverse("admin:reminders_enrollment_anchor", args=[side_a.enrollment.pk])
    response = coord_a_client.post(url, {"anchor_date": "2026-06-20", "confirmed": "True"})
    assert "in the future" in " ".join(response.context["form"].errors["anchor_date"])
    assert Enrollment.objects.get(pk=side_a.enrollment.pk).anchor_date == date(2026, 6, 2)


def test_the_history_cannot_revert(coord_a_client, side_a):
    enrollment = side_a.enrollment
    enrollment_pause(enrollment=enrollment, reason="Admitted to hospital")
    record = enrollment.history.last()
    url = reverse("admin:reminders_enrollment_simple_history", args=[enrollment.pk, record.history_id])
    assert coord_a_client.get(url).status_code == 200
    assert coord_a_client.post(url, {}).status_code == 405
    assert Enrollment.objects.get(pk=enrollment.pk).status == "paused"


@pytest.mark.parametrize("model", ["patient", "enrollment"])
def test_audit_history_is_readable(coord_a_client, side_a, model):
    obj = side_a.patient if model == "patient" else side_a.enrollment
    response = coord_a_client.get(reverse(f"admin:reminders_{model}_history", args=[obj.pk]))
    assert response.status_code == 200
    assert "View history" in response.content.decode()


def test_consent_history_is_on_the_patients_page(coord_a_client, side_a):
    page = coord_a_client.get(reverse("admin:reminders_patient_change", args=[side_a.patient.pk])).content.decode()
    assert 'id="consent-ledger"' in page and "given" in page


def test_the_message_page_shows_the_error_code(coord_a_client, side_a):
    message = side_a.enrollment.messages.first()
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, error_code="30003")
    page = coord_a_client.get(reverse("admin:reminders_message_change", args=[message.pk])).content.decode()
    assert "30003" in page
