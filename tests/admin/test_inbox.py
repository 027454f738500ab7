from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reminders.models import Escalation, InboundMessage, Urgency
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


def test_escalations_list_open_first_then_urgent_then_newest(coord_a_client, side_a, coord_a):
    now = timezone.now()
    Escalation.objects.create(clinic=side_a.clinic, patient=side_a.patient, kind="check_in",
                                        urgency=Urgency.ROUTINE, summary="routine")
    old_urgent = Escalation.objects.create(clinic=side_a.clinic, patient=side_a.patient, kind="red_flag",
                                           urgency=Urgency.URGENT, summary="old urgent")
    Escalation.objects.create(clinic=side_a.clinic, patient=side_a.patient, kind="red_flag",
                                     urgency=Urgency.URGENT, summary="done", acknowledged_at=now,
                                     acknowledged_by=coord_a)
    Escalation.objects.filter(pk=old_urgent.pk).update(created_at=now - timedelta(days=2))
    response = coord_a_client.get(reverse("admin:reminders_escalation_changelist"))
    assert [e.summary for e in response.context["cl"].result_list] == [
        side_a.escalation.summary, "old urgent", "routine", "done"]
    assert "open 2 d 0 h" in response.content.decode()


def test_acknowledging_from_the_page_records_who_and_when(coord_a_client, side_a, coord_a):
    url = reverse("admin:reminders_escalation_change", args=[side_a.escalation.pk])
    page = coord_a_client.get(url).content.decode()
    assert 'value="Acknowledge"' in page and 'name="_save"' not in page
    response = coord_a_client.post(reverse("admin:reminders_escalation_acknowledge", args=[side_a.escalation.pk]))
    assert response.status_code == 302
    side_a.escalation.refresh_from_db()
    assert side_a.escalation.acknowledged_by == coord_a and side_a.escalation.acknowledged_at == timezone.now()
    again = coord_a_client.post(reverse("admin:reminders_escalation_acknowledge", args=[side_a.escalation.pk]),
                                follow=True)
    assert "Already acknowledged by coord-a" in again.content.decode()


def test_acknowledge_needs_a_post(coord_a_client, side_a):
    url = reverse("admin:reminders_escalation_acknowledge", args=[side_a.escalation.pk])
    assert coord_a_client.get(url).status_code == 403


def test_the_acknowledge_action(coord_a_client, side_a, coord_a):
    response = coord_a_client.post(reverse("admin:reminders_escalation_changelist"), {
        "action": "acknowledge", "_selected_action": [side_a.escalation.pk]}, follow=True)
    assert "Acknowledged 1 escalation." in response.content.decode()
    assert Escalation.objects.get(pk=side_a.escalation.pk).acknowledged_by == coord_a


def test_the_index_counts_own_open_escalations(coord_a_client, side_a, side_b):
    Escalation.objects.create(clinic=side_a.clinic, patient=side_a.patient, kind="check_in",
                              urgency=Urgency.ROUTINE, summary="routine")
    response = coord_a_client.get(reverse("admin:index"))
    assert response.context["open_escalations"].total == 2  # clinic B's is not counted
    assert response.context["open_escalations"].urgent == 1
    assert "(1 urgent)" in response.content.decode()


def test_replies_newest_first_and_read_only(coord_a_client, side_a):
    newer = InboundMessage.objects.create(provider_message_id="SM-new", from_number="+12025550101",
                                          body="STOP", kind="opt_out", clinic=side_a.clinic, patient=side_a.patient)
    InboundMessage.objects.filter(pk=side_a.inbound.pk).update(received_at=timezone.now() - timedelta(hours=1))
    response = coord_a_client.get(reverse("admin:reminders_inboundmessage_changelist"))
    assert list(response.context["cl"].result_list) == [newer, InboundMessage.objects.get(pk=side_a.inbound.pk)]
    assert coord_a_client.get(reverse("admin:reminders_inboundmessage_add")).status_code == 403
