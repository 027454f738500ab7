"""Twilio webhooks and the unsubscribe page, through Django's test client."""

import logging
from datetime import time, timedelta

import pytest
import responses
from django.core import mail
from django.urls import reverse
from twilio.request_validator import RequestValidator

from reminders.models import (
    CheckInAnswer,
    ConsentEvent,
    Escalation,
    InboundMessage,
    Message,
    MessageStatus,
    Patient,
)
from reminders.services.dispatch import dispatch_cycle
from reminders.unsubscribe_links import unsubscribe_url
from tests import twilio_fakes as fake
from tests.factories import EnrollmentFactory
from tests.moments import DAY0_DUE, ENROLLED_AT, REPLIES_AT, utc

pytestmark = pytest.mark.time_machine(REPLIES_AT, tick=False)

INBOUND = "/webhooks/twilio/inbound/"


@pytest.fixture(autouse=True)
def twilio(settings):
    """Twilio's credentials, which sign the requests below."""
    fake.configure(settings)


def sign(path: str, params: dict, *, host: str = "http://testserver") -> str:
    return RequestValidator(fake.AUTH_TOKEN).compute_signature(host + path, params)


def post(client, path, params, *, signature=None, **headers):
    if signature is None:
        signature = sign(path, params)
    if signature:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return client.post(path, params, **headers)


def text_in(client, body, *, sid="SM" + "1" * 32, number="+12025550101", signature=None, **extra):
    return post(client, INBOUND, {"MessageSid": sid, "From": number, "To": "+12025550199", "Body": body, **extra},
                signature=signature)


# --- signatures -------------------------------------------------------------------------

def test_a_valid_signature_is_accepted(client, enrollment):
    response = text_in(client, "Thank you")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert InboundMessage.objects.get().body == "Thank you"


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", "wrong"])
def test_a_missing_or_wrong_signature_changes_nothing(client, enrollment, signature):
    response = text_in(client, "STOP", signature=signature or False)
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()
    assert Patient.objects.get().sms_consent is True


def test_a_signature_for_other_parameters_is_refused(client, enrollment):
    params = {"MessageSid": "SM" + "1" * 32, "From": "+12025550101", "Body": "hello"}
    signature = sign(INBOUND, params)
    assert post(client, INBOUND, {**params, "Body": "STOP"}, signature=signature).status_code == 403
    assert not ConsentEvent.objects.exists()


def test_a_replayed_valid_request_changes_nothing_the_second_time(client, enrollment):
    assert text_in(client, "STOP").status_code == 200
    second = text_in(client, "STOP")
    assert second.status_code == 200
    assert "<Message>" not in second.content.decode()  # no second confirmation
    assert InboundMessage.objects.count() == 1
    assert ConsentEvent.objects.count() == 1


def test_behind_a_proxy_the_public_url_is_signed_when_trusted(client, enrollment, settings):
    settings.TRUST_PROXY_HEADERS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = ["followup.example.org", "testserver"]
    params = {"MessageSid": "SM" + "2" * 32, "From": "+12025550101", "Body": "hi"}
    signature = sign(INBOUND, params, host="https://followup.example.org")
    response = post(client, INBOUND, params, signature=signature,
                    HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_HOST="followup.example.org")
    assert response.status_code == 200


def test_without_trusting_the_proxy_the_public_url_does_not_match(client, enrollment):
    params = {"MessageSid": "SM" + "2" * 32, "From": "+12025550101", "Body": "hi"}
    signature = sign(INBOUND, params, host="https://followup.example.org")
    response = post(client, INBOUND, params, signature=signature,
                    HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_HOST="followup.example.org")
    assert response.status_code == 403


def test_a_signed_request_without_required_fields_is_a_clear_400(client, db):
    response = post(client, INBOUND, {"Body": "hi"})
    assert response.status_code == 400
    assert b"MessageSid" in response.content


# --- status callbacks -------------------------------------------------------------------

def status_path(message) -> str:
    return reverse("twilio-status", args=[message.pk])


