"""Issue 13 in a real browser: previews that say what will not happen (item 3), every time with
its zone and an enrollment's messages in the program's order (item 4), and no dead ends (item 7)."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reminders.models import Enrollment, Patient
from reminders.services.csv_import import COLUMN_NAMES
from reminders.services.patients import patient_save
from tests.factories import COORDINATOR_PASSWORD, EnrollmentFactory

# In real time, like every browser journey: the live server and Chromium run on the real clock.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_YORK = ZoneInfo("America/New_York")  # the clinic's zone
LONDON = ZoneInfo("Europe/London")  # the patients' own zone in these journeys


def today_in(zone: ZoneInfo):
    return timezone.now().astimezone(zone).date()


def on_the_clock(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` as a wall clock in ``zone`` shows it, to the minute."""
    return moment.astimezone(zone).replace(second=0, microsecond=0)


def in_words(moment: datetime) -> str:
    """A moment as a reason writes it: "30 Nov 10:00 EST"."""
    return f"{moment.day} {moment:%b %H:%M} {moment.tzname()}"


def log_in(page) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", "coord-a")
    page.fill("#id_password", COORDINATOR_PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url("/admin/")


@pytest.fixture
def around_now(make_program):
    """Email steps (no quiet hours) around the present moment in London, each allowed 8 hours late,
    for a procedure three days ago: one long past, one an hour ago, one 23 hours ahead, one on day 10."""
    now = timezone.now()
    anchor = today_in(LONDON) - timedelta(days=3)
    an_hour_ago = on_the_clock(now - timedelta(hours=1), LONDON)
    tomorrow = on_the_clock(now + timedelta(hours=23), LONDON)

    def at(local: datetime) -> dict:
        return {"offset_days": (local.date() - anchor).days, "send_time": local.time()}

    email = {"channel": "email", "template": "test/both", "max_lateness": timedelta(hours=8)}
    program = make_program(
        slug="around-now",
        steps=[
            {"key": "day0", "topic": "warning_signs", "offset_days": 0, "send_time": time(10, 0), **email},
            {"key": "getting-up", "topic": "early_mobilization", **at(an_hour_ago), **email},
            {"key": "pain-check", "topic": "pain", **at(tomorrow), **email},
            {"key": "day10", "topic": "bone_health", "offset_days": 10, "send_time": time(11, 0), **email},
        ],
    )
    return program, anchor, an_hour_ago


def test_the_previews_say_what_will_and_will_not_happen_in_local_time(page, screenshot, coord_a, clinic, around_now):
    program, anchor, an_hour_ago = around_now
    log_in(page)
    page.click("text=Enroll a new patient")
    page.fill("#id_first_name", "Ann")
    page.fill("#id_last_name", "Lee")
    page.select_option("#id_time_zone", "Europe/London")
    page.fill("#id_email", "ann.lee@example.org")
    page.check("#id_email_consent")
    page.set_checked("#id_sms_consent", False)  # email only: she agreed to nothing else
    page.select_option("#id_program", label=program.name)
    page.select_option("#id_anchor_event", "pvp")
    page.fill("#id_anchor_date", anchor.isoformat())
    page.click("input[name=_preview]")

    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("times in Europe/London")
    expect(page.locator("#timeline-skipped")).to_have_text("1 step would be skipped as already too late.")
    expect(page.locator("#timeline-late")).to_have_text("1 message already past its time would go out at once, late.")

    def status(topic: str):
        return page.locator("#timeline tbody tr", has_text=topic).locator("td.status")

    skipped = status("Warning signs")
    expect(skipped).to_contain_text("Skipped: too late (allowed 8 hours)")
    day0 = datetime.combine(anchor, time(10, 0), tzinfo=LONDON)
    expect(skipped.locator(".followup-note")).to_have_text(f"too late: due {in_words(day0)}, allowed 8 hours")
    expect(status("Getting up / early mobilization")).to_have_text("Sends now (late)")
    expect(status("Pain check / pain")).to_have_text("Will be sent")
    expect(status("Bone health")).to_have_text("Will be sent")
    for never in ("UTC", "8:00:00", "days, "):  # no UTC, no timedelta
        expect(timeline).not_to_contain_text(never)
    screenshot("enroll-preview")

    page.click("input[name=_enroll]")
    expect(page.locator(".messagelist")).to_contain_text("Enrolled Ann Lee")
    page.click("text=Correct anchor date")
    page.fill("#id_anchor_date", (anchor - timedelta(days=1)).isoformat())
    page.click("input[name=_preview]")
    # A day earlier: tomorrow's step moves an hour into the past, the one an hour ago a whole day.
    expect(page.locator("#anchor-summary")).to_contain_text("(1 of them into the past: sent at once, late)")

    def change(topic: str):
        return page.locator("#anchor-preview tbody tr", has_text=topic).locator("td.status")

    expect(change("Pain check / pain")).to_have_text("sends now (late)")
    getting_up = datetime.combine(an_hour_ago.date() - timedelta(days=1), an_hour_ago.time(), tzinfo=LONDON)
    expect(change("Getting up / early mobilization")).to_have_text(
        f"skipped: too late (allowed 8 hours) (too late: due {in_words(getting_up)}, allowed 8 hours)"
    )
    expect(change("Bone health")).to_have_text("moves")
    expect(page.locator("#anchor-preview")).not_to_contain_text("UTC")
    screenshot("anchor-correction-preview")
    assert Enrollment.objects.get(patient__last_name="Lee").anchor_date == anchor  # only previewed


@pytest.fixture
def night_and_morning(make_program):
    """An SMS at 22:00 on day 0, which quiet hours (21:00-08:00) hold until 08:00 on day 1,
    and an email at 07:30 on day 1: by send time, day 1 would come first."""
    return make_program(
        slug="night-and-morning",
        steps=[
            {"key": "day0", "topic": "warning_signs", "offset_days": 0, "send_time": time(22, 0)},
            {
                "key": "day1",
                "topic": "pain",
                "offset_days": 1,
                "send_time": time(7, 30),
                "channel": "email",
                "template": "test/both",
            },
        ],
    )


def test_every_time_shows_its_zone_and_messages_keep_the_programs_days(
    page, screenshot, coord_a, clinic, night_and_morning
):
    patient = patient_save(
        patient=Patient(
            clinic=clinic,
            first_name="Edith",
            last_name="Marsh",
            time_zone="Europe/London",
            mobile="+447911123456",
            email="edith@example.org",
            sms_consent=True,
            email_consent=True,
        )
    )
    enrollment = EnrollmentFactory(patient=patient, program=night_and_morning, anchor_date=today_in(LONDON))
    day1 = enrollment.anchor_date + timedelta(days=1)
    sms_at = datetime.combine(day1, time(8, 0), tzinfo=LONDON)  # out of quiet hours
    email_at = datetime.combine(day1, time(7, 30), tzinfo=LONDON)
    log_in(page)
    page.goto("/admin/reminders/enrollment/")
    page.click("#result_list a:has-text('Edith Marsh')")

    # When it was made: the clinic's day (New York), with the zone.
    created = enrollment.created_at.astimezone(NEW_YORK)
    expect(page.locator(".field-created_at .readonly")).to_have_text(
        f"{created.day} {created:%b %Y}, {created:%H:%M} {created.tzname()}"
    )
    # When each message goes out: the patient's day (London), with the zone, in the program's order.
    rows = page.locator(".inline-related tbody tr.has_original")
    expect(rows.locator("td.field-step")).to_have_text(["Day 0 · Warning signs", "Day 1 · Pain"])
    expect(rows.locator("td.field-send_time_local")).to_have_text(
        [f"{sms_at:%Y-%m-%d %H:%M} {sms_at.tzname()}", f"{email_at:%Y-%m-%d %H:%M} {email_at.tzname()}"]
    )
    expect(page.locator("#content-main")).not_to_contain_text("UTC")
    screenshot("enrollment")

    page.click("text=Pause")
    page.select_option("#id_reason", label="Admitted to hospital")
    page.click("input[name=apply]")
    expect(page.locator(".messagelist")).to_contain_text("Paused 1 enrollment")
    page.click("text=History")
    paused = enrollment.history.latest("history_date").history_date.astimezone(NEW_YORK)
    expect(page.locator("#change-history")).to_contain_text(
        f"{paused.day} {paused:%b %Y}, {paused:%H:%M} {paused.tzname()}"
    )
    expect(page.locator("#change-history")).not_to_contain_text("UTC")
    screenshot("history")

    page.goto(f"/admin/reminders/message/?enrollment__id__exact={enrollment.pk}")
    messages = page.locator("#result_list tbody tr")
    expect(messages.locator("th.field-step_label, td.field-step_label")).to_have_text(
        ["Day 0 · Warning signs", "Day 1 · Pain"]
    )
    expect(messages.locator("td.field-due_short")).to_have_text([in_words(sms_at), in_words(email_at)])
    screenshot("messages-in-the-programs-order")


@pytest.fixture
def check_ins(make_program):
    """A second program: a check-in asking 1, 2 or 3 about seeing a specialist, then bone health on day 7."""
    return make_program(
        slug="check-ins",
        steps=[
            {
                "key": "day0",
                "topic": "specialist_consultation",
                "asks": "choice_1_3",
                "offset_days": 0,
                "send_time": time(10, 0),
            },
            {"key": "day7", "topic": "bone_health", "offset_days": 7, "send_time": time(11, 0)},
        ],
    )


def test_a_patient_on_file_is_enrolled_from_their_page_and_nothing_leads_nowhere(
    page, screenshot, coord_a, clinic, patient, program, check_ins, tmp_path
):
    EnrollmentFactory(patient=patient, program=program, anchor_date=today_in(NEW_YORK))
    anchor = today_in(NEW_YORK) - timedelta(days=4)  # day 0 is long past: skipped
    csv = tmp_path / "patients.csv"
    csv.write_text(
        ",".join(COLUMN_NAMES) + "\n"
        f"{clinic.name},Margaret,Okafor,{patient.mobile},,yes,no,,,,{check_ins.slug},pvp,{anchor}\n",
        encoding="utf-8",
    )
    log_in(page)
    page.goto("/admin/reminders/enrollment/")
    page.click("text=Enroll from CSV")
    page.set_input_files("#id_file", str(csv))
    page.click("input[value='Check and enroll']")
    expect(page.locator("#csv-errors")).to_contain_text(
        f"patient {patient.pk}: to enroll a patient on file in a program, use “Enroll in a program” on their page"
    )
    screenshot("csv-names-the-button")

    # The button the CSV names is on the patient's page.
    page.goto("/admin/reminders/patient/")
    page.fill("#searchbar", "Okafor")
    page.press("#searchbar", "Enter")
    page.click("#result_list a:has-text('Margaret Okafor')")
    enroll = page.locator("#enroll-this-patient")
    expect(enroll).to_have_text("Enroll in a program")
    screenshot("patient-page")
    enroll.click()
    expect(page.locator(".field-patient .select2-selection__rendered")).to_contain_text("Margaret Okafor")
    page.select_option("#id_program", label=check_ins.name)
    page.select_option("#id_anchor_event", "pvp")
    page.fill("#id_anchor_date", anchor.isoformat())
    screenshot("enroll-from-the-patient-page")
    page.click("input[name=_save]")
    page.click(".messagelist a")

    # Nothing on an enrollment's page can be edited: no Save buttons, only its own actions.
    for button in ("_save", "_continue", "_addanother"):
        expect(page.locator(f"input[name={button}]")).to_have_count(0)
    expect(page.locator(".deletelink")).to_have_count(0)
    expect(page.locator(".inline-related td.field-step")).to_have_text(
        ["Day 0 · Specialist consultation", "Day 7 · Bone health"]
    )
    screenshot("enrollment-without-save")

    page.click("text=Pause")
    page.select_option("#id_reason", label="Admitted to hospital")
    page.click("input[name=apply]")
    page.click("text=Resume")
    expect(page.locator("#id_reason option", has_text="Discharged from hospital")).to_have_count(1)
    page.select_option("#id_reason", label="Discharged from hospital")
    screenshot("resume-discharged")
    page.click("input[name=apply]")
    expect(page.locator(".field-status .readonly")).to_have_text("Active")
    expect(page.locator(".field-status_reason .readonly")).to_have_text("Discharged from hospital")

    # The timeline in plain words, with what became of each message.
    page.click("text=This patient's timeline, as they read it")
    rows = page.locator("#content table.followup-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Specialist consultation")
    expect(rows.nth(0)).to_contain_text("asks: Reply 1, 2 or 3")
    expect(rows.nth(0).locator("td.status")).to_contain_text("Skipped")
    expect(rows.nth(0).locator("td.status .followup-note")).to_contain_text("too late: due ")
    expect(rows.nth(1).locator("td.status")).to_have_text("Pending")
    for internal in ("choice_1_3", "specialist_consultation", "bone_health"):
        expect(page.locator("#content")).not_to_contain_text(internal)
    screenshot("timeline-in-words")
