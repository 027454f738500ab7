"""
Time zones: only the tz database's names of places (and UTC). ``localtime`` is
each machine's own zone, so web and worker could plan one patient differently;
``Factory``, ``posixrules``, rules such as ``EST5EDT`` and old names such as
``US/Eastern`` are no places either. Checked the same way in the model, every
admin form that takes a zone (a list, not free text) and the CSV import.
"""

import re
import time
import zoneinfo
from pathlib import Path
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from reminders import time_zones
from reminders.models import Clinic, Patient, validate_time_zone
from reminders.services.csv_import import COLUMN_NAMES, enrollment_csv_import
from reminders.services.demo import CLINICS, DEMO_ZONES
from tests.moments import NOW

REFUSED = [
    ("localtime", "not the time zone of a place"),
    ("Factory", "not the time zone of a place"),
    ("posixrules", "not a known time zone"),
    ("EST5EDT", "use America/New_York"),
    ("CST6CDT", "use America/Chicago"),
    ("PST8PDT", "use America/Los_Angeles"),
    ("US/Eastern", "use America/New_York"),
    ("Asia/Calcutta", "use Asia/Kolkata"),
    ("Etc/UTC", "use UTC"),
    ("Etc/GMT+5", "not the time zone of a place"),
    ("Mars/Base", "not a known time zone"),
    ("../../etc/passwd", "not a known time zone"),
]
ACCEPTED = ["America/New_York", "Europe/London", "Europe/Amsterdam", "America/Argentina/Buenos_Aires",
            "Asia/Kolkata", "UTC", *DEMO_ZONES, *(clinic["time_zone"] for clinic in CLINICS)]


@pytest.mark.parametrize(("name", "says"), REFUSED)
def test_names_that_are_no_place_are_refused_with_the_reason(name, says):
    with pytest.raises(ValidationError) as refused:
        validate_time_zone(name)
    [message] = refused.value.messages
    assert message.startswith(f"{name} ") and says in message, message


@pytest.mark.parametrize("name", ACCEPTED)
def test_places_and_utc_are_accepted(name):
    validate_time_zone(name)
    zoneinfo.ZoneInfo(name)


def test_the_list_holds_places_only_and_every_one_loads():
    names = time_zones.time_zone_names()
    assert len(names) > 300 and list(names) == sorted(set(names))
    assert all("/" in name and name.split("/")[0] in time_zones.AREAS for name in names if name != "UTC")
    assert not {"localtime", "Factory", "posixrules", "EST5EDT", "US/Eastern", "Etc/UTC", "GMT"} & set(names)
    assert {zoneinfo.ZoneInfo(name).key for name in names} == set(names)


def test_the_validator_reads_the_database_once_per_process():
    """It was once 8 ms a call: every row of a CSV file and every form checks a zone."""
    validate_time_zone("Europe/London")
    with mock.patch.object(zoneinfo, "available_timezones", side_effect=AssertionError("read again")), \
            mock.patch.object(Path, "read_text", side_effect=AssertionError("read again")):
        started = time.perf_counter()
        for _ in range(1000):
            validate_time_zone("Europe/London")
            with pytest.raises(ValidationError, match="use America/New_York"):
                validate_time_zone("US/Eastern")
        assert time.perf_counter() - started < 1.0  # 2,000 checks; about 10 ms on a small machine


# --- the admin's forms: a list -------------------------------------------------------------

def _select(page: str) -> str:
    found = re.search(r'<select name="time_zone"[^>]*>(.*?)</select>', page, re.DOTALL)
    assert found, "the time zone is not a list"
    return found[1]


def _patient_form(clinic, **overrides):
    return {"clinic": clinic.pk, "first_name": "Ann", "last_name": "Lee", "mobile": "+12025550111",
            "email": "", "time_zone": "", "language": "en", "sms_consent": "on",
            "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0", **overrides}


def _clinic_form(**overrides):
    return {"name": "Lakeside Bone Clinic", "phone": "+12025550144", "time_zone": "America/Chicago",
            "quiet_hours_start": "21:00", "quiet_hours_end": "08:00", "emergency_number": "911",
            "consultation_target_days": "14", **overrides}


@pytest.mark.parametrize("page", ["admin:reminders_clinic_add", "admin:reminders_patient_add",
                                  "admin:reminders_patient_enroll"])
