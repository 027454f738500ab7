"""Record milestones from a CSV file in the admin: the coordinator's own clinics only, every problem at once,
nothing written unless every row is good."""

from datetime import date, time

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reminders.models import MessageStatus, Milestone, MilestoneKind, MilestoneSource
from reminders.services.milestones_import import MILESTONE_ALL_COLUMN_NAMES
from tests.factories import EnrollmentFactory, PatientFactory, UserFactory
from tests.moments import ENROLLED_AT, NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

URL = reverse("admin:followup_milestones_csv")
HEADER = ",".join(MILESTONE_ALL_COLUMN_NAMES)


def upload(client, *rows: str):
    text = "\n".join([HEADER, *rows]) + "\n"
    return client.post(URL, {"file": SimpleUploadedFile("milestones.csv", text.encode("utf-8"), "text/csv")})


@pytest.fixture
def patient_a(clinic):
    return PatientFactory(clinic=clinic, mrn="RSC-001")


@pytest.fixture
def patient_b(clinic_b):
    return PatientFactory(clinic=clinic_b, mrn="HFL-001", first_name="Edith", last_name="Marsh")


@pytest.fixture
def enrollment_a(patient_a, make_program):
    program = make_program(steps=[{"key": "day3-book-specialist", "offset_days": 3, "send_time": time(10),
                                   "until": [MilestoneKind.CONSULTATION_BOOKED]}])
    return EnrollmentFactory(patient=patient_a, program=program, enrolled_at=ENROLLED_AT)


def test_the_patient_list_leads_to_the_page_which_lists_the_columns_and_its_template(coord_a_client):
    assert URL in coord_a_client.get(reverse("admin:reminders_patient_changelist")).content.decode()
    page = coord_a_client.get(URL)
    assert page.status_code == 200
    assert [name for name, _ in page.context["columns"]] == MILESTONE_ALL_COLUMN_NAMES
    template = coord_a_client.get(reverse("admin:followup_milestones_csv_template"))
    assert template["Content-Disposition"] == 'attachment; filename="milestones-template.csv"'
    assert template.content.decode() == HEADER + "\r\n"


def test_a_good_upload_records_every_row_as_the_coordinator_and_the_schedule_follows(
        coord_a_client, coord_a, enrollment_a, patient_a, clinic):
    response = upload(coord_a_client, "Riverside Spine Clinic,RSC-001,consultation_booked,2026-06-12 14:30,Dr Ruiz",
                      f"{clinic.pk},RSC-001,dxa_done,2026-06-01,")
    assert response.status_code == 302 and response["Location"] == reverse("admin:reminders_patient_changelist")
    assert [(m.patient, m.kind, m.date, m.source, m.recorded_by) for m in Milestone.objects.order_by("pk")] == [
        (patient_a, MilestoneKind.CONSULTATION_BOOKED, date(2026, 6, 12), MilestoneSource.IMPORT, coord_a),
        (patient_a, MilestoneKind.DXA_DONE, date(2026, 6, 1), MilestoneSource.IMPORT, coord_a),
    ]
    assert enrollment_a.messages.get().status == MessageStatus.CANCELLED
    assert LogEntry.objects.filter(user=coord_a, action_flag=ADDITION).count() == 2
    shown = [str(m) for m in coord_a_client.get(response["Location"]).context["messages"]]
    assert shown == ["Recorded 2 milestones from the CSV file."]


def test_another_clinics_patient_is_out_of_reach_by_its_clinic_or_its_record_number(
        coord_a_client, enrollment_a, patient_b, clinic_b):
    response = upload(coord_a_client,
                      "Riverside Spine Clinic,RSC-001,consultation_attended,2026-06-02,",  # a good row
                      "Hillcrest Fracture Liaison Service,HFL-001,dxa_done,2026-06-01,",
                      f"{clinic_b.pk},HFL-001,dxa_done,2026-06-01,",
                      "Riverside Spine Clinic,HFL-001,dxa_done,2026-06-01,")
    assert response.status_code == 200
    assert [str(e) for e in response.context["result"].errors] == [
        "line 3, column clinic: no clinic “Hillcrest Fracture Liaison Service” that you can record milestones for.",
        f"line 4, column clinic: no clinic “{clinic_b.pk}” that you can record milestones for.",
        "line 5, column mrn: no patient with medical record number “HFL-001” in Riverside Spine Clinic.",
    ]
    assert not Milestone.objects.exists()
    assert enrollment_a.messages.get().status == MessageStatus.PENDING


def test_every_problem_is_listed_at_once_and_nothing_is_written(coord_a_client, enrollment_a):
    response = upload(coord_a_client,
                      "Riverside Spine Clinic,RSC-001,consultation_booked,2026-06-12 14:30,",  # a good row
                      "Riverside Spine Clinic,RSC-404,dxa_done,2026-06-01,",
                      "Riverside Spine Clinic,RSC-001,dxa_scan,2026-06-01,",
                      "Riverside Spine Clinic,RSC-001,dxa_done,1 June,",
                      "Riverside Spine Clinic,RSC-001,fall,2026-06-01 07:45,",
                      "Riverside Spine Clinic,RSC-001,treatment_started,2026-07-01,")
    page = response.content.decode()
    assert "5 problems found; nothing was recorded." in page
    assert [(e.line, e.column) for e in response.context["result"].errors] == [
        (3, "mrn"), (4, "milestone"), (5, "date"), (6, "date"), (7, "date")]
    assert page.count("<tr><td>") == 5 + len(MILESTONE_ALL_COLUMN_NAMES)  # the problems, then the columns
    assert not Milestone.objects.exists() and not LogEntry.objects.exists()
    assert not enrollment_a.messages.filter(milestone__isnull=False).exists()


def test_a_file_over_the_limit_is_refused_before_reading(coord_a_client, patient_a, settings):
    settings.CSV_IMPORT_MAX_BYTES = 20
    response = upload(coord_a_client, "Riverside Spine Clinic,RSC-001,fall,2026-06-01,")
    assert "at most 0 KB per file" in " ".join(response.context["form"].errors["file"])
    assert not Milestone.objects.exists()


def test_a_staff_user_who_may_not_change_patients_gets_no_page(client, db):
    client.force_login(UserFactory(username="reader"))
    assert client.get(URL).status_code == 403
    assert client.get(reverse("admin:followup_milestones_csv_template")).status_code == 403
