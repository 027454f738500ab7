"""Delivery outcomes end to end through dispatch, with Twilio's HTTP API faked."""

from datetime import timedelta

import pytest
import responses
from django.core import mail

from reminders.models import ConsentEvent, Message, MessageStatus
from reminders.services.delivery import StatusUpdate, message_status_update, unknown_messages_settle
from reminders.services.dispatch import dispatch_cycle
from reminders.services.unsubscribe import patient_for_token
from tests import twilio_fakes as fake
from tests.factories import EnrollmentFactory
from tests.moments import DAY0_DUE, ENROLLED_AT

SID = "SM" + "a" * 32


@pytest.fixture(autouse=True)
def twilio(settings):
    fake.configure(settings)


def day0(enrollment) -> Message:
    return enrollment.messages.get(step__key="day0", channel="sms")


@pytest.fixture
def dispatch_at(clock):
    """``dispatch_at(moment)``: one dispatch cycle at ``moment``; its summary."""

    def dispatch_at(moment):
        with clock.at(moment):
            return dispatch_cycle()

    return dispatch_at


@responses.activate
def test_accepted_is_sent_with_the_sid(enrollment, dispatch_at):
    responses.add(fake.accepted(SID))
    assert dispatch_at(DAY0_DUE).as_dict()["sent"] == 1
    message = day0(enrollment)
    assert (message.status, message.provider_message_id) == ("sent", SID)


@responses.activate
def test_rate_limited_is_retried_later_with_backoff_kept_in_the_database(enrollment, dispatch_at):
    responses.add(fake.refused(429, 20429))
    assert dispatch_at(DAY0_DUE).as_dict()["retrying"] == 1
    message = day0(enrollment)
    assert message.status == MessageStatus.PENDING
    assert message.error_code == "20429"
    assert DAY0_DUE + timedelta(seconds=15) <= message.due_at <= DAY0_DUE + timedelta(seconds=30)
    assert message.reason.startswith("retry 2 of 5 at 2 Jun 10:00 EDT: ")  # in the patient's zone, not UTC

    responses.replace(fake.accepted(SID))
    assert dispatch_at(message.due_at - timedelta(seconds=1)).claimed == 0
    assert dispatch_at(message.due_at).as_dict()["sent"] == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error_code) == ("sent", 2, "")


def test_retries_stop_after_the_last_attempt(enrollment, settings, dispatch_at):
    settings.SMS_MAX_ATTEMPTS = 3
    settings.TWILIO_API_URL = f"http://127.0.0.1:{fake.closed_port()}"  # refused before anything was sent
    moment = DAY0_DUE
    for _ in range(3):
        dispatch_at(moment)
        moment = day0(enrollment).due_at
    message = day0(enrollment)
    assert (message.status, message.attempts, message.error_code) == ("failed", 3, "connect")
    assert message.reason.startswith("gave up after 3 attempts")


@responses.activate
def test_an_opted_out_number_fails_records_the_opt_out_and_cancels_pending_sms(enrollment, dispatch_at):
    responses.add(fake.refused(400, 21610))
    dispatch_at(DAY0_DUE)
    message = day0(enrollment)
    assert (message.status, message.error_code) == ("failed", "21610")
    assert "replied STOP" in message.reason
    event = ConsentEvent.objects.get()
    assert (event.channel, event.given, event.actor, event.source) == (
        "sms", False, "provider_error", "Twilio error 21610")
    assert set(enrollment.messages.exclude(pk=message.pk).values_list("status", flat=True)) == {"cancelled"}


@responses.activate
def test_a_landline_falls_back_to_email_once(make_patient, program, dispatch_at):
    patient = make_patient(email_consent=True)
    enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    responses.add(fake.refused(400, 21614))
    dispatch_at(DAY0_DUE)
    sms = day0(enrollment)
    fallback = enrollment.messages.get(step__key="day0", channel="email")
    assert sms.status == "failed" and fallback.fallback_for == sms

    assert dispatch_at(DAY0_DUE + timedelta(seconds=5)).as_dict()["sent"] == 1
    [email] = mail.outbox
    assert "could not send this message to your phone" in email.body
    assert "Hello Margaret, this is day 0." in email.body
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The one-click link names this patient.
    link = email.extra_headers["List-Unsubscribe"].removeprefix("<").removesuffix(">")
    assert patient_for_token(token=link.rstrip("/").rsplit("/", 1)[1]) == patient
    # A late callback saying the same changes nothing and plans nothing more.
    assert not message_status_update(update=StatusUpdate(message_id=sms.pk, provider_message_id=SID,
                                                         status="undelivered", error_code="30006"))
    assert enrollment.messages.filter(channel="email", step__key="day0").count() == 1


@responses.activate
def test_no_fallback_without_email_consent(enrollment, dispatch_at):
    responses.add(fake.refused(400, 21614))
    dispatch_at(DAY0_DUE)
    assert not enrollment.messages.filter(channel="email").exists()


def test_a_timeout_after_sending_is_unknown_until_the_callback_settles_it(enrollment, settings, dispatch_at):
    settings.TWILIO_READ_TIMEOUT = 0.3
    with fake.silent_server() as (url, _):
        settings.TWILIO_API_URL = url
        assert dispatch_at(DAY0_DUE).as_dict()["unknown"] == 1
    message = day0(enrollment)
    assert message.status == MessageStatus.UNKNOWN
    assert message.body  # kept for a lookup
    # Nothing resends it, however often dispatch runs.
    assert dispatch_at(DAY0_DUE + timedelta(minutes=5)).claimed == 0
    assert message_status_update(update=StatusUpdate(message_id=message.pk, provider_message_id=SID,
                                                     status="delivered"))
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("delivered", SID)


