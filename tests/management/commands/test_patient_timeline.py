"""`manage.py patient_timeline --clinic CLINIC --mrn MRN [--json]`: a patient's road and schedule, in their zone.

New York leaves daylight saving time on Sunday 1 November 2026: the patient is
enrolled on 27 October (EDT, UTC-4) and books a consultation for 3 November
(EST, UTC-5), so the timeline's offsets change in the middle.
"""

import json
from datetime import date, time, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reminders.models import MilestoneKind, MilestoneSource
from reminders.services.milestones import milestone_record
from tests.factories import EnrollmentFactory, UserFactory
from tests.moments import utc

ANCHOR_DAY = date(2026, 10, 27)
pytestmark = pytest.mark.time_machine(utc(2026, 10, 27, 18, 0), tick=False)  # 14:00 EDT on the anchor day

BOOKED = MilestoneKind.CONSULTATION_BOOKED


@pytest.fixture
def patient(make_patient):
    return make_patient(mrn="RSC-001")


@pytest.fixture
def enrollment(patient, make_program):
    program = make_program(slug="spine-care", steps=[
        {"key": "day0-welcome", "offset_days": 0, "send_time": time(10), "topic": "warning_signs"},
        {"key": "day3-book-specialist", "offset_days": 3, "send_time": time(10), "topic": "specialist_consultation",
         "until": [BOOKED, MilestoneKind.CONSULTATION_ATTENDED]},
        {"key": "day8-keep-moving", "offset_days": 8, "send_time": time(10), "topic": "early_mobilization"},
        {"key": "consultation-evening-before", "relative_to": BOOKED, "offset_days": -1, "send_time": time(18),
         "topic": "specialist_consultation", "template": "test/appointment"},
        {"key": "consultation-two-hours-before", "relative_to": BOOKED, "offset_days": 0, "offset_hours": -2,
         "send_time": time(0), "topic": "specialist_consultation", "template": "test/appointment",
         "max_lateness": timedelta(hours=1)},
    ])
    return EnrollmentFactory(patient=patient, program=program, anchor_date=ANCHOR_DAY,
                             enrolled_at=utc(2026, 10, 27, 13, 0))


@pytest.fixture
def milestones(enrollment, patient):
    coordinator = UserFactory(username="coord-a")
    milestone_record(patient=patient, kind=MilestoneKind.DXA_DONE, on=ANCHOR_DAY, source=MilestoneSource.IMPORT)
    return milestone_record(patient=patient, kind=BOOKED, on=date(2026, 11, 3), at=time(14, 30),
                            detail="Dr Ruiz", recorded_by=coordinator)


def timeline(*args: str) -> str:
    out = StringIO()
    call_command("patient_timeline", *args, stdout=out)
    return out.getvalue()


def test_the_json_timeline_gives_each_message_in_the_patients_zone_across_the_dst_change(milestones, clinic):
    booked = "consultation booked for 3 Nov 14:30, recorded by coord-a"
    assert json.loads(timeline("--clinic", "Riverside Spine Clinic", "--mrn", "RSC-001", "--json")) == {
        "milestones": [
            {"kind": "dxa_done", "date": "2026-10-27", "time": None, "recorded_by": None},
            {"kind": "consultation_booked", "date": "2026-11-03", "time": "14:30", "recorded_by": "coord-a"},
        ],
        "enrollments": [{"program": "spine-care", "status": "active", "messages": [
            {"step": "day0-welcome", "topic": "warning_signs", "channel": "sms", "relative_to": "anchor",
             "scheduled_local": "2026-10-27T10:00:00-04:00", "status": "pending", "reason": ""},
            {"step": "day3-book-specialist", "topic": "specialist_consultation", "channel": "sms",
             "relative_to": "anchor", "scheduled_local": "2026-10-30T10:00:00-04:00", "status": "cancelled",
             "reason": booked},
            {"step": "consultation-evening-before", "topic": "specialist_consultation", "channel": "sms",
             "relative_to": "consultation_booked", "scheduled_local": "2026-11-02T18:00:00-05:00",
             "status": "pending", "reason": ""},
            {"step": "consultation-two-hours-before", "topic": "specialist_consultation", "channel": "sms",
             "relative_to": "consultation_booked", "scheduled_local": "2026-11-03T12:30:00-05:00",
             "status": "pending", "reason": ""},
            {"step": "day8-keep-moving", "topic": "early_mobilization", "channel": "sms", "relative_to": "anchor",
             "scheduled_local": "2026-11-04T10:00:00-05:00", "status": "pending", "reason": ""},
        ]}],
    }


def test_the_clinic_may_be_named_by_its_id_in_any_case_of_its_name(milestones, clinic):
    by_name = timeline("--clinic", "riverside spine clinic", "--mrn", "RSC-001", "--json")
    assert timeline("--clinic", str(clinic.pk), "--mrn", "RSC-001", "--json") == by_name


def test_without_json_the_timeline_reads_as_lines(milestones, clinic, patient):
    lines = timeline("--clinic", "Riverside Spine Clinic", "--mrn", "RSC-001").splitlines()
    assert lines[:5] == [
        f"Patient {patient.pk} of Riverside Spine Clinic; times in America/New_York.",
        "",
        "Milestones:",
        "  2026-10-27        dxa_done             from csv upload",
        "  2026-11-03 14:30  consultation_booked  recorded by coord-a",
    ]
    assert lines[6] == "spine-care: active, anchor pvp on 2026-10-27"
    no_milestone = " " * len("from consultation_booked")  # the column of what a reminder is timed from
    assert lines[8] == ("  2026-10-30 10:00 EDT  day3-book-specialist           sms  specialist_consultation  "
                        f"{no_milestone}  cancelled: consultation booked for 3 Nov 14:30, recorded by coord-a")
    assert lines[9] == ("  2026-11-02 18:00 EST  consultation-evening-before    sms  specialist_consultation"
                        "  from consultation_booked  pending")
    assert len(lines) == 12


def test_a_patient_without_milestones_or_enrollments(patient):
    lines = timeline("--clinic", "Riverside Spine Clinic", "--mrn", "RSC-001").splitlines()
    assert lines[2:] == ["Milestones:", "  none recorded", "", "Not enrolled in any program."]
    assert json.loads(timeline("--clinic", "Riverside Spine Clinic", "--mrn", "RSC-001", "--json")) == {
        "milestones": [], "enrollments": []}


def test_an_unknown_clinic_or_record_number_is_a_clear_error(patient, clinic_b):
    with pytest.raises(CommandError, match=r"^No clinic named 'Nowhere' or with that id\.$"):
        timeline("--clinic", "Nowhere", "--mrn", "RSC-001")
    with pytest.raises(CommandError, match=r"^No patient with medical record number 'RSC-404' in Riverside"):
        timeline("--clinic", "Riverside Spine Clinic", "--mrn", "RSC-404")
    # The record number is the clinic's own: another clinic has no such patient.
    with pytest.raises(CommandError, match=r"^No patient with medical record number 'RSC-001' in Hillcrest"):
        timeline("--clinic", str(clinic_b.pk), "--mrn", "RSC-001")
    with pytest.raises(CommandError, match="No patient with medical record number '' in"):
        timeline("--clinic", "Riverside Spine Clinic", "--mrn", "")
