"""Issue 13, item 4: every time in the clinic's zone (the patient's where it is theirs), with its abbreviation."""

import pytest
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from reminders.models import Message
from reminders.services.enrollments import enrollment_pause
from tests.moments import NOW

# The admin suites live on the afternoon of the reference day.
pytestmark = pytest.mark.time_machine(NOW, tick=False)


def test_an_enrollments_created_time_is_in_the_clinics_zone_with_its_abbreviation(coord_a_client, side_a):
    page = coord_a_client.get(reverse("admin:reminders_enrollment_change", args=[side_a.enrollment.pk]))
    html = page.content.decode()
    assert "2 Jun 2026, 14:00 EDT" in html  # 18:00 UTC in New York
    assert "6 p.m." not in html


def test_history_times_are_in_the_clinics_zone(coord_a_client, side_a):
    enrollment_pause(enrollment=side_a.enrollment, reason="Admitted to hospital")
    page = coord_a_client.get(reverse("admin:reminders_enrollment_history", args=[side_a.enrollment.pk]))
    assert "2 Jun 2026, 14:00 EDT" in page.content.decode()


def test_a_messages_sent_time_is_in_the_patients_zone(coord_a_client, side_a):
    message = Message.objects.filter(enrollment=side_a.enrollment).order_by("due_at").first()
    Message.objects.filter(pk=message.pk).update(status="sent", sent_at=timezone.now() - timedelta(hours=1))
    detail = coord_a_client.get(reverse("admin:reminders_message_change", args=[message.pk])).content.decode()
    assert "2026-06-02 13:00 EDT" in detail
    inline = coord_a_client.get(reverse("admin:reminders_enrollment_change", args=[side_a.enrollment.pk]))
    assert "2026-06-02 13:00 EDT" in inline.content.decode()


def test_the_escalation_shows_opened_and_acknowledged_in_the_clinics_zone(coord_a_client, side_a):
    coord_a_client.post(reverse("admin:reminders_escalation_acknowledge", args=[side_a.escalation.pk]))
    html = coord_a_client.get(
        reverse("admin:reminders_escalation_change", args=[side_a.escalation.pk])).content.decode()
    assert "2026-06-02 14:00 EDT" in html and "UTC" not in html


def test_a_reply_time_in_the_inbox_has_its_zone(coord_a_client, side_a):
    html = coord_a_client.get(reverse("admin:reminders_inboundmessage_changelist")).content.decode()
    assert "2 Jun 2026, 14:00 EDT" in html


def test_the_message_list_of_an_enrollment_is_in_the_programs_order(coord_a_client, side_a):
    day0 = Message.objects.get(enrollment=side_a.enrollment, step__key="day0")
    Message.objects.filter(pk=day0.pk).update(due_at=day0.due_at + timedelta(days=3))
    url = reverse("admin:reminders_message_changelist") + f"?enrollment__id__exact={side_a.enrollment.pk}"
    html = coord_a_client.get(url).content.decode()
    assert html.index("Day 0 · Warning signs") < html.index("Day 1 · Warning signs")


def test_dates_read_like_the_times_beside_them(coord_a_client, side_a):
    # The anchor date of a finished enrollment is shown, not edited: "2 Jun 2026", as times read.
    from reminders.models import Enrollment

    Enrollment.objects.filter(pk=side_a.enrollment.pk).update(status="completed")
    page = coord_a_client.get(reverse("admin:reminders_enrollment_change", args=[side_a.enrollment.pk]))
    text = page.content.decode()
    assert "2 Jun 2026" in text and "June 2, 2026" not in text