def test_every_admin_form_that_takes_a_zone_offers_a_list(admin_client, clinic, page):
    options = _select(admin_client.get(reverse(page)).content.decode())
    assert '<option value="America/Chicago">America/Chicago</option>' in options
    assert '<optgroup label="Europe">' in options and 'value="UTC"' in options
    assert 'value="localtime"' not in options and 'value="US/Eastern"' not in options


def test_the_patients_list_starts_with_the_clinics_zone(admin_client, patient):
    page = admin_client.get(reverse("admin:reminders_patient_change", args=[patient.pk])).content.decode()
    assert re.search(r'<option value="" selected>\(the clinic&#x27;s time zone\)</option>', _select(page))


@pytest.mark.parametrize(("name", "says"), [("localtime", "not the time zone of a place"),
                                            ("US/Eastern", "use America/New_York")])
def test_the_clinic_form_refuses_what_is_no_place(admin_client, clinic, name, says):
    response = admin_client.post(reverse("admin:reminders_clinic_change", args=[clinic.pk]),
                                 _clinic_form(time_zone=name))
    assert says in " ".join(response.context["adminform"].form.errors["time_zone"])
    clinic.refresh_from_db()
    assert clinic.time_zone == "America/New_York"
    assert admin_client.post(reverse("admin:reminders_clinic_change", args=[clinic.pk]),
                             _clinic_form()).status_code == 302
    clinic.refresh_from_db()
    assert clinic.time_zone == "America/Chicago"


def test_the_patient_form_refuses_what_is_no_place(admin_client, clinic):
    response = admin_client.post(reverse("admin:reminders_patient_add"), _patient_form(clinic, time_zone="Factory"))
    assert "not the time zone of a place" in " ".join(response.context["adminform"].form.errors["time_zone"])
    assert not Patient.objects.exists()
    assert admin_client.post(reverse("admin:reminders_patient_add"),
                             _patient_form(clinic, time_zone="America/Chicago")).status_code == 302
    assert Patient.objects.get().time_zone == "America/Chicago"


def test_a_zone_stored_before_it_was_refused_shows_and_must_be_changed(admin_client, patient):
    Patient.objects.filter(pk=patient.pk).update(time_zone="US/Eastern")
    url = reverse("admin:reminders_patient_change", args=[patient.pk])
    options = _select(admin_client.get(url).content.decode())
    assert '<option value="US/Eastern" selected>US/Eastern (not accepted any more: pick a place)</option>' in options
    response = admin_client.post(url, _patient_form(patient.clinic, time_zone="US/Eastern"))
    assert "use America/New_York" in " ".join(response.context["adminform"].form.errors["time_zone"])


@pytest.mark.time_machine(NOW, tick=False)
def test_the_enroll_page_refuses_what_is_no_place(admin_client, clinic, program):
    data = {"clinic": clinic.pk, "first_name": "Ann", "last_name": "Lee", "time_zone": "localtime",
            "language": "en", "mobile": "+447911123456", "email": "", "sms_consent": "on",
            "program": program.pk, "anchor_event": "pvp", "anchor_date": "2026-05-31", "_preview": "1"}
    response = admin_client.post(reverse("admin:reminders_patient_enroll"), data)
    assert response.status_code == 400
    assert "not the time zone of a place" in " ".join(response.context["form"].errors["time_zone"])
    assert response.context["check"] is None


# --- the CSV import: the same check ---------------------------------------------------------

@pytest.mark.time_machine(NOW, tick=False)
@pytest.mark.parametrize(("name", "says"), [("localtime", "not the time zone of a place"),
                                            ("EST5EDT", "use America/New_York"),
                                            ("US/Eastern", "use America/New_York")])
def test_the_csv_import_refuses_what_is_no_place(clinic, program, name, says):
    row = ["Riverside Spine Clinic", "Ann", "Lee", "+12025550111", "", "yes", "no", "", "", name,
           "test-procedure", "pvp", "2026-06-02"]
    data = f"{','.join(COLUMN_NAMES)}\n{','.join(row)}\n".encode()
    result = enrollment_csv_import(data=data, clinics=Clinic.objects.all())
    assert [(error.line, error.column) for error in result.errors] == [(2, "time_zone")]
    assert says in result.errors[0].reason
    assert not Patient.objects.exists()
