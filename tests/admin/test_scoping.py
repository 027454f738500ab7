"""A coordinator reaches only their own clinic's rows, wherever the admin reaches rows."""

import csv
import io

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from reminders.models import Enrollment, Escalation, Patient
from tests.factories import UserFactory
from tests.moments import NOW

pytestmark = [pytest.mark.time_machine(NOW, tick=False), pytest.mark.usefixtures("side_a", "side_b")]

CHANGELISTS = ["patient", "enrollment", "message", "inboundmessage", "escalation", "consentevent"]


def objects(side):
    return {
        "patient": side.patient, "enrollment": side.enrollment, "message": side.enrollment.messages.first(),
        "inboundmessage": side.inbound, "escalation": side.escalation,
        "consentevent": side.patient.consent_events.first(), "clinic": side.clinic,
    }


@pytest.mark.parametrize("model", [*CHANGELISTS, "clinic"])
def test_change_lists_show_only_the_coordinators_clinic(coord_a_client, side_a, side_b, model):
    response = coord_a_client.get(reverse(f"admin:reminders_{model}_changelist"))
    assert response.status_code == 200
    shown = set(response.context["cl"].result_list)
    assert objects(side_a)[model] in shown
    assert objects(side_b)[model] not in shown


@pytest.mark.parametrize("model", [*CHANGELISTS, "clinic"])
def test_another_clinics_row_cannot_be_opened_by_url(coord_a_client, side_b, model):
    url = reverse(f"admin:reminders_{model}_change", args=[objects(side_b)[model].pk])
    response = coord_a_client.get(url, follow=True)
    # The admin treats it as missing: back to the index with "doesn't exist".
    assert response.redirect_chain[0][0] == reverse("admin:index")
    assert "doesn’t exist" in response.content.decode()
    assert "Marsh" not in response.content.decode()


@pytest.mark.parametrize("model", ["patient", "enrollment", "message"])
def test_another_clinics_history_cannot_be_read(coord_a_client, side_b, model):
    obj = objects(side_b)[model]
    assert coord_a_client.get(reverse(f"admin:reminders_{model}_history", args=[obj.pk])).status_code == 404


@pytest.mark.parametrize("model", ["patient", "enrollment"])
def test_another_clinics_historical_record_cannot_be_opened(coord_a_client, side_b, model):
    obj = objects(side_b)[model]
    url = reverse(f"admin:reminders_{model}_simple_history", args=[obj.pk, obj.history.first().history_id])
    assert coord_a_client.get(url).status_code == 404


@pytest.mark.parametrize(("name", "method"), [
    ("reminders_enrollment_pause", "get"), ("reminders_enrollment_cancel", "get"),
    ("reminders_enrollment_anchor", "get"), ("reminders_patient_sms_test", "post"),
    ("reminders_escalation_acknowledge", "post"),
])
def test_another_clinics_row_cannot_be_acted_on_by_url(coord_a_client, side_b, name, method):
    obj = {"enrollment": side_b.enrollment, "patient": side_b.patient,
           "escalation": side_b.escalation}[name.split("_")[1]]
    response = getattr(coord_a_client, method)(reverse(f"admin:{name}", args=[obj.pk]))
    assert response.status_code == 404
    side_b.escalation.refresh_from_db()
    assert side_b.escalation.acknowledged_at is None


@pytest.mark.parametrize(("model", "term"), [
    ("patient", "Marsh"), ("enrollment", "Marsh"), ("message", "Marsh"), ("escalation", "Marsh"),
    ("inboundmessage", "Marsh"), ("consentevent", "Marsh"),
])
def test_search_finds_nothing_of_another_clinic(coord_a_client, model, term):
    response = coord_a_client.get(reverse(f"admin:reminders_{model}_changelist"), {"q": term})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_autocomplete_offers_only_the_coordinators_patients(coord_a_client, side_a):
    url = reverse("admin:autocomplete")
    params = {"app_label": "reminders", "model_name": "enrollment", "field_name": "patient"}
    everyone = coord_a_client.get(url, {**params, "term": ""}).json()["results"]
    assert [r["id"] for r in everyone] == [str(side_a.patient.pk)]
    assert coord_a_client.get(url, {**params, "term": "Marsh"}).json()["results"] == []
    # Another model's field pointing at clinics goes through the clinics' scoped admin.
    other = coord_a_client.get(url, {"app_label": "reminders", "model_name": "coordinator",
                                     "field_name": "clinic", "term": "Hillcrest"})
    assert other.status_code == 200
    assert other.json()["results"] == []


@pytest.mark.parametrize(("model", "param"), [
    ("patient", "clinic__id__exact"), ("enrollment", "patient__clinic__id__exact"),
    ("message", "enrollment__patient__clinic__id__exact"), ("escalation", "clinic__id__exact"),
])
def test_the_clinic_filter_lists_only_own_clinics_and_cannot_reach_others(
        coord_a_client, side_a, side_b, model, param):
    url = reverse(f"admin:reminders_{model}_changelist")
    response = coord_a_client.get(url)
    clinic_filter = next(spec for spec in response.context["cl"].filter_specs if spec.title == "clinic")
    assert [label for _, label in clinic_filter.lookup_choices] == [side_a.clinic.name]
    other = coord_a_client.get(url, {param: side_b.clinic.pk})
    assert other.status_code == 200
    assert list(other.context["cl"].result_list) == []


