"""The patient's road on their page: at a glance, and milestones recorded, moved and withdrawn
with a preview that writes nothing and a confirm that applies exactly the preview."""

from datetime import date, time, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from reminders.models import (
    ContactAttempt,
    Enrollment,
    EnrollmentStatus,
    InboundMessage,
    MessageStatus,
    Milestone,
    MilestoneKind,
)
from reminders.services.contact_attempts import contact_attempt_record
from reminders.services.milestones import milestone_record
from tests.factories import UserFactory
from tests.moments import DAY, NOW, utc

pytestmark = pytest.mark.time_machine(NOW, tick=False)  # 2 June 2026, 14:00 in New York (EDT)

BOOKED = MilestoneKind.CONSULTATION_BOOKED
ATTENDED = MilestoneKind.CONSULTATION_ATTENDED


@pytest.fixture
def program(make_program):
    """A text to book a specialist that stops once a consultation is booked or attended, a text that
    listens to nothing, and a reminder the evening before a booked consultation."""
    return make_program(slug="road", steps=[
        {"key": "day3-book-a-specialist", "offset_days": 3, "send_time": time(10), "topic": "specialist_consultation",
         "until": [BOOKED, ATTENDED]},
        {"key": "day8-keep-moving", "offset_days": 8, "send_time": time(10), "topic": "early_mobilization"},
        {"key": "evening-before-consultation", "relative_to": BOOKED, "offset_days": -1, "send_time": time(18),
         "topic": "specialist_consultation", "template": "test/appointment", "max_lateness": timedelta(hours=4)},
    ])


def patient_url(patient):
    return reverse("admin:reminders_patient_change", args=[patient.pk])


def url(name, *args):
    return reverse(f"admin:reminders_patient_{name}", args=args)


def schedule(enrollment):
    """Every message of the enrollment as (step, appointment, status, reason, planned time)."""
    return sorted((m.step.key, m.milestone_id, m.status, m.reason, m.scheduled_at)
                  for m in enrollment.messages.select_related("step"))


def confirm(client, address, data, preview):
    return client.post(address, {**data, "fingerprint": preview.context["fingerprint"], "confirmed": "True"})


BOOKING = {"kind": BOOKED, "date": "2026-06-12", "time": "14:30", "detail": "Dr Rivera, spine clinic"}


# At a glance.

def test_the_patient_page_shows_the_road_at_a_glance(coord_a_client, side_a, coord_a):
    patient = side_a.patient
    milestone_record(patient=patient, kind=BOOKED, on=date(2026, 6, 12), at=time(14, 30), detail="Dr Rivera",
                     recorded_by=coord_a)
    milestone_record(patient=patient, kind=MilestoneKind.DXA_DONE, on=DAY, recorded_by=coord_a)
    contact_attempt_record(patient=patient, note="no answer, left a voicemail", made_by=coord_a)

    response = coord_a_client.get(patient_url(patient))
    assert response.status_code == 200
    page = response.content.decode()
    road = response.context["road"]
    assert 'href="tel:+12025550101"' in page and road["language"] == "English"
    assert road["escalations"][0]["summary"] == "Pain score 8 from Okafor"
    assert reverse("admin:reminders_escalation_change", args=[side_a.escalation.pk]) in page
    assert [(m["kind"], m["when"], m["detail"], m["recorded_by"], m["source"]) for m in road["milestones"]] == [
        ("Bone density scan done", "2 Jun 2026", "", "coord-a", "Coordinator"),
        ("Consultation booked", "12 Jun 2026 14:30 EDT", "Dr Rivera", "coord-a", "Coordinator")]
    assert road["milestones"][1]["recorded_at"] == "2 Jun 14:00 EDT"
    # The specialist text is cancelled by the booking: next is the reminder on the evening before it.
    assert road["next"]["when"] == "10 Jun 10:00 EDT"
    assert road["next"]["step"] == "Keep moving / early mobilization"
    assert road["replies"][0]["text"] == "pain is 8 today"
    assert "no answer, left a voicemail" in page and "Note a call attempt" in page
    assert 'id="milestone-record-form"' in page and url("milestone_history", patient.pk) in page
    assert "America/New_York" in page


