"""The "Needs action" page: the coordinator's own patients past a target, with one click to record
the missing milestone or note a call attempt."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reminders.models import ContactAttempt, Enrollment, Milestone, MilestoneKind
from tests.factories import CoordinatorFactory, EnrollmentFactory, PatientFactory, UserFactory
from tests.moments import DAY, NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

PAGE = "/admin/needs-action/"


def backdate(enrollment, days: int) -> None:
    Enrollment.objects.filter(pk=enrollment.pk).update(anchor_date=DAY - timedelta(days=days))


@pytest.fixture
def overdue(side_a, side_b):
    """Both clinics' patients enrolled 20 days ago: 6 days past a 14-day consultation target."""
    backdate(side_a.enrollment, 20)
    backdate(side_b.enrollment, 20)
    return side_a.patient


def test_the_index_links_to_the_page(coord_a_client):
    assert reverse("admin:followup_needs_action") == PAGE
    assert PAGE in coord_a_client.get(reverse("admin:index")).content.decode()


def test_a_coordinator_sees_their_patients_past_a_target_and_not_another_clinics(coord_a_client, overdue, side_b):
    response = coord_a_client.get(PAGE)
    assert response.status_code == 200
    [row] = response.context["rows"]
    assert row["patient"] == overdue and row["days_past"] == 6
    assert [(m["words"], m["days_past"]) for m in row["missed"]] == [("No consultation booked or attended", 6)]
    page = response.content.decode()
    assert reverse("admin:reminders_patient_change", args=[overdue.pk]) in page
    assert 'href="tel:+12025550101"' in page
    assert "Marsh" not in page and str(side_b.patient.mobile) not in page
    record = urlsplit(row["missed"][0]["record_url"])
    assert record.path == reverse("admin:reminders_patient_milestone_record", args=[overdue.pk])
    assert parse_qs(record.query) == {"kind": ["consultation_booked"], "next": [PAGE]}
    assert "1 patient needs action" in page


def test_one_click_opens_the_record_form_prefilled_and_recording_takes_the_patient_off(
        coord_a_client, overdue):
    [row] = coord_a_client.get(PAGE).context["rows"]
    form_page = coord_a_client.get(row["missed"][0]["record_url"])
    assert form_page.context["form"]["kind"].value() == "consultation_booked"
    address = reverse("admin:reminders_patient_milestone_record", args=[overdue.pk])
    data = {"kind": "consultation_booked", "date": "2026-06-09", "time": "10:00", "next": PAGE}
    preview = coord_a_client.post(address, data)
    response = coord_a_client.post(address, {**data, "confirmed": "True",
                                              "fingerprint": preview.context["fingerprint"]})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert coord_a_client.get(PAGE).context["rows"] == []


def test_a_call_attempt_is_noted_from_the_row_and_shown_as_the_last(coord_a_client, overdue, coord_a):
    page = coord_a_client.get(PAGE).content.decode()
    address = reverse("admin:reminders_patient_contact_attempt", args=[overdue.pk])
    assert f'action="{address}"' in page
    response = coord_a_client.post(address, {"note": "no answer", "next": PAGE})
    assert response.status_code == 302 and response["Location"] == PAGE
    [row] = coord_a_client.get(PAGE).context["rows"]
    assert row["last_attempt"] == {"when": "2 Jun 14:00 EDT", "note": "no answer", "by": "coord-a"}

    refused = coord_a_client.post(address, {"note": "", "next": PAGE})
    assert refused.status_code == 400 and "note" in refused.context["form"].errors
    assert ContactAttempt.objects.count() == 1


def test_another_clinics_patient_cannot_be_noted_or_recorded_from_here(coord_a_client, overdue, side_b):
    for name in ("contact_attempt", "milestone_record"):
        address = reverse(f"admin:reminders_patient_{name}", args=[side_b.patient.pk])
        assert coord_a_client.post(address, {"note": "x", "kind": "dxa_done", "date": "2026-06-01"}).status_code == 404
    assert not ContactAttempt.objects.exists() and not Milestone.objects.exists()


def test_the_page_needs_the_right_to_view_patients(client, overdue, clinic):
    user = UserFactory(username="no-rights")
    client.force_login(user)
    assert client.get(PAGE).status_code == 403
    client.logout()
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_coordinator_of_two_clinics_can_narrow_to_one(client, overdue, side_b, clinic, clinic_b):
    coordinator = CoordinatorFactory(user__username="coord-ab", clinic=clinic).user
    CoordinatorFactory(user=coordinator, clinic=clinic_b)
    client.force_login(coordinator)
    assert {row["patient"] for row in client.get(PAGE).context["rows"]} == {overdue, side_b.patient}
    narrowed = client.get(PAGE, {"clinic": clinic_b.pk})
    assert [row["patient"] for row in narrowed.context["rows"]] == [side_b.patient]
    assert "Hillcrest" in narrowed.content.decode()


def test_the_page_costs_the_same_queries_for_many_patients(coord_a_client, overdue, clinic, program):
    def add(n):
        for _ in range(n):
            enrollment = EnrollmentFactory(patient=PatientFactory(clinic=clinic), program=program)
            backdate(enrollment, 30)
            Milestone.objects.create(patient=enrollment.patient, kind=MilestoneKind.FALL, date=DAY)

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert len(coord_a_client.get(PAGE).context["rows"]) == 3
    add(20)
    with CaptureQueriesContext(connection) as many:
        assert len(coord_a_client.get(PAGE).context["rows"]) == 23
    assert len(few) == len(many), [q["sql"][:80] for q in many.captured_queries]
