import pytest

from reminders.models import Clinic, ConsentEvent, Enrollment, Patient
from reminders.services.csv_import import (
    ALL_COLUMN_NAMES,
    COLUMN_NAMES,
    CsvError,
    csv_template,
    enrollment_csv_import,
)
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

HEADER = ",".join(COLUMN_NAMES)


def row(clinic="Riverside Spine Clinic", first="Ann", last="Lee", mobile="+12025550111", email="",
        sms="yes", email_consent="no", discreet="", language="", zone="", program="test-procedure",
        event="pvp", anchor="2026-06-02") -> str:
    return ",".join([clinic, first, last, mobile, email, sms, email_consent, discreet, language, zone, program,
                     event, anchor])


def run(data: str | bytes, **kwargs):
    raw = data.encode() if isinstance(data, str) else data
    return enrollment_csv_import(data=raw, clinics=Clinic.objects.all(), **kwargs)


def test_the_template_is_the_header(db):
    assert csv_template() == ",".join(ALL_COLUMN_NAMES) + "\r\n"  # with the optional columns


def test_a_good_file_enrolls_everyone_with_consent_from_the_import(clinic, program, admin_user):
    data = "\n".join([HEADER, row(), row(first="Bo", last="Diaz", mobile="(202) 555-0112", email="bo@example.com",
                                         email_consent="Yes", language="Spanish", zone="America/Chicago")])
    progress = []
    result = run(data, imported_by=admin_user, progress=lambda *args: progress.append(args))
    assert result.ok and len(result.enrolled) == 2
    bo = Patient.objects.get(last_name="Diaz")
    assert (bo.mobile.as_e164, bo.language, bo.time_zone, bo.email_consent) == (
        "+12025550112", "es", "America/Chicago", True)
    assert set(ConsentEvent.objects.values_list("actor", "source", "recorded_by").distinct()) == {
        ("import", "CSV import", admin_user.pk)}
    assert progress[-1] == ("enrolling", 2, 2) and ("checking", 2, 2) in progress


def test_a_bom_and_windows_line_ends_are_fine(clinic, program):
    result = run(("\ufeff" + HEADER + "\r\n" + row() + "\r\n,,,,,,,,,,,,\r\n").encode("utf-8"))
    assert result.ok and len(result.enrolled) == 1


def test_columns_may_come_in_any_order(clinic, program):
    names = list(reversed(COLUMN_NAMES))
    values = list(reversed(row().split(",")))
    assert run(",".join(names) + "\n" + ",".join(values)).ok


def test_one_bad_row_enrolls_nobody_and_every_problem_is_named(clinic, program):
    data = "\n".join([HEADER, row(), row(first="Bo", mobile="12345"),
                      row(first="Cy", sms="maybe", anchor="06/02/2026", event="surgery"), row(program="nope")])
    result = run(data)
    assert not result.ok
    assert not Patient.objects.exists() and not Enrollment.objects.exists()
    found = {(e.line, e.column) for e in result.errors}
    assert found == {(3, "mobile"), (4, "sms_consent"), (4, "anchor_date"), (4, "anchor_event"), (5, "program")}
    assert str(next(e for e in result.errors if e.column == "anchor_date")) == (
        "line 4, column anchor_date: “06/02/2026” is not a date as YYYY-MM-DD.")


@pytest.mark.parametrize(("line", "words"), [
    (row(anchor="2026-06-09"), "in the future"),
    (row(event="diagnosis"), "does not start"),
    (row(mobile="", sms="yes"), "needed to send SMS"),
    (row(zone="Mars/Base"), "not a known time zone"),
    (row(first=""), "cannot be blank"),
])
def test_the_enrollment_rules_are_the_services(clinic, program, line, words):
    result = run(HEADER + "\n" + line)
    assert not result.ok
    assert words in " ".join(e.reason for e in result.errors)
    assert all(e.line == 2 for e in result.errors)


def test_a_row_without_any_channel_points_at_the_contact_columns(clinic, program):
    result = run(HEADER + "\n" + row(sms="no"))
    assert [(e.column, "no channel" in e.reason) for e in result.errors] == [("mobile/email", True)]


def test_a_clinic_not_offered_to_the_importer_is_refused(clinic, clinic_b, program):
    result = enrollment_csv_import(data=(HEADER + "\n" + row(clinic=clinic_b.name)).encode(),
                                   clinics=Clinic.objects.filter(pk=clinic.pk))
    assert [(e.line, e.column) for e in result.errors] == [(2, "clinic")]
    assert run(HEADER + "\n" + row(clinic=str(clinic.pk))).ok  # by id works too


def test_the_same_person_twice_or_already_a_patient_is_refused(clinic, program, patient):
    data = "\n".join([HEADER, row(), row(first="ANN", last="lee"),
                      row(first=patient.first_name, last=patient.last_name, mobile=str(patient.mobile))])
    result = run(data)
    assert {(e.line, e.reason.split(";")[0].split(" as ")[0]) for e in result.errors} == {
        (3, "the same patient and program"), (4, "already a patient of this clinic (same name and contact)")}


@pytest.mark.parametrize(("data", "expected"), [
    (b"", CsvError(0, "", "the file is empty; download the template and fill it in.")),
    (HEADER.encode(), CsvError(0, "", "the file has a header but no patients.")),
    (HEADER.replace(",", ";").encode(),
     CsvError(1, "", "columns must be separated by commas, not semicolons or tabs.")),
])
def test_file_level_problems_are_explained(db, data, expected):
    assert run(data).errors == [expected]


def test_missing_and_extra_columns_are_named(db):
    header = HEADER.replace("mobile,", "").replace("anchor_date", "anchor_date,ward")
    errors = run(header + "\n").errors
    assert [(e.line, e.column) for e in errors] == [(1, "mobile"), (1, "ward")]
    assert errors[0].reason == "missing column" and errors[1].reason.startswith("unknown column")


def test_a_file_not_in_utf8_says_where_and_what_to_do(db):
    data = (HEADER + "\n" + row(last="Muñoz")).encode("latin-1")
    [error] = run(data).errors
    assert error.line == 2 and "not UTF-8" in error.reason and "CSV UTF-8" in error.reason


def test_a_row_with_too_many_values_is_named(clinic, program):
    [error] = run(HEADER + "\n" + row() + ",extra").errors
    assert (error.line, error.reason) == (2, "14 values, expected 13 (one per column)")


def test_size_and_row_limits(clinic, program, settings):
    settings.CSV_IMPORT_MAX_ROWS = 2
    data = "\n".join([HEADER] + [row(first=f"P{i}", mobile=f"+1202555012{i}") for i in range(3)])
    assert "at most 2 per file" in run(data).errors[0].reason
    settings.CSV_IMPORT_MAX_BYTES = 100
    assert "at most 0 KB per file" in run(data).errors[0].reason


def test_check_only_writes_nothing(clinic, program):
    result = run(HEADER + "\n" + row(), check_only=True)
    assert result.ok and result.rows == 1 and result.enrolled == []
    assert not Patient.objects.exists()
