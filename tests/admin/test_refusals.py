"""
Input the admin cannot use is answered 400 (or 404) with a page that says why,
never a 500: a time zone that is none, a clinic filter that is no id, a year no
date can have, a NUL character (PostgreSQL stores and compares none), a history
version or a program that is no number. For a superuser and for a coordinator.
"""

import html
import logging

import pytest
from django.contrib import admin
from django.urls import reverse

from reminders.models import Patient
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


@pytest.fixture(params=["superuser", "coordinator"])
def user_client(request, client, admin_user, coord_a, side_a):
    client.force_login(admin_user if request.param == "superuser" else coord_a)
    client.user = admin_user if request.param == "superuser" else coord_a
    return client


def refused(response, status: int, reason: str) -> None:
    page = html.unescape(response.content.decode())
    assert response.status_code == status, page[:2000]
    assert reason in page, page[:4000]


def can_view(client, model_name: str) -> bool:
    return client.user.has_perm(f"{'auth' if model_name == 'user' else 'reminders'}.view_{model_name}")


# --- a patient's page ----------------------------------------------------------------------

@pytest.mark.parametrize(("zone", "reason"), [("Mars/Base", "Mars/Base is not a known time zone"),
                                              ("localtime", "localtime is not the time zone of a place")])
def test_a_time_zone_that_is_none_is_refused_on_a_patients_page(user_client, side_a, zone, reason):
    patient = side_a.patient
    url = reverse("admin:reminders_patient_change", args=[patient.pk])
    response = user_client.post(url, {
        "clinic": patient.clinic.pk, "first_name": "Changed", "last_name": patient.last_name,
        "mobile": str(patient.mobile), "email": "", "time_zone": zone, "language": "en", "sms_consent": "on",
        "enrollments-TOTAL_FORMS": "1", "enrollments-INITIAL_FORMS": "1", "enrollments-0-id": side_a.enrollment.pk,
    })
    refused(response, 400, reason)
    assert "Consent history" in response.content.decode()  # the ledger, in the patient's stored zone
    patient.refresh_from_db()
    assert (patient.first_name, patient.time_zone) == ("Margaret", "")


# --- lists: the clinic filter --------------------------------------------------------------

CLINIC_FILTERED = sorted(
    (model._meta.model_name, list_filter.parameter_name)
    for model, model_admin in admin.site._registry.items()
    for list_filter in model_admin.list_filter if getattr(list_filter, "clinic_path", None)
)


def test_the_clinic_filter_is_on_these_lists():
    assert [name for name, _ in CLINIC_FILTERED] == [
        "consentevent", "coordinator", "enrollment", "escalation", "inboundmessage", "message", "patient"]


@pytest.mark.parametrize(("model_name", "parameter"), CLINIC_FILTERED)
@pytest.mark.parametrize("value", ["abc", "1.5", "-1", "\u0661", "1 OR 1=1"])
def test_a_clinic_filter_that_is_no_id_is_refused(user_client, model_name, parameter, value):
    response = user_client.get(reverse(f"admin:reminders_{model_name}_changelist"), {parameter: value})
    if not can_view(user_client, model_name):
        assert response.status_code == 403  # coordinators do not see this list
        return
    refused(response, 400, f"clinic filter: {value!r} is not a valid id.")


def test_a_clinic_filter_with_an_id_still_filters(user_client, side_a, clinic):
    response = user_client.get(reverse("admin:reminders_patient_changelist"), {"clinic__id__exact": clinic.pk})
    assert response.status_code == 200 and list(response.context["cl"].result_list) == [side_a.patient]


# --- lists: years, and other filters that cannot be applied --------------------------------

YEARS = [
    ("consentevent", "created_at__year", "-5"),  # a date hierarchy
    ("message", "due_at__year", "-5"),  # a date hierarchy
    ("message", "due_at__year", "9999"),  # its next year does not exist
    ("enrollment", "anchor_date__year", "0"),
    ("patient", "created_at__year", "-5"),  # typed by hand, no hierarchy
    ("enrollment", "created_at__year", "-5"),
    ("escalation", "created_at__year", "-5"),
    ("clinic", "created_at__year", "-5"),
    ("inboundmessage", "received_at__year", "-5"),
    ("message", "sent_at__year__lt", "10000"),
    ("patient", "created_at__iso_year", "-5"),
    ("patient", "created_at__year", "abc"),
    ("user", "date_joined__year", "-5"),  # a library's list
]


