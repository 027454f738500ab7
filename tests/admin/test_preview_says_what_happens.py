"""Issue 13, item 3: the enroll preview and the anchor correction say what will not happen,
in words and in the patient's local time."""

from datetime import date, datetime, timedelta
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from reminders.scheduling import duration_words, lateness_reason
from tests.moments import NOW

# The admin suites live on the afternoon of the reference day.
pytestmark = pytest.mark.time_machine(NOW, tick=False)

UTC = UTC
ENROLL = reverse("admin:reminders_patient_enroll")


@pytest.mark.parametrize(("delta", "words"), [
    (timedelta(hours=8), "8 hours"), (timedelta(hours=1), "1 hour"), (timedelta(days=2), "2 days"),
    (timedelta(hours=36), "1 day 12 hours"), (timedelta(minutes=90), "1 hour 30 minutes"),
])
def test_a_duration_reads_in_words(delta, words):
    assert duration_words(delta) == words


def test_the_late_reason_is_in_words_and_the_patients_local_time():
    due = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 10:00 in New York (EST)
    reason = lateness_reason(max_lateness=timedelta(hours=8), due_at=due, now=due + timedelta(hours=9),
                             zone=ZoneInfo("America/New_York"))
    assert reason == "too late: due 30 Nov 10:00 EST, allowed 8 hours"
    assert "UTC" not in reason and "0:00:00" not in reason


def enroll_form(clinic, program, anchor):
    return {"clinic": clinic.pk, "first_name": "Ann", "last_name": "Lee", "time_zone": "Europe/London",
            "language": "en", "mobile": "+447911123456", "email": "", "sms_consent": "on",
            "program": program.pk, "anchor_event": "pvp", "anchor_date": anchor, "_preview": "1"}


def test_the_enroll_preview_says_a_past_step_goes_out_now_late(coord_a_client, clinic, program):
    # Now is 2 June 18:00 UTC (19:00 BST): day 0 at 10:00 BST is past but within its 12 hours.
    response = coord_a_client.post(ENROLL, enroll_form(clinic, program, "2026-06-02"))
    fates = [row["fate"] for row in response.context["timeline"]]
    assert fates == ["Sends now (late)", "Will be sent", "Will be sent"]
    assert "1 message already past its time would go out at once, late." in response.content.decode()


def test_the_enroll_preview_says_why_a_step_is_skipped_in_words(coord_a_client, clinic, program):
    response = coord_a_client.post(ENROLL, enroll_form(clinic, program, "2026-05-31"))
    first = response.context["timeline"][0]
    assert first["fate"] == "Skipped: too late (allowed 12 hours)"
    assert first["reason"] == "too late: due 31 May 10:00 BST, allowed 12 hours"
    page = response.content.decode()
    assert "Will be sent" in page and "UTC" not in page.split('id="timeline"')[1]


def test_the_anchor_correction_says_rows_moving_into_the_past_go_out_now(coord_a_client, side_a):
    enrollment = side_a.enrollment  # anchored 2 June, New York; now 2 June 14:00 EDT
    url = reverse("admin:reminders_enrollment_anchor", args=[enrollment.pk])
    response = coord_a_client.post(url, {"anchor_date": "2026-06-01"})
    rows = {row["step"]: row for row in response.context["rows"]}
    # Day 1 at 09:30 EDT on 2 June: past, within its 12 hours.
    assert rows["Day 1 · Warning signs"]["label"] == "sends now (late)"
    skipped = rows["Day 0 · Warning signs"]
    assert skipped["label"] == "skipped: too late (allowed 12 hours)"
    assert skipped["reason"] == "too late: due 1 Jun 10:00 EDT, allowed 12 hours"
    assert "into the past: sent at once, late" in response.content.decode()
    assert enrollment.anchor_date == date(2026, 6, 2)