@responses.activate
def test_an_unknown_outcome_is_settled_by_lookup(enrollment, clock):
    message = day0(enrollment)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.UNKNOWN, body="Riverside: hi",
                                                 updated_at=DAY0_DUE, attempts=1)
    responses.add(responses.GET, fake.MESSAGES_URL, json={
        "messages": [fake.message_json(SID, status="delivered", body="Riverside: hi")],
        "next_page_uri": None, "page": 0, "page_size": 50, "uri": "/x"})
    with clock.at(DAY0_DUE + timedelta(minutes=5)):
        assert unknown_messages_settle() == 0  # too early: a callback may still come
    with clock.at(DAY0_DUE + timedelta(minutes=11)):
        assert unknown_messages_settle() == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("delivered", SID)


@responses.activate
def test_an_unknown_outcome_twilio_never_got_is_sent_again(enrollment, clock, dispatch_at):
    message = day0(enrollment)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.UNKNOWN, body="Riverside: hi",
                                                 updated_at=DAY0_DUE, attempts=1)
    responses.add(responses.GET, fake.MESSAGES_URL, json={"messages": [], "next_page_uri": None,
                                                          "page": 0, "page_size": 50, "uri": "/x"})
    with clock.at(DAY0_DUE + timedelta(minutes=11)):
        assert unknown_messages_settle() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.PENDING
    responses.add(fake.accepted(SID))
    assert dispatch_at(message.due_at).as_dict()["sent"] == 1


@responses.activate
def test_callbacks_only_move_forward(enrollment, dispatch_at):
    responses.add(fake.accepted(SID))
    dispatch_at(DAY0_DUE)
    message = day0(enrollment)

    def callback(status, code="", sid=SID):
        return message_status_update(update=StatusUpdate(message_id=message.pk, provider_message_id=sid,
                                                         status=status, error_code=code))

    assert callback("delivered")
    assert not callback("delivered")  # repeated
    assert not callback("sent")  # late, out of order
    assert not callback("failed", "30005")  # nothing moves a delivered message back
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.delivered_at is not None


@responses.activate
def test_an_undelivered_callback_with_a_carrier_code_retries_and_a_stale_one_is_ignored(enrollment, clock, dispatch_at):
    responses.add(fake.accepted(SID))
    dispatch_at(DAY0_DUE)
    message = day0(enrollment)
    with clock.at(DAY0_DUE + timedelta(minutes=1)):
        assert message_status_update(update=StatusUpdate(message_id=message.pk, provider_message_id=SID,
                                                         status="undelivered", error_code="30003"))
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("pending", "30003")

    responses.replace(fake.accepted("SM" + "b" * 32))
    dispatch_at(message.due_at)
    # The first attempt's late "delivered" is about another SID: ignored.
    assert not message_status_update(update=StatusUpdate(message_id=message.pk, provider_message_id=SID,
                                                         status="delivered"))
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", "SM" + "b" * 32)


@pytest.mark.parametrize(("status", "code"), [(400, 21611), (429, 20429), (429, None)])
@responses.activate
def test_a_full_provider_queue_is_retried_however_often_never_failed(enrollment, settings, dispatch_at, status, code):
    settings.SMS_MAX_ATTEMPTS = 2
    responses.add(fake.refused(status, code))
    moment = DAY0_DUE
    for _ in range(4):  # twice the attempts allowed for a real failure
        assert dispatch_at(moment).as_dict()["retrying"] == 1
        moment = day0(enrollment).due_at
    message = day0(enrollment)
    assert (message.status, message.attempts, message.error_code) == ("pending", 4, str(code or status))
    assert "too many texts waiting" in message.reason or "slow down" in message.reason


@responses.activate
def test_a_queue_overflow_callback_sends_the_text_again_never_fails_it(enrollment, settings, dispatch_at, clock):
    settings.SMS_MAX_ATTEMPTS = 1
    responses.add(fake.accepted(SID))
    dispatch_at(DAY0_DUE)
    message = day0(enrollment)
    with clock.at(DAY0_DUE + timedelta(minutes=1)):
        assert message_status_update(update=StatusUpdate(message_id=message.pk, provider_message_id=SID,
                                                         status="failed", error_code="30001"))
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("pending", "30001")
    assert "queue overflow" in message.reason


@responses.activate
def test_a_failed_callback_with_a_permanent_code_fails_the_message(enrollment, dispatch_at):
    responses.add(fake.accepted(SID))
    dispatch_at(DAY0_DUE)
    message = day0(enrollment)
    assert message_status_update(update=StatusUpdate(message_id=message.pk, provider_message_id=SID,
                                                     status="failed", error_code="30007"))
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "30007")
    assert "blocked" in message.reason


@responses.activate
def test_a_delivered_callback_reads_only_the_message(enrollment, dispatch_at):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    responses.add(fake.accepted(SID))
    dispatch_at(DAY0_DUE)
    message = day0(enrollment)
    with CaptureQueriesContext(connection) as queries:
        assert message_status_update(update=StatusUpdate(message_id=message.pk, provider_message_id=SID,
                                                         status="delivered"))
    # The message read and moved; never the patient or the clinic (a callback is the web server's busiest work).
    assert len(queries) <= 2
    assert not any("reminders_patient" in q["sql"] or "reminders_clinic" in q["sql"] for q in queries)
    assert day0(enrollment).status == MessageStatus.DELIVERED