def test_form_choices_hold_only_own_clinics_and_patients(coord_a_client, side_a, side_b):
    add_patient = coord_a_client.get(reverse("admin:reminders_patient_add"))
    assert list(add_patient.context["adminform"].form.fields["clinic"].queryset) == [side_a.clinic]
    add_enrollment = coord_a_client.get(reverse("admin:reminders_enrollment_add"))
    assert list(add_enrollment.context["adminform"].form.fields["patient"].queryset) == [side_a.patient]


def test_posting_another_clinics_patient_in_a_form_is_refused(coord_a_client, side_b, program):
    before = Enrollment.objects.count()
    response = coord_a_client.post(reverse("admin:reminders_enrollment_add"), {
        "patient": side_b.patient.pk, "program": program.pk, "anchor_event": "pvp", "anchor_date": "2026-06-02"})
    assert response.status_code == 400  # the form again, with the reason on the field
    assert "patient" in response.context["adminform"].form.errors
    assert Enrollment.objects.count() == before

    response = coord_a_client.post(reverse("admin:reminders_patient_add"), {
        "clinic": side_b.clinic.pk, "first_name": "Ann", "last_name": "Lee", "mobile": "+12025550111",
        "email": "", "time_zone": "", "language": "en", "sms_consent": "on",
        "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0"})
    assert "clinic" in response.context["adminform"].form.errors
    assert not Patient.objects.filter(last_name="Lee").exists()


def test_an_action_never_touches_another_clinics_rows(coord_a_client, side_a, side_b):
    response = coord_a_client.post(reverse("admin:reminders_enrollment_changelist"), {
        "action": "cancel_enrollments", helpers.ACTION_CHECKBOX_NAME: [side_a.enrollment.pk, side_b.enrollment.pk],
        "reason": "moved_away", "apply": "Cancel"})
    assert response.status_code == 302
    assert Enrollment.objects.get(pk=side_a.enrollment.pk).status == "cancelled"
    assert Enrollment.objects.get(pk=side_b.enrollment.pk).status == "active"

    coord_a_client.post(reverse("admin:reminders_escalation_changelist"), {
        "action": "acknowledge", helpers.ACTION_CHECKBOX_NAME: [side_b.escalation.pk]})
    assert Escalation.objects.get(pk=side_b.escalation.pk).acknowledged_at is None


@pytest.mark.parametrize("model", ["patient", "enrollment", "message"])
def test_an_export_holds_only_own_rows(coord_a_client, side_a, side_b, model):
    ids = [objects(side_a)[model].pk, objects(side_b)[model].pk]
    response = coord_a_client.post(reverse(f"admin:reminders_{model}_changelist"), {
        "action": "export_csv", helpers.ACTION_CHECKBOX_NAME: ids})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["id"] for row in rows] == [str(objects(side_a)[model].pk)]


def test_select_across_exports_only_own_rows(coord_a_client, side_a):
    response = coord_a_client.post(reverse("admin:reminders_patient_changelist"), {
        "action": "export_csv", "select_across": "1", "index": "0",
        helpers.ACTION_CHECKBOX_NAME: [side_a.patient.pk]})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["last_name"] for row in rows] == ["Okafor"]


def test_the_patient_export_carries_the_record_number_and_date_of_birth(coord_a_client, side_a):
    Patient.objects.filter(pk=side_a.patient.pk).update(mrn="RS-1001", date_of_birth="1948-03-09")
    response = coord_a_client.post(reverse("admin:reminders_patient_changelist"), {
        "action": "export_csv", helpers.ACTION_CHECKBOX_NAME: [side_a.patient.pk]})
    [row] = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    assert (row["mrn"], row["date_of_birth"]) == ("RS-1001", "1948-03-09")


def test_a_superuser_sees_every_clinic(admin_client, side_a, side_b):
    response = admin_client.get(reverse("admin:reminders_patient_changelist"))
    assert set(response.context["cl"].result_list) == {side_a.patient, side_b.patient}


def test_a_staff_user_without_a_clinic_sees_no_patient(client, coordinator_group):
    user = UserFactory(username="new-staff")
    user.groups.add(coordinator_group)
    client.force_login(user)
    response = client.get(reverse("admin:reminders_patient_changelist"))
    assert list(response.context["cl"].result_list) == []


def test_coordinators_cannot_delete_or_change_clinic_settings(coord_a_client, side_a):
    assert coord_a_client.get(reverse("admin:reminders_patient_delete", args=[side_a.patient.pk])).status_code == 403
    response = coord_a_client.post(reverse("admin:reminders_clinic_change", args=[side_a.clinic.pk]),
                                   {"name": "Renamed"})
    assert response.status_code == 403
    side_a.clinic.refresh_from_db()
    assert side_a.clinic.name != "Renamed"
