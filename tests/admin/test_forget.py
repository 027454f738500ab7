import pytest
from django.urls import reverse

from reminders.models import Patient
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


def test_an_admin_forgets_a_patient_from_the_list_and_the_page_becomes_read_only(admin_client, side_a):
    url = reverse("admin:reminders_patient_changelist")
    response = admin_client.post(url, {"action": "forget_patients", "_selected_action": [side_a.patient.pk]})
    assert response.status_code == 302
    patient = Patient.objects.get(pk=side_a.patient.pk)
    assert patient.forgotten_at is not None
    assert "Margaret" not in patient.first_name and "Okafor" not in patient.last_name
    page = admin_client.get(reverse("admin:reminders_patient_change", args=[patient.pk])).content.decode()
    assert 'name="_save"' not in page


def test_a_coordinator_cannot_forget_patients(coord_a_client, side_a):
    url = reverse("admin:reminders_patient_changelist")
    actions = coord_a_client.get(url).context["action_form"].fields["action"].choices
    assert "forget_patients" not in [value for value, _ in actions]
    coord_a_client.post(url, {"action": "forget_patients", "_selected_action": [side_a.patient.pk]})
    assert Patient.objects.get(pk=side_a.patient.pk).forgotten_at is None