def test_the_next_message_is_the_first_pending_one_in_the_patients_zone(coord_a_client, side_a):
    road = coord_a_client.get(patient_url(side_a.patient)).context["road"]
    assert road["next"]["when"] == "5 Jun 10:00 EDT"
    assert road["next"]["step"] == "Book a specialist / specialist consultation"
    assert road["milestones"] == [] and "Nothing recorded yet." in coord_a_client.get(
        patient_url(side_a.patient)).content.decode()


def test_a_user_who_may_only_view_patients_sees_the_road_without_the_forms(client, side_a, clinic, coordinator_group):
    from django.contrib.auth.models import Permission

    from reminders.models import Coordinator

    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_patient", "view_enrollment"]))
    Coordinator.objects.create(user=viewer, clinic=clinic)
    client.force_login(viewer)
    response = client.get(patient_url(side_a.patient))
    assert response.status_code == 200 and response.context["road"]["record_form"] is None
    assert 'id="milestone-record-form"' not in response.content.decode()
    assert client.post(url("milestone_record", side_a.patient.pk), BOOKING).status_code == 403
    assert client.post(url("contact_attempt", side_a.patient.pk), {"note": "x"}).status_code == 403
    assert client.get(url("milestone_history", side_a.patient.pk)).status_code == 200
    assert not Milestone.objects.exists() and not ContactAttempt.objects.exists()


# Record: preview, then confirm.

def test_recording_a_booking_previews_what_changes_and_writes_nothing(coord_a_client, side_a):
    before = schedule(side_a.enrollment)
    response = coord_a_client.post(url("milestone_record", side_a.patient.pk), {**BOOKING, "_preview": "Preview"})

    assert response.status_code == 200
    [section] = response.context["sections"]
    assert [(row["label"], row["step"], row["when"], row["why"]) for row in section["rows"]] == [
        ("cancels", "Book a specialist / specialist consultation", "was 5 Jun 10:00 EDT",
         "consultation booked for 12 Jun 14:30, recorded by coord-a"),
        ("plans", "Evening before consultation / specialist consultation", "11 Jun 18:00 EDT", ""),
    ]
    assert section["rows"][1]["appointment"] == "Consultation booked for 12 Jun 14:30"
    assert response.context["summary"] == "1 cancelled, 1 planned"
    page = response.content.decode()
    assert 'id="confirm_form"' in page and "Nothing is saved until you confirm." in page
    assert not Milestone.objects.exists()
    assert schedule(side_a.enrollment) == before


def test_confirming_applies_exactly_the_preview(coord_a_client, side_a, coord_a):
    address = url("milestone_record", side_a.patient.pk)
    preview = coord_a_client.post(address, BOOKING)
    response = confirm(coord_a_client, address, BOOKING, preview)

    assert response.status_code == 302 and response["Location"] == patient_url(side_a.patient)
    milestone = Milestone.objects.get()
    assert (milestone.kind, milestone.date, milestone.time, milestone.detail, milestone.recorded_by) == (
        BOOKED, date(2026, 6, 12), time(14, 30), "Dr Rivera, spine clinic", coord_a)
    previewed = {(row.step.key, row.status, row.reason, row.scheduled_at)
                 for changes in preview.context["effects"].changes for row in changes.rows}
    applied = {(m.step.key, m.status, m.reason, m.scheduled_at)
               for m in side_a.enrollment.messages.select_related("step")
               if m.step.key != "day8-keep-moving"}
    assert applied == previewed == {
        ("day3-book-a-specialist", MessageStatus.CANCELLED, "consultation booked for 12 Jun 14:30, recorded by coord-a",
         utc(2026, 6, 5, 14)),
        ("evening-before-consultation", MessageStatus.PENDING, "", utc(2026, 6, 11, 22)),
    }
    assert side_a.enrollment.messages.get(step__key="day8-keep-moving").status == MessageStatus.PENDING
    log = LogEntry.objects.get(object_id=str(side_a.patient.pk))
    assert log.user == coord_a and "Consultation booked recorded for 12 Jun 2026 14:30 EDT" in log.change_message


def test_a_schedule_changed_since_the_preview_is_shown_again_not_applied(coord_a_client, side_a, coord_a):
    address = url("milestone_record", side_a.patient.pk)
    preview = coord_a_client.post(address, BOOKING)
    milestone_record(patient=side_a.patient, kind=ATTENDED, on=DAY, recorded_by=coord_a)  # meanwhile, elsewhere
    response = confirm(coord_a_client, address, BOOKING, preview)

    assert response.status_code == 200
    assert "The schedule changed since the preview" in response.content.decode()
    assert list(Milestone.objects.values_list("kind", flat=True)) == [ATTENDED]


