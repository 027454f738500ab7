"""Issue 14 in a real browser at 1280 px: a consultation booked on the patient's page plans the
evening-before reminder and cancels the booking text; the needs-action list."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reminders.models import (
    Enrollment,
    Escalation,
    InboundMessage,
    MessageStatus,
    Milestone,
    MilestoneKind,
    Patient,
    Urgency,
)
from reminders.services.patients import patient_save
from tests.factories import COORDINATOR_PASSWORD, EnrollmentFactory

# In real time, like the other browser tests: the live server and Chromium run on the real clock.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOOKED = MilestoneKind.CONSULTATION_BOOKED


@pytest.fixture
def pathway(make_program):
    """A text to book a specialist until one is booked or attended, and a reminder the evening before
    a booked consultation, from the small test templates."""
    return make_program(slug="pathway", steps=[
        {"key": "day3-book-a-specialist", "offset_days": 3, "send_time": time(10), "topic": "specialist_consultation",
         "until": [BOOKED, MilestoneKind.CONSULTATION_ATTENDED], "template": "test/hello"},
        {"key": "evening-before-consultation", "relative_to": BOOKED, "offset_days": -1, "send_time": time(18),
         "topic": "specialist_consultation", "template": "test/appointment", "max_lateness": timedelta(hours=4)},
    ])


def enrolled(*, clinic, program, first, last, mobile, days_ago=0) -> Enrollment:
    patient = patient_save(patient=Patient(clinic=clinic, first_name=first, last_name=last, mobile=mobile,
                                           sms_consent=True))
    today = timezone.now().astimezone(patient.zone).date()
    enrollment = EnrollmentFactory(patient=patient, program=program, anchor_date=today)
    if days_ago:
        Enrollment.objects.filter(pk=enrollment.pk).update(anchor_date=today - timedelta(days=days_ago))
    return enrollment


def log_in(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", COORDINATOR_PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url("/admin/")


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_a_coordinator_books_a_consultation_and_the_timeline_follows(page, screenshot, coord_a, clinic, pathway):
    enrollment = enrolled(clinic=clinic, program=pathway, first="Rosa", last="Delgado", mobile="+12025550177")
    patient = enrollment.patient
    reply = InboundMessage.objects.create(
        provider_message_id="SM-journey", from_number="+12025550177", body="pain is 8 today", kind="answer",
        clinic=clinic, patient=patient, enrollment=enrollment)
    Escalation.objects.create(clinic=clinic, patient=patient, enrollment=enrollment, inbound=reply, kind="check_in",
                              urgency=Urgency.ROUTINE, summary="Pain score 8: call the patient today")
    zone = ZoneInfo(clinic.time_zone)
    visit = timezone.now().astimezone(zone).date() + timedelta(days=10)
    evening = datetime.combine(visit - timedelta(days=1), time(18), tzinfo=zone)

    log_in(page, "coord-a")
    page.goto(f"/admin/reminders/patient/{patient.pk}/change/")
    road = page.locator("#road")
    expect(road).to_contain_text("The road at a glance")
    expect(road.locator("#road-phone a")).to_have_attribute("href", "tel:+12025550177")
    expect(road.locator("#road-escalations")).to_contain_text("Pain score 8: call the patient today")
    expect(road.locator("#road-next")).to_contain_text("Book a specialist")
    expect(road.locator("#road-replies")).to_contain_text("pain is 8 today")
    # A time is offered for an appointment only.
    expect(page.locator("#milestone-record-form .milestone-time")).to_be_hidden()
    page.select_option("#road_kind", BOOKED)
    expect(page.locator("#milestone-record-form .milestone-time")).to_be_visible()
    page.fill("#road_date", visit.isoformat())
    page.fill("#road_time", "14:30")
    page.fill("#road_detail", "Dr Rivera, spine clinic")
    assert fits(page)
    screenshot("patient-road")

    page.click("#milestone-record-preview")
    expect(page.locator("#change-summary")).to_contain_text("What changes: 1 cancelled, 1 planned.")
    booked_words = f"consultation booked for {visit.day} {visit:%b} 14:30, recorded by coord-a"
    cancels = page.locator("tr.change-cancels")
    expect(cancels).to_contain_text("Book a specialist")
    expect(cancels).to_contain_text(booked_words)
    plans = page.locator("tr.change-plans")
    expect(plans).to_contain_text("Evening before consultation")
    expect(plans).to_contain_text(f"{evening.day} {evening:%b} 18:00 {evening.tzname()}")
    assert not Milestone.objects.exists()  # the preview writes nothing
    screenshot("preview")

    page.click("#confirm_form input[name=_confirm]")
    expect(page).to_have_url(f"/admin/reminders/patient/{patient.pk}/change/")
    expect(page.locator(".messagelist")).to_contain_text("Consultation booked recorded for")
    expect(page.locator("#road-milestones")).to_contain_text("Consultation booked")
    expect(page.locator("#road-milestones")).to_contain_text(f"14:30 {evening.tzname()}")
    expect(page.locator("#road-next")).to_contain_text("Evening before consultation")
    screenshot("recorded")

    page.goto(f"/admin/reminders/enrollment/{enrollment.pk}/change/")
    reminder = page.locator("tr", has=page.locator("td.field-appointment", has_text="Consultation booked for"))
    expect(reminder).to_contain_text(evening.strftime("%Y-%m-%d 18:00 %Z"))
    expect(reminder.locator("td.field-status_words")).to_contain_text("Pending")
    booking_text = page.locator("tr", has=page.locator("td.field-step", has_text="Book a specialist"))
    expect(booking_text.locator("td.field-status_words")).to_contain_text("Cancelled")
    expect(booking_text.locator("td.field-status_words")).to_contain_text(booked_words)
    assert fits(page)
    screenshot("timeline")
    statuses = {m.step.key: (m.status, m.reason) for m in enrollment.messages.select_related("step")}
    assert statuses == {"day3-book-a-specialist": (MessageStatus.CANCELLED, booked_words),
                        "evening-before-consultation": (MessageStatus.PENDING, "")}


def test_the_needs_action_list_at_1280(page, screenshot, coord_a, clinic, clinic_b, pathway):
    late = enrolled(clinic=clinic, program=pathway, first="Walter", last="Brennan", mobile="+12025550102",
                    days_ago=20)
    enrolled(clinic=clinic, program=pathway, first="Joan", last="Abernathy-Whitfield", mobile="+12025550103",
             days_ago=90)
    enrolled(clinic=clinic, program=pathway, first="Ann", last="Lee", mobile="+12025550104", days_ago=5)
    enrolled(clinic=clinic_b, program=pathway, first="Edith", last="Marsh", mobile="+447911123456", days_ago=40)

    log_in(page, "coord-a")
    page.click("text=Needs action")
    expect(page.locator("#needs-action-count")).to_have_text("2 patients need action")
    rows = page.locator("#needs-action tbody tr")
    expect(rows.nth(0)).to_contain_text("Joan Abernathy-Whitfield")  # most overdue first
    expect(rows.nth(0)).to_contain_text("No bone density scan booked or done: 6 days past")
    expect(rows.nth(1)).to_contain_text("Walter Brennan")
    expect(page.locator("#needs-action")).not_to_contain_text("Marsh")
    expect(page.locator("#needs-action")).not_to_contain_text("Lee")
    assert fits(page)
    screenshot("needs-action")

    rows.nth(1).locator("input[name=note]").fill("no answer, left a voicemail")
    rows.nth(1).locator("input[type=submit]").click()
    expect(page.locator(".messagelist")).to_contain_text("Call attempt noted for Walter Brennan.")
    expect(page.locator("#needs-action tbody tr").nth(1)).to_contain_text("no answer, left a voicemail")
    screenshot("call-attempt-noted")

    page.locator("#needs-action tbody tr").nth(1).locator("a.record-missing").click()
    expect(page.locator("#id_kind")).to_have_value(BOOKED)
    visit = timezone.now().astimezone(ZoneInfo(clinic.time_zone)).date() + timedelta(days=3)
    page.fill("#id_date", visit.isoformat())
    page.fill("#id_time", "09:15")
    page.click("input[name=_preview]")
    expect(page.locator("tr.change-plans")).to_contain_text("Evening before consultation")
    page.click("#confirm_form input[name=_confirm]")
    expect(page).to_have_url("/admin/needs-action/")
    expect(page.locator("#needs-action-count")).to_have_text("1 patient needs action")
    expect(page.locator("#needs-action")).not_to_contain_text("Walter Brennan")
    screenshot("after-recording")
    assert Milestone.objects.get().patient == late.patient
