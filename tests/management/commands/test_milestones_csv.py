"""`manage.py milestones_csv FILE`: the admin upload's check and recording, from a shell."""

from datetime import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reminders.models import MessageStatus, Milestone, MilestoneKind, MilestoneSource
from reminders.services.milestones_import import MILESTONE_ALL_COLUMN_NAMES
from tests.factories import EnrollmentFactory
from tests.moments import ENROLLED_AT, NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

HEADER = ",".join(MILESTONE_ALL_COLUMN_NAMES)
BOOKED = "Riverside Spine Clinic,RSC-001,consultation_booked,2026-06-12 14:30,Dr Ruiz"


def write(tmp_path, *rows):
    path = tmp_path / "milestones.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def patient(make_patient):
    return make_patient(mrn="RSC-001")


@pytest.fixture
def enrollment(patient, make_program):
    program = make_program(steps=[{"key": "day3-book-specialist", "offset_days": 3, "send_time": time(10),
                                   "until": [MilestoneKind.CONSULTATION_BOOKED]}])
    return EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)


def test_milestones_csv_records_the_file_as_the_user_named(tmp_path, enrollment, patient, admin_user):
    out = StringIO()
    call_command("milestones_csv", str(write(tmp_path, BOOKED)), "--user", admin_user.username, stdout=out)
    assert out.getvalue() == "Recorded 1 milestone from milestones.csv.\n"
    milestone = Milestone.objects.get()
    assert (milestone.patient, milestone.kind, milestone.source, milestone.recorded_by) == (
        patient, MilestoneKind.CONSULTATION_BOOKED, MilestoneSource.IMPORT, admin_user)
    assert enrollment.messages.get().status == MessageStatus.CANCELLED  # the step listening to it


def test_milestones_csv_without_user_records_none(tmp_path, enrollment):
    call_command("milestones_csv", str(write(tmp_path, BOOKED)), stdout=StringIO())
    assert Milestone.objects.get().recorded_by is None


def test_milestones_csv_lists_every_problem_and_records_nothing(tmp_path, enrollment):
    path = write(tmp_path, BOOKED, "Riverside Spine Clinic,RSC-404,fall,2026-06-01,",
                 "Riverside Spine Clinic,RSC-001,fall,2026-06-01 08:00,")
    err = StringIO()
    with pytest.raises(CommandError, match=r"^2 problem\(s\) in milestones.csv; nothing was recorded.$"):
        call_command("milestones_csv", str(path), stdout=StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "line 3, column mrn: no patient with medical record number “RSC-404” in Riverside Spine Clinic.",
        "line 4, column date: Only an appointment (a consultation or a scan booked) has a time.",
    ]
    assert not Milestone.objects.exists()
    assert enrollment.messages.get().status == MessageStatus.PENDING


def test_milestones_csv_check_records_nothing(tmp_path, enrollment):
    out = StringIO()
    call_command("milestones_csv", str(write(tmp_path, BOOKED)), "--check", stdout=out)
    assert out.getvalue() == "1 rows checked: all can be recorded.\n"
    assert not Milestone.objects.exists()
    assert enrollment.messages.get().status == MessageStatus.PENDING


def test_milestones_csv_names_a_missing_file_or_user(tmp_path, db):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("milestones_csv", str(tmp_path / "nope.csv"))
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("milestones_csv", str(write(tmp_path, BOOKED)), "--user", "ghost")