def test_the_record_form_is_prefilled_with_a_kind_from_the_link(coord_a_client, side_a):
    response = coord_a_client.get(url("milestone_record", side_a.patient.pk) + "?kind=dxa_booked&next=/admin/")
    assert response.context["form"]["kind"].value() == "dxa_booked"
    assert response.context["next"] == "/admin/"
    assert not coord_a_client.get(url("milestone_record", side_a.patient.pk) + "?kind=lunch").context[
        "form"]["kind"].value()


def test_after_confirming_the_coordinator_goes_back_where_they_came_from(coord_a_client, side_a):
    address = url("milestone_record", side_a.patient.pk)
    data = {**BOOKING, "next": reverse("admin:followup_needs_action")}
    response = confirm(coord_a_client, address, data, coord_a_client.post(address, data))
    assert response["Location"] == reverse("admin:followup_needs_action")

    data = {"kind": MilestoneKind.DXA_DONE, "date": "2026-06-01", "next": "https://elsewhere.example/"}
    response = confirm(coord_a_client, address, data, coord_a_client.post(address, data))
    assert response["Location"] == patient_url(side_a.patient)


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"kind": ATTENDED, "date": "2026-06-02", "time": "10:00"}, "time", "Only an appointment"),
    ({"kind": ATTENDED, "date": "2026-06-20"}, "date", "in the future"),
    ({"kind": "lunch", "date": "2026-06-02"}, "kind", "not one of the available choices"),
    ({"kind": ATTENDED, "date": ""}, "date", "required"),
    ({"kind": ATTENDED, "date": "2026-02-30"}, "date", "valid date"),
    ({"kind": BOOKED, "date": "2026-06-12", "time": "25:00"}, "time", "valid time"),
    ({"kind": ATTENDED, "date": "2026-06-02", "detail": "bad\u202etext"}, "detail", "Remove"),
])
@pytest.mark.parametrize("confirmed", [False, True])
def test_bad_input_names_the_field_and_changes_nothing(coord_a_client, side_a, data, field, words, confirmed):
    before = schedule(side_a.enrollment)
    extra = {"confirmed": "True", "fingerprint": "x"} if confirmed else {}
    response = coord_a_client.post(url("milestone_record", side_a.patient.pk), {**data, **extra})

    assert response.status_code == 400
    assert words in " ".join(response.context["form"].errors[field])
    assert response.context["effects"] is None  # no preview of what could not be saved
    assert not Milestone.objects.exists()
    assert schedule(side_a.enrollment) == before


def test_a_forgotten_patient_gets_no_milestone(coord_a_client, side_a, coord_a):
    from reminders.services.privacy import patient_forget

    patient_forget(patient=side_a.patient, forgotten_by=coord_a)
    assert coord_a_client.post(url("milestone_record", side_a.patient.pk), BOOKING).status_code == 403
    assert not Milestone.objects.exists()


# Move, correct, withdraw.

@pytest.fixture
def booking(side_a, coord_a):
    return milestone_record(patient=side_a.patient, kind=BOOKED, on=date(2026, 6, 12), at=time(14, 30),
                            recorded_by=coord_a)


def test_moving_an_appointment_previews_the_reminder_moving_then_moves_it(coord_a_client, side_a, booking):
    address = url("milestone_correct", side_a.patient.pk, booking.pk)
    page = coord_a_client.get(address)
    assert page.status_code == 200 and page.context["form"]["date"].value() == date(2026, 6, 12)
    data = {"date": "2026-06-15", "time": "09:00", "detail": "moved by the clinic"}
    preview = coord_a_client.post(address, data)
    [section] = preview.context["sections"]
    assert [(row["label"], row["when"]) for row in section["rows"]] == [
        ("moves", "11 Jun 18:00 EDT → 14 Jun 18:00 EDT")]
    assert Milestone.objects.get().date == date(2026, 6, 12)  # not yet

    response = confirm(coord_a_client, address, data, preview)
    assert response.status_code == 302
    booking.refresh_from_db()
    assert (booking.date, booking.time, booking.detail) == (date(2026, 6, 15), time(9), "moved by the clinic")
    reminder = side_a.enrollment.messages.get(step__key="evening-before-consultation")
    assert (reminder.scheduled_at, reminder.status) == (utc(2026, 6, 14, 22), MessageStatus.PENDING)


