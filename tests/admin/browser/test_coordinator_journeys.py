"""A coordinator's day in the admin, in a real browser."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reminders.models import Enrollment, Escalation, Patient, Urgency
from reminders.services.csv_import import COLUMN_NAMES
from reminders.services.patients import patient_save
from tests.factories import COORDINATOR_PASSWORD, EnrollmentFactory

# In real time, unlike the rest of the admin's suites: the live server and Chromium run on the real clock.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def today_in(zone: ZoneInfo):
    return timezone.now().astimezone(zone).date()


def enrolled(*, clinic, program, first, last, mobile) -> Enrollment:
    patient = patient_save(patient=Patient(clinic=clinic, first_name=first, last_name=last, mobile=mobile,
                                           sms_consent=True))
    return EnrollmentFactory(patient=patient, program=program, anchor_date=today_in(patient.zone))


def log_in(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", COORDINATOR_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("Fracture follow-up")
    expect(page).to_have_url("/admin/")


def test_a_coordinator_enrolls_a_patient_after_seeing_the_timeline(page, screenshot, coord_a, clinic, program):
    log_in(page, "coord-a")
    screenshot("index")
    page.click("text=Enroll a new patient")
    page.fill("#id_first_name", "Rosa")
    page.fill("#id_last_name", "Delgado")
    page.select_option("#id_time_zone", "America/Chicago")
    page.fill("#id_mobile", "+12025550177")
    page.check("#id_sms_consent")  # nothing is ticked until the patient agreed
    page.select_option("#id_program", label=program.name)
    page.select_option("#id_anchor_event", "pvp")
    # Three days ago: the first two steps are already too late.
    anchor = today_in(ZoneInfo("America/Chicago")) - timedelta(days=3)
    page.fill("#id_anchor_date", anchor.isoformat())
    screenshot("details")
    page.click("input[name=_preview]")

    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("times in America/Chicago")
    expect(page.locator("#timeline tbody tr")).to_have_count(3)
    expect(page.locator("#timeline-skipped")).to_have_text("2 steps would be skipped as already too late.")
    expect(page.locator("#timeline tbody tr.skipped")).to_have_count(2)
    expect(timeline).to_contain_text(re.compile(r"10:00 C[SD]T"))  # Chicago time, not the clinic's
    assert not Patient.objects.filter(last_name="Delgado").exists()
    screenshot("timeline-preview")

    page.click("input[name=_enroll]")
    expect(page.locator(".messagelist")).to_contain_text("Enrolled Rosa Delgado")
    expect(page.locator("#content")).to_contain_text("Rosa Delgado in Program")
    screenshot("enrolled")
    enrollment = Enrollment.objects.get(patient__last_name="Delgado")
    assert enrollment.enrolled_by == coord_a
    assert sorted(enrollment.messages.values_list("status", flat=True)) == ["pending", "skipped", "skipped"]

    page.goto("/admin/dashboard/")
    expect(page.locator("#per-day-chart rect")).to_have_count(2)  # the two skipped days
    expect(page.locator("#due-next")).to_contain_text("Due in the next 7 days")
    screenshot("dashboard")


def test_a_coordinator_cancels_an_enrollment_with_a_reason(page, screenshot, coord_a, clinic, program):
    enrollment = enrolled(clinic=clinic, program=program, first="Walter", last="Brennan", mobile="+12025550102")
    log_in(page, "coord-a")
    page.goto(f"/admin/reminders/enrollment/{enrollment.pk}/change/")
    screenshot("enrollment")
    page.click("text=Cancel enrollment")
    expect(page.locator("#content-main")).to_contain_text("Cancelling stops every message not yet sent")
    page.select_option("#id_reason", label="Moved away")
    page.fill("#id_note", "to her daughter's in Ohio")
    screenshot("reason")
    page.click("input[name=apply]")
    expect(page.locator(".messagelist")).to_contain_text(
        "Cancelled 1 enrollment (Moved away: to her daughter's in Ohio)")
    expect(page.locator("div.form-row.field-status")).to_contain_text("Cancelled")
    screenshot("cancelled")
    enrollment.refresh_from_db()
    assert enrollment.status == "cancelled"
    assert set(enrollment.messages.values_list("status", flat=True)) == {"cancelled"}


def test_a_coordinator_acknowledges_an_escalation(page, screenshot, coord_a, clinic, program):
    enrollment = enrolled(clinic=clinic, program=program, first="Margaret", last="Okafor", mobile="+12025550101")
    escalation = Escalation.objects.create(
        clinic=clinic, patient=enrollment.patient, enrollment=enrollment, kind="red_flag",
        urgency=Urgency.URGENT, summary="Warning sign in a reply: new numbness")
    log_in(page, "coord-a")
    expect(page.locator("#open-escalation-count")).to_contain_text("1 (1 urgent)")
    screenshot("index-count")
    page.click("text=Open escalations")
    page.click("text=Warning sign in a reply: new numbness")
    screenshot("escalation")
    page.click("input[value=Acknowledge]")
    expect(page.locator(".messagelist")).to_contain_text("Escalation acknowledged.")
    expect(page.locator(".field-acknowledged")).to_contain_text("by coord-a")
    screenshot("acknowledged")
    escalation.refresh_from_db()
    assert escalation.acknowledged_by == coord_a and escalation.acknowledged_at is not None


def test_a_coordinator_uploads_a_csv_with_one_bad_row_and_reads_the_error(
        page, screenshot, coord_a, clinic, program, tmp_path):
    anchor = today_in(ZoneInfo(clinic.time_zone)).isoformat()
    rows = [",".join(COLUMN_NAMES)] + [
        f"{clinic.name},{first},Lee,{mobile},,yes,no,,,,{program.slug},pvp,{anchor}"
        for first, mobile in [("Ann", "+12025550111"), ("Bo", "+12025550112"), ("Cy", "555-01")]]
    path = tmp_path / "patients.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    log_in(page, "coord-a")
    page.goto("/admin/reminders/enrollment/")
    page.click("text=Enroll from CSV")
    expect(page.locator("#csv-template-link")).to_be_visible()
    page.set_input_files("#id_file", str(path))
    screenshot("upload")
    page.click("input[value='Check and enroll']")
    expect(page.locator("#csv-error-summary")).to_have_text("1 problem found; nobody was enrolled.")
    error_row = page.locator("#csv-errors tbody tr")
    expect(error_row).to_have_count(1)
    expect(error_row.locator("td").nth(0)).to_have_text("4")
    expect(error_row.locator("td").nth(1)).to_have_text("mobile")
    screenshot("error")
    assert not Patient.objects.filter(last_name="Lee").exists()


def test_a_coordinator_cannot_reach_another_clinics_patient(
        page, screenshot, coord_a, clinic, clinic_b, program):
    enrolled(clinic=clinic, program=program, first="Margaret", last="Okafor", mobile="+12025550101")
    other = enrolled(clinic=clinic_b, program=program, first="Edith", last="Marsh", mobile="+447911123456")
    log_in(page, "coord-a")

    page.goto(f"/admin/reminders/patient/{other.patient.pk}/change/")
    expect(page).to_have_url("/admin/")
    expect(page.locator(".messagelist")).to_contain_text("doesn’t exist")
    expect(page.locator("body")).not_to_contain_text("Marsh")
    screenshot("by-url")

    page.goto("/admin/reminders/patient/")
    page.fill("#searchbar", "Marsh")
    page.press("#searchbar", "Enter")
    expect(page.locator("#changelist-search")).to_contain_text("0 results")
    expect(page.locator("#result_list")).to_have_count(0)
    screenshot("search")

    page.goto("/admin/reminders/enrollment/add/")
    page.click(".field-patient .select2-selection")
    page.fill(".select2-search__field", "Marsh")
    results = page.locator("li.select2-results__option:not(.loading-results)")
    expect(results).to_have_text("No results found")
    screenshot("autocomplete-other-clinic")
    page.fill(".select2-search__field", "Okafor")
    expect(results).to_have_text("Margaret Okafor")
    screenshot("autocomplete-own-clinic")
    answer = page.request.get("/admin/autocomplete/?app_label=reminders&model_name=enrollment"
                              "&field_name=patient&term=Marsh").json()
    assert answer["results"] == []
