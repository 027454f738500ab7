"""Issue 13 in a real browser: consent not pre-ticked, every problem at once, a patient
on file warned about and confirmed, and searching without accents or by a formatted number."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reminders.models import Patient
from reminders.services.enrollments import enrollment_create
from reminders.services.patients import patient_save
from tests.factories import COORDINATOR_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def coord_a(make_coordinator, clinic):
    return make_coordinator(username="coord-a", clinic=clinic, mobile="+12025550199")


@pytest.fixture
def garcia(clinic, program):
    patient = patient_save(patient=Patient(clinic=clinic, first_name="José", last_name="García",
                                           mobile="+13055550102", sms_consent=True))
    enrollment_create(patient=patient, program=program, anchor_event="pvp",
                      anchor_date=timezone.now().astimezone(patient.zone).date())
    return patient


def log_in(page) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", "coord-a")
    page.fill("#id_password", COORDINATOR_PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url("/admin/")


def fill_details(page, program, *, first="Rosa", mobile="+12025550177") -> None:
    page.fill("#id_first_name", first)
    page.fill("#id_last_name", "Delgado")
    page.fill("#id_mobile", mobile)
    page.select_option("#id_program", label=program.name)
    page.select_option("#id_anchor_event", "pvp")
    page.fill("#id_anchor_date", timezone.now().date().isoformat())


def test_consent_starts_unticked_and_every_problem_shows_at_once(page, screenshot, coord_a, clinic, program):
    log_in(page)
    page.goto("/admin/reminders/patient/enroll/")
    expect(page.locator("#id_sms_consent")).not_to_be_checked()
    expect(page.locator("#id_email_consent")).not_to_be_checked()
    screenshot("consent-unticked")
    page.fill("#id_first_name", "Rosa1")
    page.fill("#id_last_name", "Delgado")
    page.fill("#id_email", "not-an-email")
    page.check("#id_sms_consent")  # ticked without a mobile
    page.select_option("#id_program", label=program.name)
    page.select_option("#id_anchor_event", "diagnosis")
    page.fill("#id_anchor_date", (timezone.now().date() + timedelta(days=9)).isoformat())
    page.click("input[name=_preview]")
    for field in ("first_name", "email", "mobile", "anchor_event", "anchor_date"):
        expect(page.locator(f".field-{field} .errorlist")).to_be_visible()
    screenshot("five-problems-at-once")
    assert not Patient.objects.filter(last_name="Delgado").exists()


def test_a_mobile_on_file_is_warned_and_enrolling_needs_a_confirmation(
        page, screenshot, coord_a, clinic, program, garcia):
    log_in(page)
    page.goto("/admin/reminders/patient/enroll/")
    fill_details(page, program, mobile="(305) 555-0102")
    page.check("#id_sms_consent")
    page.click("input[name=_preview]")
    warning = page.locator("#on-file")
    expect(warning).to_contain_text("The same mobile as")
    expect(warning.locator("a")).to_have_attribute("href", f"/admin/reminders/patient/{garcia.pk}/change/")
    screenshot("warned-with-link")
    page.click("input[name=_enroll]")
    expect(page.locator("#on-file .errorlist")).to_contain_text("tick this box")
    assert Patient.objects.count() == 1
    screenshot("confirmation-needed")
    page.check("#id_different_person")
    page.click("input[name=_enroll]")
    expect(page.locator(".messagelist")).to_contain_text("Enrolled Rosa Delgado")
    assert Patient.objects.filter(mobile="+13055550102").count() == 2
    screenshot("enrolled-shared-phone")


def test_search_finds_names_without_accents_and_formatted_numbers(page, screenshot, coord_a, clinic, garcia):
    log_in(page)
    for term in ("garcia", "jose", "(305) 555-0102"):
        page.goto("/admin/reminders/patient/")
        page.fill("#searchbar", term)
        page.press("#searchbar", "Enter")
        expect(page.locator("#result_list tbody tr")).to_have_count(1)
        expect(page.locator("#result_list")).to_contain_text("José García")
        screenshot(f"search-{term.replace(' ', '').replace('(', '').replace(')', '')}")
    page.goto("/admin/reminders/enrollment/")
    page.fill("#searchbar", "garcia")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    screenshot("enrollments-search")