def test_a_fact_is_corrected_without_a_time(coord_a_client, side_a, coord_a):
    scan = milestone_record(patient=side_a.patient, kind=MilestoneKind.DXA_DONE, on=DAY, recorded_by=coord_a)
    address = url("milestone_correct", side_a.patient.pk, scan.pk)
    assert "time" not in coord_a_client.get(address).context["form"].fields
    data = {"date": "2026-06-01", "detail": "T-score -2.8"}
    preview = coord_a_client.post(address, data)
    assert preview.context["effects"].nothing and "Nothing in the schedule changes." in preview.content.decode()
    confirm(coord_a_client, address, data, preview)
    scan.refresh_from_db()
    assert (scan.date, scan.detail) == (date(2026, 6, 1), "T-score -2.8")
    refused = coord_a_client.post(address, {"date": "2026-07-01"})
    assert refused.status_code == 400 and "in the future" in refused.context["form"].errors["date"][0]


def test_withdrawing_needs_a_reason_then_brings_back_what_the_milestone_stopped(
        coord_a_client, side_a, booking, coord_a):
    address = url("milestone_withdraw", side_a.patient.pk, booking.pk)
    refused = coord_a_client.post(address, {"reason": "   ", "confirmed": "True"})
    assert refused.status_code == 400 and refused.context["form"].errors["reason"] == ["Give a reason."]
    booking.refresh_from_db()
    assert booking.withdrawn_at is None

    data = {"reason": "the patient cancelled the visit"}
    preview = coord_a_client.post(address, data)
    [section] = preview.context["sections"]
    assert {(row["label"], row["step"].split(" / ")[0]) for row in section["rows"]} == {
        ("plans again", "Book a specialist"), ("cancels", "Evening before consultation")}
    booking.refresh_from_db()
    assert booking.withdrawn_at is None  # the preview writes nothing

    confirm(coord_a_client, address, data, preview)
    booking.refresh_from_db()
    assert (booking.withdrawal_reason, booking.withdrawn_by) == ("the patient cancelled the visit", coord_a)
    assert side_a.enrollment.messages.get(step__key="day3-book-a-specialist").status == MessageStatus.PENDING
    # A withdrawn milestone is off the road; its history keeps it.
    assert coord_a_client.get(patient_url(side_a.patient)).context["road"]["milestones"] == []
    assert coord_a_client.get(address).status_code == 404


def test_died_previews_the_enrollments_that_end_and_withdrawing_it_opens_them_again(coord_a_client, side_a, coord_a):
    unsent = side_a.enrollment.messages.filter(status=MessageStatus.PENDING).count()
    address = url("milestone_record", side_a.patient.pk)
    data = {"kind": MilestoneKind.DIED, "date": "2026-06-01"}
    preview = coord_a_client.post(address, data)
    [ending] = preview.context["ending"]
    assert (ending.enrollment, ending.unsent) == (side_a.enrollment, unsent)
    assert 'id="ending-preview"' in preview.content.decode()
    assert Enrollment.objects.get(pk=side_a.enrollment.pk).status == EnrollmentStatus.ACTIVE

    confirm(coord_a_client, address, data, preview)
    assert Enrollment.objects.get(pk=side_a.enrollment.pk).status == EnrollmentStatus.CANCELLED
    died = Milestone.objects.get()

    address = url("milestone_withdraw", side_a.patient.pk, died.pk)
    data = {"reason": "wrong patient"}
    preview = coord_a_client.post(address, data)
    [reopening] = preview.context["reopening"]
    assert reopening["enrollment"] == side_a.enrollment and not reopening["stays_ended"]
    assert {row["label"] for row in reopening["rows"]} == {"plans again"}
    confirm(coord_a_client, address, data, preview)
    assert Enrollment.objects.get(pk=side_a.enrollment.pk).status == EnrollmentStatus.ACTIVE