def test_status_callbacks_are_signed_idempotent_and_forward_only(client, enrollment):
    message = enrollment.messages.get(step__key="day0")
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT, provider_message_id="SM" + "9" * 32)
    delivered = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered"}
    assert post(client, status_path(message), delivered, signature="forged").status_code == 403
    assert Message.objects.get(pk=message.pk).status == "sent"

    assert post(client, status_path(message), delivered).status_code == 204
    assert post(client, status_path(message), delivered).status_code == 204
    late_sent = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "sent"}
    assert post(client, status_path(message), late_sent).status_code == 204
    assert Message.objects.get(pk=message.pk).status == "delivered"


def test_a_status_callback_for_an_unknown_message_changes_nothing(client, db):
    response = post(client, "/webhooks/twilio/status/999999/",
                    {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered"})
    assert response.status_code == 204


# --- keywords ---------------------------------------------------------------------------

def test_stop_withdraws_sms_consent_and_cancels_every_pending_sms(client, enrollment, clock):
    response = text_in(client, "Stop")
    assert "You will get no more texts" in response.content.decode()
    patient = Patient.objects.get()
    assert patient.sms_consent is False
    assert set(enrollment.messages.values_list("status", flat=True)) == {"cancelled"}
    event = ConsentEvent.objects.get()
    assert (event.given, event.actor, event.source) == (False, "patient_keyword", "STOP keyword")
    # And the dispatcher sends none of them.
    with clock.at(REPLIES_AT + timedelta(days=8)):
        assert dispatch_cycle().claimed == 0


def test_the_providers_opt_out_type_is_honoured(client, enrollment):
    text_in(client, "Por favor no mas", OptOutType="STOP")
    assert Patient.objects.get().sms_consent is False


def test_start_restores_sms_consent(client, enrollment):
    text_in(client, "STOP", sid="SM" + "3" * 32)
    response = text_in(client, "START", sid="SM" + "4" * 32)
    assert "back on" in response.content.decode()
    assert Patient.objects.get().sms_consent is True
    assert list(ConsentEvent.objects.order_by("id").values_list("given", flat=True)) == [False, True]


# STOP then START: the texts STOP cancelled are planned again, as a new enrollment would plan them.
DAY0_SENT = DAY0_DUE + timedelta(seconds=5)
T_STOP = utc(2026, 6, 3, 11, 30)  # 07:30 on day 1
T_START = utc(2026, 6, 3, 16, 0)  # 12:00 on day 1


@pytest.fixture
def stopped(client, patient, make_program, settings, clock):
    """An enrollment with its day-0 text sent, then STOP; START comes at T_START."""
    settings.SMS_BACKEND = "locmem"
    program = make_program(slug="restart", steps=[
        {"key": "day0", "offset_days": 0, "send_time": time(10, 0)},
        # Due 13:30 UTC on day 1: at START still within its 12 hours.
        {"key": "day1-late-ok", "offset_days": 1, "send_time": time(9, 30), "max_lateness": timedelta(hours=12)},
        # Due 12:00 UTC on day 1: at START past its hour.
        {"key": "day1-too-late", "offset_days": 1, "send_time": time(8, 0), "max_lateness": timedelta(hours=1)},
        {"key": "day3", "offset_days": 3, "send_time": time(10, 0)},
        {"key": "day7", "offset_days": 7, "send_time": time(11, 0)},
    ])
    enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    with clock.at(DAY0_SENT):
        assert dispatch_cycle().as_dict()["sent"] == 1
    with clock.at(T_STOP):
        text_in(client, "STOP", sid="SM" + "3" * 32)
    assert set(enrollment.messages.exclude(step__key="day0").values_list("status", flat=True)) == {"cancelled"}
    return enrollment


def statuses(enrollment) -> dict[str, str]:
    return dict(enrollment.messages.values_list("step__key", "status"))


def test_start_plans_the_texts_stop_cancelled_again_and_dispatch_sends_them(client, stopped, sms_outbox, clock):
    with clock.at(T_START):
        text_in(client, "START", sid="SM" + "4" * 32)

    assert statuses(stopped) == {"day0": "sent", "day1-late-ok": "pending", "day1-too-late": "cancelled",
                                 "day3": "pending", "day7": "pending"}
    day3 = stopped.messages.get(step__key="day3")
    assert (day3.scheduled_at, day3.due_at) == (utc(2026, 6, 5, 14, 0),) * 2
    assert day3.reason == "planned again: SMS consent given again"
    # Too late under its step's late policy: it stays cancelled for the reason it was.
    assert stopped.messages.get(step__key="day1-too-late").reason.startswith("SMS consent withdrawn (STOP")
    start = ConsentEvent.objects.order_by("id").last()
    assert (start.given, start.source) == (True, "START keyword; 3 texts planned again")

    sent = []
    for moment in (T_START, utc(2026, 6, 5, 14, 0, 5), utc(2026, 6, 9, 15, 0, 5)):
        with clock.at(moment):
            sent.append(dispatch_cycle().as_dict()["sent"])
    assert sent == [1, 1, 1]
    assert len(sms_outbox) == 4  # day 0, then the three planned again
    assert statuses(stopped) == {"day0": "sent", "day1-late-ok": "sent", "day1-too-late": "cancelled",
                                 "day3": "sent", "day7": "sent"}


def test_start_says_when_the_next_text_comes(client, stopped, clock):
    with clock.at(T_START + timedelta(hours=10)):  # day1-late-ok too late by now
        reply = text_in(client, "START", sid="SM" + "4" * 32).content.decode()
    assert "Your texts are back on. Your next text comes on 5 June." in reply


def test_start_says_so_in_spanish(client, stopped, clock):
    Patient.objects.update(language="es")
    with clock.at(T_START + timedelta(hours=10)):
        reply = text_in(client, "START", sid="SM" + "4" * 32).content.decode()
    assert "El siguiente llega el 5 de junio." in reply


def test_start_says_when_no_texts_remain(client, stopped, clock):
    with clock.at(utc(2026, 6, 20, 16, 0)):
        reply = text_in(client, "START", sid="SM" + "4" * 32).content.decode()
    assert "Your texts are back on, but none are planned for now." in reply
    assert set(statuses(stopped).values()) == {"sent", "cancelled"}
    assert ConsentEvent.objects.order_by("id").last().source == "START keyword"


def test_a_second_start_changes_nothing(client, stopped, clock):
    with clock.at(T_START):
        text_in(client, "START", sid="SM" + "4" * 32)
    before = list(stopped.messages.order_by("id").values())
    with clock.at(T_START + timedelta(hours=1)):
        reply = text_in(client, "START", sid="SM" + "5" * 32).content.decode()
    assert list(stopped.messages.order_by("id").values()) == before
    assert ConsentEvent.objects.order_by("id").last().source == "START keyword"
    assert "Your next text comes on 3 June." in reply  # day1-late-ok, due now


def test_help_answers_with_the_clinic_name_and_phone(client, enrollment):
    body = text_in(client, "HELP").content.decode()
    assert "Riverside Spine Clinic" in body and "(202) 555-0143" in body
    assert "911" in body


def test_replies_are_in_the_patients_language(client, enrollment):
    Patient.objects.update(language="es")
    assert "Llamenos al (202) 555-0143" in text_in(client, "HELP").content.decode()


# --- replies, check-ins and warning signs -----------------------------------------------

@pytest.fixture
def pain_check(make_program, patient):
    program = make_program(slug="pain", steps=[{
        "key": "pain14", "offset_days": 0, "send_time": time(10, 0), "asks": "pain_score",
        "escalate_when": ">=7", "escalation_note": "call the patient about a specialist review"}])
    enrollment = EnrollmentFactory(patient=patient, program=program)
    Message.objects.filter(enrollment=enrollment).update(status=MessageStatus.SENT,
                                                         sent_at=REPLIES_AT - timedelta(hours=2))
    return enrollment


def test_a_check_in_answer_is_recorded_and_a_high_score_escalates_once(client, pain_check):
    response = text_in(client, "8", sid="SM" + "5" * 32)
    assert "we got your answer" in response.content.decode()
    answer = CheckInAnswer.objects.get()
    assert (answer.enrollment, answer.step.key, answer.value) == (pain_check, "pain14", "8")
    escalation = Escalation.objects.get()
    assert (escalation.kind, escalation.urgency) == ("check_in", 2)
    assert "specialist review" in escalation.summary

    text_in(client, "9", sid="SM" + "6" * 32)
    assert CheckInAnswer.objects.count() == 2
    assert Escalation.objects.count() == 1


def test_a_low_score_is_recorded_without_escalating(client, pain_check):
    text_in(client, "3")
    assert CheckInAnswer.objects.get().value == "3"
    assert not Escalation.objects.exists()


def test_a_free_text_reply_is_stored_for_the_clinic(client, enrollment):
    response = text_in(client, "Walking a bit more each day, thanks")
    assert "<Message>" not in response.content.decode()
    inbound = InboundMessage.objects.get()
    assert (inbound.kind, inbound.patient, inbound.clinic) == ("reply", enrollment.patient, enrollment.patient.clinic)


def test_warning_signs_escalate_urgently_once_with_one_alert_and_one_reply(
        client, enrollment, clinic, django_capture_on_commit_callbacks):
    clinic.alert_email = "oncall@riverside.example"
    clinic.save()
    with django_capture_on_commit_callbacks(execute=True):
        first = text_in(client, "I have chest pain and feel short of breath", sid="SM" + "7" * 32)
    assert "call 911 now" in first.content.decode()
    escalation = Escalation.objects.get()
    assert (escalation.kind, escalation.urgency) == ("red_flag", 1)
    assert "chest pain" in escalation.summary
    [alert] = mail.outbox
    assert alert.to == ["oncall@riverside.example"]
    assert "Margaret" not in alert.body and "chest" not in alert.body  # no patient data by email

    with django_capture_on_commit_callbacks(execute=True):
        again = text_in(client, "still chest pain", sid="SM" + "8" * 32)
    assert "<Message>" not in again.content.decode()
    assert Escalation.objects.count() == 1
    assert len(mail.outbox) == 1
    assert InboundMessage.objects.filter(kind="red_flag").count() == 2


def test_a_text_from_an_unknown_number_is_stored_without_a_reply(client, db):
    response = text_in(client, "who is this?", number="+12025550177")
    assert "<Message>" not in response.content.decode()
    assert InboundMessage.objects.get().patient is None


# --- email unsubscribe ------------------------------------------------------------------

def test_the_unsubscribe_link_asks_first_then_withdraws_email_consent(client, make_patient, program):
    patient = make_patient(email_consent=True, mobile="+12025550102")
    enrollment = EnrollmentFactory(patient=patient, program=program)
    path = unsubscribe_url(patient=patient).removeprefix("https://followup.example.org")

    assert "Yes, stop the emails" in client.get(path).content.decode()
    assert Patient.objects.get(pk=patient.pk).email_consent is True  # a link scanner changes nothing

    assert "You are unsubscribed" in client.post(path).content.decode()
    assert Patient.objects.get(pk=patient.pk).email_consent is False
    event = ConsentEvent.objects.get(patient=patient)
    assert (event.channel, event.actor) == ("email", "unsubscribe_link")
    assert set(enrollment.messages.filter(channel="email").values_list("status", flat=True)) == {"cancelled"}


def test_a_tampered_unsubscribe_link_changes_nothing(client, make_patient):
    patient = make_patient(email_consent=True)
    path = unsubscribe_url(patient=patient).removeprefix("https://followup.example.org")
    response = client.post(path[:-5] + "xxxx/")
    assert response.status_code == 400
    assert Patient.objects.get(pk=patient.pk).email_consent is True


# --- privacy ----------------------------------------------------------------------------

@responses.activate
def test_no_patient_data_reaches_the_logs(client, make_patient, program, caplog, settings, clock):
    caplog.set_level(logging.DEBUG)
    patient = make_patient(first_name="Zenobia", last_name="Quarterfield", mobile="+12025550166",
                           email="zenobia@example.com", email_consent=True)
    enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    responses.add(fake.refused(400, 21614, message="The number +12025550166 is not a mobile"))
    responses.add(responses.GET, fake.MESSAGES_URL, json={"messages": [], "next_page_uri": None,
                                                          "page": 0, "page_size": 50, "uri": "/x"})
    with clock.at(DAY0_DUE):
        dispatch_cycle()  # SMS refused, email fallback planned
        dispatch_cycle()  # email sent
    for sid, body in [("SM" + "a1" * 16, "HELP"), ("SM" + "b2" * 16, "pain is bad, chest pain Zenobia"),
                      ("SM" + "c3" * 16, "STOP")]:
        post(client, INBOUND, {"MessageSid": sid, "From": "+12025550166", "Body": body})
    assert enrollment.messages.filter(status="sent").exists()
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in ["Zenobia", "Quarterfield", "2025550166", "555-0166", "zenobia@example.com", "Hello",
                   "chest pain Zenobia"]:
        assert secret not in logged, secret
