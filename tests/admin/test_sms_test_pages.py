import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


def test_a_test_sms_to_a_patient_from_their_page(coord_a_client, side_a, coord_a, sms_outbox):
    url = reverse("admin:reminders_patient_sms_test", args=[side_a.patient.pk])
    confirm = coord_a_client.get(url)
    assert "a test message from the follow-up service" in confirm.content.decode()
    assert sms_outbox == []
    response = coord_a_client.post(url, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Test SMS sent to the patient's mobile (…01)."]
    assert [sms.to for sms in sms_outbox] == ["+12025550101"]
    assert LogEntry.objects.filter(user=coord_a, object_id=str(side_a.patient.pk)).exists()


def test_a_test_sms_to_ones_own_number(coord_a_client, coord_a, sms_outbox):
    url = reverse("admin:followup_sms_test_self")
    page = coord_a_client.get(url)
    role = page.context["form"].fields["role"].queryset.get()
    response = coord_a_client.post(url, {"role": role.pk}, follow=True)
    assert "Test SMS sent to your mobile (…99)." in response.content.decode()
    assert [sms.to for sms in sms_outbox] == ["+12025550199"]


def test_no_test_sms_to_someone_elses_number(coord_a_client, make_coordinator, clinic_b, sms_outbox):
    other = make_coordinator(username="coord-b", clinic=clinic_b, mobile="+447911123456")
    response = coord_a_client.post(reverse("admin:followup_sms_test_self"),
                                   {"role": other.coordinator_roles.get().pk})
    assert response.status_code == 200 and "role" in response.context["form"].errors
    assert sms_outbox == []


def test_the_page_says_why_a_patient_cannot_get_the_test_sms(coord_a_client, side_a, sms_outbox):
    from reminders.models import Patient

    Patient.objects.filter(pk=side_a.patient.pk).update(sms_consent=False)
    url = reverse("admin:reminders_patient_sms_test", args=[side_a.patient.pk])
    assert coord_a_client.get(url).context["problem"] == "The patient has not agreed to SMS; no test text is sent."
    coord_a_client.post(url)
    assert sms_outbox == []