def test_the_milestone_history_shows_who_recorded_moved_and_withdrew(coord_a_client, side_a, booking):
    address = url("milestone_correct", side_a.patient.pk, booking.pk)
    data = {"date": "2026-06-15", "time": "09:00", "detail": ""}
    confirm(coord_a_client, address, data, coord_a_client.post(address, data))
    address = url("milestone_withdraw", side_a.patient.pk, booking.pk)
    confirm(coord_a_client, address, {"reason": "cancelled"}, coord_a_client.post(address, {"reason": "cancelled"}))

    response = coord_a_client.get(url("milestone_history", side_a.patient.pk))
    assert [(row["what"], row["who"], row["date"]) for row in response.context["rows"]] == [
        ("withdrawn", "coord-a", "15 Jun 2026 09:00 EDT"),
        ("corrected from 2026-06-12 14:30", "coord-a", "15 Jun 2026 09:00 EDT"),
        ("recorded", "coord-a", "12 Jun 2026 14:30 EDT"),
    ]
    assert response.context["rows"][0]["withdrawal_reason"] == "cancelled"
    assert "(1 withdrawn)" in coord_a_client.get(patient_url(side_a.patient)).content.decode()


# Call attempts.

def test_a_call_attempt_is_noted_with_who_and_shown_on_the_patients_page(coord_a_client, side_a, coord_a):
    address = url("contact_attempt", side_a.patient.pk)
    assert coord_a_client.get(address).status_code == 200
    refused = coord_a_client.post(address, {"note": "  "})
    assert refused.status_code == 400 and "note" in refused.context["form"].errors
    assert not ContactAttempt.objects.exists()

    back = reverse("admin:followup_needs_action")
    response = coord_a_client.post(address, {"note": "no answer", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    attempt = ContactAttempt.objects.get()
    assert (attempt.patient, attempt.note, attempt.made_by) == (side_a.patient, "no answer", coord_a)
    road = coord_a_client.get(patient_url(side_a.patient)).context["road"]
    assert road["attempts"] == [{"when": "2 Jun 14:00 EDT", "note": "no answer", "by": "coord-a"}]


# Another clinic's patient.

def other_clinics_pages(side_b, milestone):
    patient = side_b.patient
    return [url("milestone_record", patient.pk), url("milestone_history", patient.pk),
            url("milestone_correct", patient.pk, milestone.pk), url("milestone_withdraw", patient.pk, milestone.pk),
            url("contact_attempt", patient.pk)]


def test_another_clinics_patient_and_milestones_cannot_be_read_or_changed(coord_a_client, side_a, side_b):
    theirs = milestone_record(patient=side_b.patient, kind=BOOKED, on=date(2026, 6, 12), at=time(9))
    before = schedule(side_b.enrollment)
    for address in other_clinics_pages(side_b, theirs):
        assert coord_a_client.get(address).status_code == 404, address
        data = {**BOOKING, "reason": "x", "note": "x", "confirmed": "True", "fingerprint": "x"}
        response = coord_a_client.post(address, data)
        assert response.status_code == 404 and "Marsh" not in response.content.decode(), address
    # Nor through one's own patient's address.
    for name in ("milestone_correct", "milestone_withdraw"):
        response = coord_a_client.post(url(name, side_a.patient.pk, theirs.pk),
                                       {"date": "2026-06-20", "time": "10:00", "reason": "x", "confirmed": "True"})
        assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.date, theirs.withdrawn_at) == (date(2026, 6, 12), None)
    assert list(Milestone.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert not ContactAttempt.objects.exists()
    assert schedule(side_b.enrollment) == before


def test_a_milestone_id_that_is_no_number_is_not_found(coord_a_client, side_a):
    response = coord_a_client.get(url("milestone_correct", side_a.patient.pk, "1x"))
    assert response.status_code == 404


def test_nothing_is_read_without_logging_in(client, side_a):
    response = client.get(url("milestone_record", side_a.patient.pk))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_replies_on_the_road_are_the_newest_three(coord_a_client, side_a):
    for n in range(4):
        InboundMessage.objects.create(provider_message_id=f"SM-road-{n}", from_number="+12025550101",
                                      body=f"reply {n}", clinic=side_a.clinic, patient=side_a.patient)
    replies = coord_a_client.get(patient_url(side_a.patient)).context["road"]["replies"]
    assert [reply["text"] for reply in replies] == ["reply 3", "reply 2", "reply 1"]
