"""Issue 13, item 1: the CSV import refuses a mobile or record number already on file or twice in the file."""

from datetime import UTC, datetime

import pytest
import time_machine

from reminders.models import Clinic, Patient
from reminders.services.csv_import import COLUMN_NAMES, enrollment_csv_import

NOW = datetime(2026, 6, 2, 18, 0, tzinfo=UTC)
HEADER = ",".join([*COLUMN_NAMES, "mrn", "date_of_birth"])


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


def row(first="Ann", last="Lee", mobile="+12025550111", mrn="", born="") -> str:
    return ",".join(["Riverside Spine Clinic", first, last, mobile, "", "yes", "no", "", "", "", "test-procedure",
                     "pvp", "2026-06-02", mrn, born])


def run(*rows):
    return enrollment_csv_import(data="\n".join([HEADER, *rows]).encode(), clinics=Clinic.objects.all())


def test_mrn_and_date_of_birth_columns_are_recorded(clinic, program):
    assert run(row(mrn="MRN-1", born="1941-03-09")).ok
    patient = Patient.objects.get()
    assert (patient.mrn, str(patient.date_of_birth)) == ("MRN-1", "1941-03-09")


def test_a_mobile_or_mrn_on_file_is_refused_naming_the_patient(clinic, program, make_patient):
    on_file = make_patient(first_name="Rosa", last_name="Vega", mobile="+12025550150", mrn="MRN-7")
    result = run(row(mobile="(202) 555-0150"), row(first="Bo", mobile="+12025550151", mrn="MRN-7"))
    found = {(e.line, e.column): e.reason for e in result.errors}
    assert set(found) == {(2, "mobile"), (3, "mrn")}
    assert f"already on file for patient {on_file.pk}" in found[(2, "mobile")]
    assert "“Enroll in a program”" in found[(2, "mobile")] and "Enroll a new patient" in found[(2, "mobile")]
    assert f"patient {on_file.pk}" in found[(3, "mrn")]
    assert Patient.objects.count() == 1


def test_the_same_mobile_or_mrn_twice_in_the_file_is_refused(clinic, program):
    result = run(row(), row(first="Bo", mobile="202-555-0111"), row(first="Cy", mobile="+12025550112", mrn="A1"),
                 row(first="Di", mobile="+12025550113", mrn="A1"))
    assert [str(e) for e in result.errors] == [
        "line 3, column mobile: the same mobile as line 2: each patient would get every text twice. For a shared "
        "family phone, enroll the second patient on the “Enroll a new patient” page.",
        "line 5, column mrn: the same medical record number as line 4.",
    ]
    assert not Patient.objects.exists()


def test_a_file_without_the_optional_columns_still_reads(clinic, program):
    data = ",".join(COLUMN_NAMES) + "\n" + ",".join(row().split(",")[:-2])
    assert enrollment_csv_import(data=data.encode(), clinics=Clinic.objects.all()).ok


def test_a_birth_date_in_the_future_or_not_a_date_is_refused(clinic, program):
    result = run(row(born="2030-01-01"), row(first="Bo", mobile="+12025550112", born="09/03/1941"))
    assert [(e.line, e.column) for e in result.errors] == [(2, "date_of_birth"), (3, "date_of_birth")]
