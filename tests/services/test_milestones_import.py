"""Milestones from a CSV file: every row checked first, all recorded in one go or none, the schedule following."""

from datetime import date, time

import pytest

from reminders.models import Clinic, Message, MessageStatus, Milestone, MilestoneKind, MilestoneSource
from reminders.services.milestones import milestone_withdraw
from reminders.services.milestones_import import (
    MILESTONE_ALL_COLUMN_NAMES,
    MILESTONE_COLUMN_NAMES,
    milestone_csv_import,
)
from tests.factories import EnrollmentFactory, MilestoneFactory, PatientFactory, UserFactory
from tests.moments import DAY, ENROLLED_AT, NOW, utc

pytestmark = pytest.mark.time_machine(NOW, tick=False)  # 2 June 2026, 14:00 in New York (EDT)

BOOKED = MilestoneKind.CONSULTATION_BOOKED
ATTENDED = MilestoneKind.CONSULTATION_ATTENDED
HEADER = ",".join(MILESTONE_ALL_COLUMN_NAMES)


def csv(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows]).encode()


@pytest.fixture
def program(make_program):
    """A specialist text that stops once a consultation is booked or attended, a text that listens to nothing,
    and a reminder the evening before a booked consultation."""
    return make_program(steps=[
        {"key": "day3-book-specialist", "offset_days": 3, "send_time": time(10), "until": [BOOKED, ATTENDED]},
        {"key": "day8-keep-moving", "offset_days": 8, "send_time": time(10)},
        {"key": "consultation-evening-before", "relative_to": BOOKED, "offset_days": -1, "send_time": time(18),
         "template": "test/appointment"},
    ])


@pytest.fixture
def patient(make_patient):
    return make_patient(mrn="RSC-001")


@pytest.fixture
def enrollment(patient, program):
    return EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)


def by_step(enrollment) -> dict[str, tuple[str, str]]:
    return {m.step.key: (m.status, m.reason) for m in enrollment.messages.select_related("step")}


def test_a_good_file_records_every_row_and_the_schedule_follows(enrollment, patient, clinic):
    importer = UserFactory(username="coord-a")
    other = PatientFactory(clinic=clinic, mrn="RSC-002", first_name="Edith")
    data = csv(
        "Riverside Spine Clinic,RSC-001,consultation_booked,2026-06-12 14:30,Dr Ruiz, spine clinic",
        f"{clinic.pk},RSC-002,dxa_done,2026-06-01,",
        "riverside spine clinic, RSC-001 ,Consultation attended,2026-06-02,",
    )
    # A detail with a comma must be quoted: the unquoted one above is a row of six values.
    assert [str(e) for e in milestone_csv_import(data=data, clinics=Clinic.objects.all()).errors] == [
        "line 2: 6 values, expected 5 (one per column)"]
    data = data.replace(b"Dr Ruiz, spine clinic", b'"Dr Ruiz, spine clinic"')

    result = milestone_csv_import(data=data, clinics=Clinic.objects.all(), recorded_by=importer)

    assert result.ok and result.rows == 3
    assert [(m.patient, m.kind, m.date, m.time, m.detail, m.source, m.recorded_by) for m in result.recorded] == [
        (patient, BOOKED, date(2026, 6, 12), time(14, 30), "Dr Ruiz, spine clinic", MilestoneSource.IMPORT, importer),
        (other, MilestoneKind.DXA_DONE, date(2026, 6, 1), None, "", MilestoneSource.IMPORT, importer),
        (patient, ATTENDED, DAY, None, "", MilestoneSource.IMPORT, importer),
    ]
    after = by_step(enrollment)
    # Cancelled by the first of the file's rows it listens to: the booking, recorded first.
    assert after["day3-book-specialist"] == (
        MessageStatus.CANCELLED, "consultation booked for 12 Jun 14:30, recorded by coord-a")
    assert after["day8-keep-moving"] == (MessageStatus.PENDING, "")
    reminder = enrollment.messages.get(step__key="consultation-evening-before")
    assert (reminder.status, reminder.scheduled_at) == (MessageStatus.PENDING, utc(2026, 6, 11, 22, 0))
    assert reminder.milestone == result.recorded[0]


