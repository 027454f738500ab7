"""The enrollment's timeline: reminders with their appointment, cancelled rows with their reason in
words, and one step muted for one patient (with a reason, previewed) and unmuted."""

from datetime import date, time, timedelta

import pytest
from django.urls import reverse

from reminders.models import MessageStatus, MilestoneKind, StepMute
from reminders.services.enrollments import enrollment_cancel
from reminders.services.milestones import milestone_record
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)  # 2 June 2026, 14:00 in New York (EDT)

BOOKED = MilestoneKind.CONSULTATION_BOOKED


@pytest.fixture
def program(make_program):
    return make_program(slug="road", steps=[
        {"key": "day3-book-a-specialist", "offset_days": 3, "send_time": time(10), "topic": "specialist_consultation",
         "until": [BOOKED, MilestoneKind.CONSULTATION_ATTENDED]},
        {"key": "day8-keep-moving", "offset_days": 8, "send_time": time(10), "topic": "early_mobilization"},
        {"key": "evening-before-consultation", "relative_to": BOOKED, "offset_days": -1, "send_time": time(18),
         "topic": "specialist_consultation", "template": "test/appointment", "max_lateness": timedelta(hours=4)},
    ])


def change_url(enrollment):
    return reverse("admin:reminders_enrollment_change", args=[enrollment.pk])


def mute_url(enrollment, step, action="mute"):
    return reverse(f"admin:reminders_enrollment_step_{action}", args=[enrollment.pk, step.pk])


def step(enrollment, key):
    return enrollment.program.steps.get(key=key)


def status(enrollment, key):
    message = enrollment.messages.get(step__key=key)
    return message.status, message.reason


def rows(response):
    """The timeline's rows as the inline shows them: step key, appointment, status in words."""
    [inline] = [formset for formset in response.context["inline_admin_formsets"]
                if formset.opts.model._meta.model_name == "message"]
    return [(form.original.step.key, inline.opts.appointment(form.original),
             str(inline.opts.status_words(form.original))) for form in inline]


def test_the_timeline_shows_a_reminder_with_its_appointment_and_the_cancelled_text_with_its_reason(
        coord_a_client, side_a, coord_a):
    milestone_record(patient=side_a.patient, kind=BOOKED, on=date(2026, 6, 12), at=time(14, 30), recorded_by=coord_a)
    response = coord_a_client.get(change_url(side_a.enrollment))

    assert rows(response) == [
        ("day3-book-a-specialist", "-", 'Cancelled<br><span class="followup-note message-reason">'
                                        "consultation booked for 12 Jun 14:30, recorded by coord-a</span>"),
        ("day8-keep-moving", "-", "Pending"),
        ("evening-before-consultation", "Consultation booked for 12 Jun 14:30", "Pending"),
    ]
    page = response.content.decode()
    assert "2026-06-11 18:00 EDT" in page  # the reminder, in the patient's zone
    assert "consultation booked for 12 Jun 14:30, recorded by coord-a" in page


