"""Issue 13 in a real browser at 1280 px: the escalation with the phone, lists that fit, the dashboard."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reminders.models import Escalation, Message, MessageStatus, Patient, Urgency
from reminders.services.enrollments import enrollment_create
from reminders.services.patients import patient_save
from tests.factories import COORDINATOR_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def coord_a(make_coordinator, clinic):
    return make_coordinator(username="coord-a", clinic=clinic, mobile="+12025550199")


def log_in(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", COORDINATOR_PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url("/admin/")


@pytest.fixture
def busy_clinic(clinic, program):
    """Six patients with a past week of messages: sent, delivered, failed with long reasons, skipped."""
    today = timezone.now().astimezone(ZoneInfo(clinic.time_zone)).date()
    patients = []
    for index, (first, last) in enumerate([("Margaret", "Okafor-Lindqvist"), ("Edith", "Marsh"),
                                           ("Rosa", "Delgado"), ("Ann", "Lee"), ("Li", "Wei"),
                                           ("Joan", "Abernathy-Whitfield")]):
        patient = patient_save(patient=Patient(clinic=clinic, first_name=first, last_name=last,
                                               mobile=f"+120255501{index:02d}", email=f"p{index}@example.org",
                                               sms_consent=True, email_consent=True,
                                               language="es" if index % 2 else "en"))
        enrollment = enrollment_create(patient=patient, program=program, anchor_event="pvp",
                                       anchor_date=today - timedelta(days=2))
        for n, message in enumerate(enrollment.messages.order_by("due_at")):
            status = [MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.SENT, MessageStatus.SKIPPED][n % 4]
            reason = ("The number is not a mobile phone (perhaps a landline), so it cannot get texts; "
                      "the email version was sent instead" if status == MessageStatus.FAILED else message.reason)
            Message.objects.filter(pk=message.pk).update(status=status, reason=reason)
        patients.append(patient)
    for patient, urgency, kind in [(patients[0], Urgency.URGENT, "red_flag"),
                                   (patients[1], Urgency.ROUTINE, "check_in")]:
        Escalation.objects.create(
            clinic=clinic, patient=patient, enrollment=patient.enrollments.get(), kind=kind, urgency=urgency,
            summary="Warning sign in a reply: “chest pain since this morning and new weakness in the legs” "
                    "— call the patient today")
    return patients


def fits(page, selector: str) -> bool:
    """Within the viewport and not hidden in the list's own scrolling box."""
    return page.eval_on_selector(selector, """e => {
        const box = e.closest('.results') || document.documentElement;
        const right = e.getBoundingClientRect().right;
        return right <= window.innerWidth && right <= box.getBoundingClientRect().right + 0.5; }""")


def test_an_escalation_shows_the_phone_and_takes_a_note(page, screenshot, coord_a, busy_clinic):
    log_in(page, "coord-a")
    page.goto("/admin/reminders/escalation/")
    screenshot("escalations-list")
    for column in ("kind_short", "age_display", "acknowledged_short"):
        header = f"th.column-{column}"
        expect(page.locator(header)).to_be_visible()
        assert fits(page, header), (column, page.eval_on_selector(header, """e => [e.getBoundingClientRect().right,
            e.closest('.results').getBoundingClientRect().right, e.closest('table').getBoundingClientRect().right]"""))
    expect(page.locator("#result_list a[href^='tel:']").first).to_be_visible()

    page.locator("#result_list th.field-summary_short a").first.click()
    phone = page.locator("a.patient-phone")
    expect(phone).to_have_attribute("href", "tel:+12025550100")
    expect(page.locator(".field-language")).to_contain_text("English")
    page.fill("#id_note", "Called her: chest pain gone, seen by her GP this afternoon.")
    screenshot("escalation-with-phone")
    page.click("input[name=_acknowledge]")
    expect(page.locator(".messagelist")).to_contain_text("Escalation acknowledged.")
    expect(page.locator("#escalation-notes")).to_contain_text("seen by her GP")
    expect(page.locator(".field-acknowledged")).to_contain_text(" by coord-a")
    screenshot("escalation-acknowledged-with-note")


def test_the_messages_list_fits_at_1280(page, screenshot, coord_a, busy_clinic):
    log_in(page, "coord-a")
    page.goto("/admin/reminders/message/")
    rows = page.locator("#result_list tbody tr")
    expect(rows.first).to_be_visible()
    screenshot("messages-list")
    heights = page.eval_on_selector_all("#result_list tbody tr", "rows => rows.map(r => r.offsetHeight)")
    assert len(heights) >= 10 and max(heights) <= 60, heights
    assert fits(page, "th.column-status_badge")
    assert page.locator("th.column-clinic").count() == 0  # one clinic: no clinic column


def test_the_dashboard_reads_at_1280(page, screenshot, coord_a, busy_clinic):
    log_in(page, "coord-a")
    page.goto("/admin/dashboard/")
    expect(page.locator("#per-day-chart")).to_be_visible()
    assert page.locator("#per-day-chart text.dash-tick").count() >= 3
    assert page.locator("#per-day-chart text.dash-total").count() >= 1
    expect(page.locator("#per-day-table")).to_be_visible()
    # Drawn at its own size: 13 px in the viewBox is 13 px on the screen.
    width = page.eval_on_selector("#per-day-chart", "e => e.getBoundingClientRect().width")
    assert width == pytest.approx(720, abs=1)
    sizes = page.eval_on_selector_all(
        "#per-day-chart text, .followup-note, .dash-legend li, #per-day-table caption",
        "els => els.map(e => [e.tagName, e.className.baseVal ?? e.className, "
        "parseFloat(getComputedStyle(e).fontSize)])")
    assert sizes and min(size for *_, size in sizes) >= 13, [s for s in sizes if s[2] < 13]
    screenshot("dashboard")

    page.goto("/admin/reminders/enrollment/add/")
    help_sizes = page.eval_on_selector_all(
        ".help, div.help",
        "els => els.map(e => [e.className, e.textContent.slice(0, 30), parseFloat(getComputedStyle(e).fontSize)])")
    assert help_sizes and min(size for *_, size in help_sizes) >= 13, help_sizes

    page.emulate_media(color_scheme="dark")
    page.goto("/admin/dashboard/")
    fill = page.eval_on_selector("#per-day-chart rect.status-delivered", "e => getComputedStyle(e).fill")
    assert fill == "rgb(88, 166, 255)"  # the dark palette's Delivered, #58a6ff
    screenshot("dashboard-dark")
