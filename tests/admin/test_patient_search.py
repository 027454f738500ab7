"""Issue 13, item 8: names found without their accents, mobiles in any common format,
wherever the admin searches patients (on SQLite and PostgreSQL alike)."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from reminders.models import Patient
from reminders.services.patients import patient_save
from tests.moments import NOW

# The admin suites live on the afternoon of the reference day.
pytestmark = pytest.mark.time_machine(NOW, tick=False)


@pytest.fixture
def garcia(clinic):
    return patient_save(patient=Patient(clinic=clinic, first_name="José", last_name="García", mobile="+13055550102",
                                        sms_consent=True, mrn="MRN-305"))


@pytest.fixture
def someone_else(clinic):
    return patient_save(patient=Patient(clinic=clinic, first_name="Ann", last_name="Lee", mobile="+13055550199",
                                        sms_consent=True))


def found(client, url, term):
    response = client.get(url, {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("term", [
    "garcia", "GARCIA", "García", "jose", "José", "jose garcia", "(305) 555-0102", "305.555.0102", "305-555-0102",
    "+1 305 555 0102", "+13055550102", "3055550102", "MRN-305",
])
def test_the_patients_list_finds_them(coord_a_client, garcia, someone_else, term):
    assert found(coord_a_client, reverse("admin:reminders_patient_changelist"), term) == [garcia]


def test_other_terms_still_find_what_they_found(coord_a_client, garcia, someone_else):
    url = reverse("admin:reminders_patient_changelist")
    assert found(coord_a_client, url, "lee") == [someone_else]
    assert set(found(coord_a_client, url, "555")) == {garcia, someone_else}  # part of a number, as before
    assert found(coord_a_client, url, "(305) 555-0100") == []


def test_a_number_of_another_clinic_is_not_found(coord_a_client, side_b, make_coordinator):
    url = reverse("admin:reminders_patient_changelist")
    terms = [str(side_b.patient.mobile), "+44 7911 123456", "+44-7911-123456"]
    # Found by that clinic's own coordinator, in either format: only the clinic keeps it from coord-a.
    coord_b_client = Client()
    coord_b_client.force_login(make_coordinator(username="coord-b", clinic=side_b.clinic))
    for term in terms:
        assert found(coord_b_client, url, term) == [side_b.patient], term
        assert found(coord_a_client, url, term) == [], term


def test_the_inbox_finds_them_by_accentless_name_and_formatted_number(coord_a_client, side_a):
    patient = side_a.patient
    patient.first_name, patient.last_name = "José", "García"
    patient.save()
    for name in ("inboundmessage", "escalation", "enrollment", "consentevent"):
        url = reverse(f"admin:reminders_{name}_changelist")
        assert len(found(coord_a_client, url, "garcia")) == 1, name
        assert len(found(coord_a_client, url, "(202) 555-0101")) == 1, name


def test_autocomplete_finds_them(coord_a_client, garcia, someone_else):
    url = reverse("admin:autocomplete")
    for term in ("garcia", "jose", "(305) 555-0102"):
        response = coord_a_client.get(url, {"term": term, "app_label": "reminders", "model_name": "enrollment",
                                            "field_name": "patient"})
        assert [row["id"] for row in json.loads(response.content)["results"]] == [str(garcia.pk)], term
