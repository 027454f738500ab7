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
