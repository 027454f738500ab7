"""Issue 13, item 2: every row of a CSV file is checked and every problem listed at once."""

from datetime import UTC, datetime

import pytest
import time_machine

from reminders.models import Clinic, Patient
from reminders.services.csv_import import COLUMN_NAMES, enrollment_csv_import

NOW = datetime(2026, 6, 2, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


def row(first="Ann", last="Lee", mobile="+12025550111", email="", sms="yes", zone="", program="test-procedure",
        event="pvp", anchor="2026-06-02") -> str:
    return ",".join(["Riverside Spine Clinic", first, last, mobile, email, sms, "no", "", "", zone, program, event,
                     anchor])


def test_problems_of_every_kind_in_every_row_are_listed_in_one_round(clinic, program):
    data = "\n".join([
        ",".join(COLUMN_NAMES),
        row(first="Ann1", sms="maybe", zone="Mars/Base"),  # a name, a yes/no and a zone, in one row
        row(first="Bo", mobile="12", email="not-an-email", anchor="2026-06-09"),  # parsing and model and rules
        row(first="Cy", mobile="+12025550113", program="nope", event="diagnosis"),
        "too,few,values",
        row(first="Di", mobile="+12025550114", event="surgery", last=""),
    ]).encode()
    result = enrollment_csv_import(data=data, clinics=Clinic.objects.all())
    found = {(e.line, e.column) for e in result.errors}
    assert found == {
        (2, "first_name"), (2, "sms_consent"), (2, "time_zone"),
        (3, "mobile"), (3, "email"), (3, "anchor_date"),
        (4, "program"),
        (5, ""),
        (6, "anchor_event"), (6, "last_name"),
    }
    assert all(str(e).startswith(f"line {e.line}, column {e.column}: ") for e in result.errors if e.column)
    assert [e.line for e in result.errors] == sorted(e.line for e in result.errors)
    assert not Patient.objects.exists()
