import pytest
from django.urls import reverse

from reminders.models import Message, MessageStatus
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

URL = reverse("admin:followup_dashboard")


def test_the_dashboard_draws_a_chart_and_shows_own_clinic_only(coord_a_client, side_a, side_b):
    Message.objects.filter(enrollment=side_a.enrollment, step__offset_days=0).update(
        status=MessageStatus.FAILED, error_code="30007")
    Message.objects.filter(enrollment=side_b.enrollment, step__offset_days=0).update(
        status=MessageStatus.FAILED, error_code="21610")
    response = coord_a_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg id="per-day-chart"' in page and "<rect" in page and "02 Jun: 1 failed" in page
    assert response.context["dashboard"].failures == [("30007", 1)]
    assert [e.summary for e, _ in response.context["escalation_ages"]] == [side_a.escalation.summary]
    assert "Marsh" not in page and "Hillcrest" not in page
    for section in ("delivery", "failures", "open-escalations", "due-next", "milestones"):
        assert f'id="{section}"' in page


def test_a_clinic_of_someone_else_cannot_be_chosen(coord_a_client, side_a, side_b):
    response = coord_a_client.get(URL, {"clinic": side_b.clinic.pk})
    assert [c.pk for c in response.context["dashboard"].clinics] == [side_a.clinic.pk]


def test_a_superuser_can_narrow_to_one_clinic(admin_client, side_a, side_b):
    both = admin_client.get(URL)
    assert len(both.context["dashboard"].clinics) == 2
    one = admin_client.get(URL, {"clinic": side_b.clinic.pk})
    assert [c.pk for c in one.context["dashboard"].clinics] == [side_b.clinic.pk]
    assert str(one.context["dashboard"].zone) == "Europe/London"


def test_the_dashboard_needs_a_login(client):
    assert client.get(URL).status_code == 302


def test_each_senders_backlog_and_its_drain_time(coord_a_client, side_a, side_b):
    from datetime import timedelta

    from reminders.models import Clinic, SenderKind

    # Side A's clinic texts from its own local number: 1 segment a second, about 2 segments a text.
    Clinic.objects.filter(pk=side_a.patient.clinic_id).update(
        sms_sender="+12025550100", sms_sender_kind=SenderKind.LONG_CODE)
    Message.objects.filter(enrollment__patient=side_a.patient, channel="sms").update(
        status=MessageStatus.QUEUED, due_at=NOW - timedelta(minutes=25))
    waiting = Message.objects.filter(enrollment__patient=side_a.patient, channel="sms").count()

    response = coord_a_client.get(URL)
    [backlog] = response.context["dashboard"].senders  # side B's clinic is not the coordinator's
    assert (backlog.sender, backlog.waiting, backlog.segments_per_second) == ("+12025550100", waiting, 1.0)
    assert backlog.drain_seconds == waiting * 2
    page = response.content.decode()
    assert "Texts waiting to go out, per sender" in page and "25 min" in page