def test_every_problem_of_every_row_is_listed_and_nothing_is_recorded(enrollment, patient, clinic, clinic_b):
    PatientFactory(clinic=clinic_b, mrn="HFL-9")
    data = csv(
        "Riverside Spine Clinic,RSC-404,dxa_done,2026-06-01,",  # no such record number in the clinic
        "Riverside Spine Clinic,RSC-001,scan_done,2026-06-01,",  # no such milestone
        "Riverside Spine Clinic,RSC-001,dxa_done,2026-13-01,",  # no such date
        "Riverside Spine Clinic,RSC-001,dxa_done,2026-06-01 09:00,",  # a time on what is no appointment
        "Riverside Spine Clinic,RSC-001,treatment_started,2026-06-20,",  # only an appointment lies ahead
        "Hillcrest Fracture Liaison Service,HFL-9,dxa_done,2026-06-01,",  # a clinic the importer cannot reach
        "Riverside Spine Clinic,RSC-001,consultation_booked,2026-06-12 14:30,",  # a good row: not recorded either
        "Nowhere Clinic,,,12/06/2026,",  # every column at once
    )
    coordinator_clinics = Clinic.objects.filter(pk=clinic.pk)

    result = milestone_csv_import(data=data, clinics=coordinator_clinics)

    assert [str(e) for e in result.errors] == [
        "line 2, column mrn: no patient with medical record number “RSC-404” in Riverside Spine Clinic.",
        "line 3, column milestone: “scan_done” is not a milestone; one of: " + ", ".join(MilestoneKind.values) + ".",
        "line 4, column date: “2026-13-01” is not a date as YYYY-MM-DD (or YYYY-MM-DD HH:MM for an appointment).",
        "line 5, column date: Only an appointment (a consultation or a scan booked) has a time.",
        "line 6, column date: 2026-06-20 is in the future; only an appointment can be.",
        "line 7, column clinic: no clinic “Hillcrest Fracture Liaison Service” that you can record milestones for.",
        "line 9, column clinic: no clinic “Nowhere Clinic” that you can record milestones for.",
        "line 9, column mrn: required.",
        "line 9, column milestone: required.",
        "line 9, column date: “12/06/2026” is not a date as YYYY-MM-DD (or YYYY-MM-DD HH:MM for an appointment).",
    ]
    assert not result.recorded and not Milestone.objects.exists()
    assert by_step(enrollment)["day3-book-specialist"] == (MessageStatus.PENDING, "")
    assert not enrollment.messages.filter(milestone__isnull=False).exists()


def test_a_row_twice_in_the_file_or_already_on_file_is_refused(enrollment, patient):
    on_file = MilestoneFactory(patient=patient, kind=MilestoneKind.DXA_DONE, date=date(2026, 6, 1))
    withdrawn = MilestoneFactory(patient=patient, kind=ATTENDED, date=DAY)
    milestone_withdraw(milestone=withdrawn, reason="wrong patient")
    data = csv(
        "Riverside Spine Clinic,RSC-001,consultation_booked,2026-06-12 14:30,",
        "Riverside Spine Clinic,RSC-001,consultation_booked,2026-06-12 15:00,",  # the same day, another time
        "Riverside Spine Clinic,RSC-001,dxa_done,2026-06-01,",
        "Riverside Spine Clinic,RSC-001,consultation_attended,2026-06-02,",  # only a withdrawn one on file: fine
    )

    result = milestone_csv_import(data=data, clinics=Clinic.objects.all())

    assert [str(e) for e in result.errors] == [
        "line 3: the same patient, milestone and date as line 2.",
        "line 4: dxa_done on 2026-06-01 is already recorded for this patient; "
        "correct or withdraw it on the patient's page instead.",
    ]
    assert list(Milestone.objects.order_by("pk")) == [on_file, withdrawn]


def test_check_only_records_nothing(enrollment, patient):
    result = milestone_csv_import(data=csv("Riverside Spine Clinic,RSC-001,consultation_attended,2026-06-02,"),
                                  clinics=Clinic.objects.all(), check_only=True)
    assert result.ok and result.rows == 1 and not result.recorded
    assert not Milestone.objects.exists()


def test_the_detail_column_may_be_left_out_and_an_appointment_may_lie_ahead(enrollment, patient):
    data = csv("Riverside Spine Clinic,RSC-001,dxa_booked,2026-07-01", header=",".join(MILESTONE_COLUMN_NAMES))
    result = milestone_csv_import(data=data, clinics=Clinic.objects.all())
    assert result.ok
    assert [(m.kind, m.date, m.time, m.detail) for m in result.recorded] == [
        (MilestoneKind.DXA_BOOKED, date(2026, 7, 1), None, "")]


@pytest.mark.parametrize(("text", "reason"), [
    (HEADER + "\n", "file: the file has a header but no milestones."),
    ("clinic,mrn,milestone,when\n", "line 1, column date: missing column"),
    ("\ufeff" + HEADER + "\nRiverside Spine Clinic,RSC-001,fall,2026-06-01,\u00e9\u00e9\u00e9" + "x" * 200 + "\n",
     "line 2, column detail: Ensure this value has at most 200 characters (it has 203)."),
])
def test_the_file_itself_and_the_detail_are_checked_as_for_enrollments(enrollment, patient, text, reason):
    result = milestone_csv_import(data=text.encode("utf-8"), clinics=Clinic.objects.all())
    assert reason in [str(e) for e in result.errors]
    assert not Milestone.objects.exists()


def test_too_many_rows_are_refused_as_milestones(patient, settings):
    settings.CSV_IMPORT_MAX_ROWS = 1
    row = "Riverside Spine Clinic,RSC-001,fall,2026-06-01,"
    result = milestone_csv_import(data=csv(row, row.replace("fall", "admitted")), clinics=Clinic.objects.all())
    assert [str(e) for e in result.errors] == ["file: the file has 2 milestones; at most 1 per file."]


def test_rows_are_recorded_in_file_order_so_a_patients_later_row_sees_the_earlier(enrollment, patient):
    data = csv(
        "Riverside Spine Clinic,RSC-001,consultation_booked,2026-06-12 14:30,",
        "Riverside Spine Clinic,RSC-001,died,2026-06-02,",
    )
    result = milestone_csv_import(data=data, clinics=Clinic.objects.all())
    assert result.ok
    enrollment.refresh_from_db()
    assert enrollment.status == "cancelled" and enrollment.ended_by == result.recorded[1]
    # The reminder planned by the booking was cancelled when the death ended the enrollment.
    assert set(Message.objects.filter(enrollment=enrollment).values_list("status", flat=True)) == {
        MessageStatus.CANCELLED}