def test_a_step_is_muted_with_a_reason_after_a_preview_and_unmuted(coord_a_client, side_a, coord_a):
    enrollment, keep_moving = side_a.enrollment, step(side_a.enrollment, "day8-keep-moving")
    page = coord_a_client.get(change_url(enrollment)).content.decode()
    assert mute_url(enrollment, keep_moving) in page

    address = mute_url(enrollment, keep_moving)
    refused = coord_a_client.post(address, {"reason": " ", "confirmed": "True"})
    assert refused.status_code == 400 and refused.context["form"].errors["reason"] == ["Give a reason."]

    data = {"reason": "bed-bound, the advice does not apply"}
    preview = coord_a_client.post(address, data)
    [section] = preview.context["sections"]
    assert [(row["label"], row["step"], row["why"]) for row in section["rows"]] == [
        ("cancels", "Keep moving / early mobilization", "muted by coord-a: bed-bound, the advice does not apply")]
    assert not StepMute.objects.exists() and status(enrollment, "day8-keep-moving")[0] == MessageStatus.PENDING

    response = coord_a_client.post(address, {**data, "confirmed": "True",
                                             "fingerprint": preview.context["fingerprint"]})
    assert response.status_code == 302 and response["Location"] == change_url(enrollment)
    mute = StepMute.objects.get()
    assert (mute.step, mute.reason, mute.muted_by) == (keep_moving, "bed-bound, the advice does not apply", coord_a)
    assert status(enrollment, "day8-keep-moving") == (
        MessageStatus.CANCELLED, "muted by coord-a: bed-bound, the advice does not apply")
    assert status(enrollment, "day3-book-a-specialist") == (MessageStatus.PENDING, "")
    page = coord_a_client.get(change_url(enrollment)).content.decode()
    assert "muted: bed-bound, the advice does not apply" in page and mute_url(enrollment, keep_moving, "unmute") in page
    assert coord_a_client.get(address).status_code == 404  # muted already: unmute it instead

    address = mute_url(enrollment, keep_moving, "unmute")
    preview = coord_a_client.get(address)
    assert [row["label"] for row in preview.context["sections"][0]["rows"]] == ["plans again"]
    assert "Muted by coord-a on 2 Jun 14:00 EDT" in preview.content.decode()
    response = coord_a_client.post(address, {"confirmed": "True", "fingerprint": preview.context["fingerprint"]})
    assert response.status_code == 302
    assert status(enrollment, "day8-keep-moving") == (MessageStatus.PENDING, "")
    mute.refresh_from_db()
    assert mute.unmuted_by == coord_a


def test_a_closed_enrollment_offers_no_mute_and_refuses_one_on_the_field(coord_a_client, side_a):
    enrollment = side_a.enrollment
    enrollment_cancel(enrollment=enrollment, reason="Moved away")
    keep_moving = step(enrollment, "day8-keep-moving")
    assert mute_url(enrollment, keep_moving) not in coord_a_client.get(change_url(enrollment)).content.decode()
    address = mute_url(enrollment, keep_moving)
    preview = coord_a_client.post(address, {"reason": "x"})
    assert preview.context["effects"].nothing
    response = coord_a_client.post(address, {"reason": "x", "confirmed": "True",
                                             "fingerprint": preview.context["fingerprint"]})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["The enrollment is cancelled."]
    assert not StepMute.objects.exists()


def test_another_clinics_enrollment_cannot_be_muted(coord_a_client, side_a, side_b):
    theirs = step(side_b.enrollment, "day8-keep-moving")
    for action in ("mute", "unmute"):
        address = mute_url(side_b.enrollment, theirs, action)
        assert coord_a_client.get(address).status_code == 404
        assert coord_a_client.post(address, {"reason": "x", "confirmed": "True"}).status_code == 404
    assert not StepMute.objects.exists()
    assert status(side_b.enrollment, "day8-keep-moving") == (MessageStatus.PENDING, "")


def test_a_step_of_another_program_or_no_number_is_not_found(coord_a_client, side_a, make_program):
    alien = make_program(slug="alien").steps.get()
    assert coord_a_client.get(mute_url(side_a.enrollment, alien)).status_code == 404
    address = reverse("admin:reminders_enrollment_step_mute", args=[side_a.enrollment.pk, "2x"])
    assert coord_a_client.get(address).status_code == 404


def test_a_viewer_without_the_right_to_change_sees_no_mute(client, side_a, clinic):
    from django.contrib.auth.models import Permission

    from reminders.models import Coordinator
    from tests.factories import UserFactory

    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_enrollment", "view_message"]))
    Coordinator.objects.create(user=viewer, clinic=clinic)
    client.force_login(viewer)
    keep_moving = step(side_a.enrollment, "day8-keep-moving")
    assert mute_url(side_a.enrollment, keep_moving) not in client.get(change_url(side_a.enrollment)).content.decode()
    assert client.post(mute_url(side_a.enrollment, keep_moving), {"reason": "x"}).status_code == 403
