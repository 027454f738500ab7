from dataclasses import replace
from datetime import time

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory

from reminders.models import (
    Clinic,
    ConsentEvent,
    Coordinator,
    Enrollment,
    Escalation,
    InboundMessage,
    Milestone,
)
from reminders.selectors.clinic_scoping import queryset_for_user
from reminders.services.coordinator_group import COORDINATOR_GROUP
from reminders.services.demo import demo_seed


@pytest.fixture
def programs(make_program):
    steps = [{"key": "consult", "offset_days": 1, "send_time": time(10), "topic": "specialist_consultation",
              "until": ["consultation_booked"]},
             {"key": "later", "offset_days": 7, "send_time": time(10)},
             {"key": "evening-before", "relative_to": "consultation_booked", "offset_days": -1,
              "send_time": time(18), "template": "test/appointment"}]
    return [make_program(slug="procedure", kind="after_procedure", steps=steps),
            make_program(slug="diagnosis", kind="after_diagnosis", steps=steps)]


def test_the_demo_has_a_coordinator_per_clinic_patients_in_several_states_and_replies(programs):
    result = demo_seed(password="demo-pass-123")
    again = demo_seed(password="demo-pass-123")  # resets, never duplicates
    assert (again.clinics, again.patients, again.replies, again.open_escalations) == (2, 7, 3, 1)
    assert replace(result, kept_logins=()) == replace(again, kept_logins=())
    assert (result.kept_logins, again.kept_logins) == ((), ("admin", "coord-a", "coord-b"))

    clinic_a = Clinic.objects.get(name="Riverside Spine and Bone Clinic")
    clinic_b = Clinic.objects.get(name="Hillcrest Fracture Liaison Service")
    assert clinic_a.address and clinic_b.address  # quoted in the appointment reminders
    roles = {(c.user.username, c.clinic_id) for c in Coordinator.objects.select_related("user")}
    assert roles == {("coord-a", clinic_a.pk), ("coord-b", clinic_b.pk)}
    for username in ("admin", "coord-a", "coord-b"):
        user = authenticate(RequestFactory().post("/admin/login/"), username=username, password="demo-pass-123")
        assert user and user.is_staff
        if username != "admin":
            assert list(user.groups.values_list("name", flat=True)) == [COORDINATOR_GROUP]
            assert user.has_perm("reminders.change_enrollment") and not user.has_perm("reminders.delete_patient")

    assert set(Enrollment.objects.values_list("status", flat=True)) == {"active", "paused", "cancelled"}
    # A patient with a consultation booked: the road shows it, its reminder waits (and a reset clears both).
    booked = Milestone.objects.get()
    assert (booked.kind, booked.recorded_by.username) == ("consultation_booked", "coord-a")
    assert booked.reminders.get().status == "pending"
    assert InboundMessage.objects.count() == 3
    open_escalation = Escalation.objects.get(acknowledged_at__isnull=True)
    assert (open_escalation.clinic, open_escalation.urgency) == (clinic_a, 1)
    assert Escalation.objects.get(acknowledged_at__isnull=False).acknowledged_by.username == "coord-b"
    assert ConsentEvent.objects.filter(actor="coordinator", given=True).count() == 14  # SMS and email, 7 patients

    coord_a = Coordinator.objects.get(user__username="coord-a").user
    visible = queryset_for_user(queryset=Enrollment.objects.all(), user=coord_a, clinic_path="patient__clinic")
    assert {e.patient.clinic_id for e in visible} == {clinic_a.pk} and visible.count() == 4


def test_an_existing_login_keeps_its_password_and_rights(programs, django_user_model):
    """On a deployment "admin" may be a real account: the demo never resets it to the demo password."""
    own = django_user_model.objects.create_user(username="admin", password="their-own-long-password",
                                                is_staff=True)
    result = demo_seed(password="demo-pass-123")

    own.refresh_from_db()
    request = RequestFactory().post("/admin/login/")
    assert authenticate(request, username="admin", password="their-own-long-password") == own
    assert authenticate(request, username="admin", password="demo-pass-123") is None
    assert (own.is_staff, own.is_superuser) == (True, False)
    assert result.kept_logins == ("admin",)
    # The logins it made itself have the demo password.
    assert authenticate(request, username="coord-a", password="demo-pass-123")