@pytest.mark.parametrize(("model_name", "parameter", "value"), YEARS)
def test_a_year_no_date_can_have_is_refused(user_client, model_name, parameter, value):
    # Checked for every admin page before its view, so before a list's own permission check too.
    app = "auth" if model_name == "user" else "reminders"
    response = user_client.get(reverse(f"admin:{app}_{model_name}_changelist"), {parameter: value})
    refused(response, 400, f"{parameter}: {value!r} is not a year from 1 to 9998.")


def test_a_year_a_date_can_have_still_filters(user_client, side_a):
    response = user_client.get(reverse("admin:reminders_consentevent_changelist"), {"created_at__year": "2026"})
    assert response.status_code == 200 and len(response.context["cl"].result_list) == 1


@pytest.mark.parametrize(("model_name", "query", "reason"), [
    ("patient", {"sms_consent__exact": "abc"}, "“abc” value must be either True or False."),
    ("consentevent", {"created_at__year": "2026", "created_at__month": "13"}, "month must be in 1..12"),
    ("patient", {"created_at__gte": "abc"}, "“abc” value has an invalid format."),
])
def test_a_filter_that_cannot_be_applied_says_why_instead_of_showing_everything(user_client, model_name, query,
                                                                                reason):
    response = user_client.get(reverse(f"admin:reminders_{model_name}_changelist"), query)
    refused(response, 400, "This list cannot be filtered that way: ")
    refused(response, 400, reason)


# --- NUL characters: PostgreSQL takes none --------------------------------------------------

NUL_QUERIES = [
    ("admin:reminders_patient_changelist", {"q": "Oka\x00for"}),
    ("admin:reminders_inboundmessage_changelist", {"q": "\x00"}),
    ("admin:reminders_escalation_changelist", {"q": "pain\x00"}),
    ("admin:reminders_message_changelist", {"status__exact": "\x00"}),
    ("admin:reminders_patient_changelist", {"language__exact": "e\x00n"}),
    ("admin:reminders_enrollment_changelist", {"status__exact": "active", "anchor_event__exact": "\x00"}),
    ("admin:autocomplete", {"term": "\x00Oka", "app_label": "reminders", "model_name": "enrollment",
                            "field_name": "patient"}),
    ("admin:reminders_patient_changelist", {"\x00": "1"}),
]


@pytest.mark.parametrize(("url", "query"), NUL_QUERIES)
def test_a_nul_character_in_a_search_filter_or_autocomplete_is_refused(user_client, url, query):
    response = user_client.get(reverse(url), query)
    name = next(key for key, value in query.items() if "\x00" in key + value)
    refused(response, 400, f"Query parameter {name!r} contains a NUL character")


@pytest.mark.parametrize("value", ["abc", "1\x00", "1.5", "١"])
def test_an_action_on_selected_rows_that_are_no_ids_is_refused(user_client, side_a, value):
    response = user_client.post(reverse("admin:reminders_patient_changelist"),
                                {"action": "export_csv", "_selected_action": [str(side_a.patient.pk), value]})
    refused(response, 400, f"selected rows: {value!r} is not a row id.")


def test_an_action_on_selected_rows_that_are_ids_still_runs(user_client, side_a):
    response = user_client.post(reverse("admin:reminders_patient_changelist"),
                                {"action": "export_csv", "_selected_action": [str(side_a.patient.pk)]})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


# --- pages by id ---------------------------------------------------------------------------

def test_a_program_timeline_that_is_no_number_is_not_found(user_client, program):
    response = user_client.get("/admin/reminders/program/abc/timeline/")
    refused(response, 404, "No program with id 'abc'.")
    assert user_client.get(reverse("admin:reminders_program_timeline", args=[program.pk])).status_code == 200


@pytest.mark.parametrize("model_name", ["patient", "enrollment"])
def test_a_history_version_that_is_no_number_is_not_found(user_client, side_a, model_name):
    obj = side_a.patient if model_name == "patient" else side_a.enrollment
    response = user_client.get(f"/admin/reminders/{model_name}/{obj.pk}/history/abc/")
    refused(response, 404, f"No version 'abc' in the history of this {model_name}: versions are numbered.")


# --- the reason is shown, not logged --------------------------------------------------------

def test_the_reason_quotes_what_was_typed_on_the_page_but_not_in_the_log(user_client, caplog):
    caplog.set_level(logging.DEBUG)
    response = user_client.get(reverse("admin:reminders_patient_changelist"), {"clinic__id__exact": "Okafor"})
    refused(response, 400, "clinic filter: 'Okafor' is not a valid id.")
    assert "Bad Request: /admin/reminders/patient/" in caplog.text
    assert "Okafor" not in caplog.text
    assert Patient.objects.filter(last_name="Okafor").count() == 1
