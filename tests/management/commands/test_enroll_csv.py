"""`manage.py enroll_csv FILE`: the admin upload's check and enrollment, from a shell."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reminders.models import Enrollment, Patient
from reminders.services.csv_import import COLUMN_NAMES
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

HEADER = ",".join(COLUMN_NAMES)
ROW = "Riverside Spine Clinic,{first},Lee,{mobile},,yes,no,,,,test-procedure,pvp,2026-06-02"


def write(tmp_path, *rows):
    path = tmp_path / "patients.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_enroll_csv_enrolls_the_file_with_a_progress_bar(tmp_path, clinic, program, admin_user):
    path = write(tmp_path, ROW.format(first="Ann", mobile="+12025550111"),
                 ROW.format(first="Bo", mobile="+12025550112"))
    out, err = StringIO(), StringIO()
    call_command("enroll_csv", str(path), "--user", admin_user.username, stdout=out, stderr=err)
    assert "Enrolled 2 patients from patients.csv." in out.getvalue()
    assert "Checking" in err.getvalue() and "Enrolling" in err.getvalue() and "2/2" in err.getvalue()
    assert set(Enrollment.objects.values_list("enrolled_by", flat=True)) == {admin_user.pk}


def test_enroll_csv_lists_every_problem_and_enrolls_nobody(tmp_path, clinic, program):
    path = write(tmp_path, ROW.format(first="Ann", mobile="+12025550111"), ROW.format(first="Bo", mobile="12"))
    err = StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("enroll_csv", str(path), "--no-progress", stdout=StringIO(), stderr=err)
    assert "line 3, column mobile:" in err.getvalue()
    assert not Patient.objects.exists()


def test_enroll_csv_check_only(tmp_path, clinic, program):
    out = StringIO()
    call_command("enroll_csv", str(write(tmp_path, ROW.format(first="Ann", mobile="+12025550111"))), "--check",
                 "--no-progress", stdout=out, stderr=StringIO())
    assert "1 rows checked" in out.getvalue() and not Patient.objects.exists()


def test_enroll_csv_names_a_missing_file_or_user(tmp_path, db):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("enroll_csv", str(tmp_path / "nope.csv"))
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("enroll_csv", str(write(tmp_path)), "--user", "ghost")
