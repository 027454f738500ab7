"""
The Twilio webhooks under random and hostile input (hypothesis).

Three properties, for both webhooks:

- never a 500, whatever the body, headers, encoding or size;
- nothing changes without a valid signature;
- a validly signed request replayed changes nothing the second time.

Each example runs inside a savepoint that is rolled back, so every example
starts from the same patients and messages.
"""

import string
from contextlib import contextmanager
from datetime import time, timedelta
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.test import RequestFactory
from hypothesis import HealthCheck, event, given, settings as hsettings, strategies as st
from twilio.request_validator import RequestValidator

from reminders.models import (
    CheckInAnswer,
    ConsentEvent,
    Enrollment,
    Escalation,
    InboundMessage,
    Message,
    MessageStatus,
    Patient,
)
from tests import twilio_fakes as fake
from tests.factories import EnrollmentFactory
from tests.moments import REPLIES_AT

pytestmark = pytest.mark.time_machine(REPLIES_AT, tick=False)

INBOUND = "/webhooks/twilio/inbound/"
MOBILES = ["+12025550101", "+12025550102"]
SENT_SID = "SM" + "9" * 32

FUZZ = hsettings(
    max_examples=200, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def twilio(settings):
    """Twilio's credentials, which sign the requests below."""
    fake.configure(settings)


@pytest.fixture
def world(make_clinic, make_patient, make_program):
    """Two clinics, a patient in each sharing nothing, messages in every interesting state."""
    other_clinic = make_clinic(name="Hillcrest Fracture Service", phone="+442079460958",
                               time_zone="Europe/London", alert_email="alerts@hillcrest.example")
    program = make_program(steps=[
        {"key": "day0", "offset_days": 0, "send_time": time(10, 0), "asks": "pain_score",
         "escalate_when": ">=7"},
        {"key": "day1", "offset_days": 1, "send_time": time(9, 30)},
        {"key": "day2", "offset_days": 2, "send_time": time(9, 30)},
    ])
    first = make_patient(mobile=MOBILES[0], email="first@example.com", email_consent=True)
    second = make_patient(clinic=other_clinic, first_name="Edith", last_name="Marsh", mobile=MOBILES[1])
    enrollments = [EnrollmentFactory(patient=p, program=program) for p in (first, second)]
    sms = Message.objects.filter(enrollment=enrollments[0], channel="sms").order_by("step__offset_days")
    # One sent check-in (with a SID), one still sending, one still pending.
    Message.objects.filter(pk=sms[0].pk).update(status=MessageStatus.SENT, provider_message_id=SENT_SID,
                                                sent_at=REPLIES_AT - timedelta(hours=1))
    Message.objects.filter(pk=sms[1].pk).update(status=MessageStatus.SENDING)
    return {"sent": sms[0].pk, "sending": sms[1].pk, "pending": sms[2].pk, "missing": 10**9}


def snapshot():
    """Everything a webhook could change, compared before and after a request."""
    return (
        list(Message.objects.order_by("pk").values_list(
            "pk", "status", "provider_message_id", "error_code", "reason", "due_at", "attempts",
            "sent_at", "delivered_at", "updated_at", "fallback_for")),
        list(Patient.objects.order_by("pk").values_list("pk", "sms_consent", "email_consent")),
        list(Enrollment.objects.order_by("pk").values_list("pk", "status")),
        list(InboundMessage.objects.order_by("pk").values_list("pk", "kind", "body", "patient_id", "clinic_id")),
        ConsentEvent.objects.count(), Escalation.objects.count(), CheckInAnswer.objects.count(),
    )


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- strategies -------------------------------------------------------------------------

# Any Unicode a client can put in UTF-8 (no lone surrogates), weighted towards trouble.
nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", "\x00", "STOP", "stop\x00", "HELP", "START", "8", "10", "yes", "chest pain",
                     "<Message>x</Message>", "]]>&amp;", "\u202eSTOP", "🦴" * 50, "é" * 2000,
                     "%00", "\r\nX-Injected: 1", "A" * 70_000]),
)
# Per field: values Twilio really sends, and hostile ones.
FIELDS = {
    "MessageSid": (st.sampled_from([SENT_SID, "SM" + "1" * 32, "SM" + "a1" * 16]),
                   st.one_of(st.sampled_from(["", "\x00", "SM" + "x" * 500]), nasty_text)),
    "MessageStatus": (st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed", "read",
                                       "canceled", "accepted"]),
                      st.one_of(st.sampled_from(["", "DELIVERED", "delivered\x00"]), nasty_text)),
    "ErrorCode": (st.sampled_from(["30003", "30008", "21610", "21614", "21211", "30005", "30007"]),
                  st.one_of(st.sampled_from(["", "99999", "\x00", "3" * 40]), nasty_text)),
    "From": (st.sampled_from([*MOBILES, "+12025550177", "+447700900101"]),
             st.one_of(st.sampled_from(["+1", "+", "abc", "+1" * 200, "0" * 32, "+1202555010\x00",
                                        "\u202e+12025550101", ""]),
                       st.text(alphabet="+0123456789 ()-", max_size=30), nasty_text)),
    "To": (st.just("+12025550199"), nasty_text),
    "Body": (st.sampled_from(["STOP", "Stop.", "START", "HELP", "8", "2", "yes", "Thanks!",
                              "I have chest pain", "my legs are numb"]), nasty_text),
    "OptOutType": (st.sampled_from(["STOP", "START", "HELP"]), nasty_text),
    "AccountSid": (st.just(fake.ACCOUNT_SID), nasty_text),
}
# The fields a webhook needs: present in most examples, so requests get past the 400.
REQUIRED = {"MessageSid", "MessageStatus", "From"}


@st.composite
def form_params(draw, *, realistic: int = 1) -> dict[str, str]:
    """Twilio-shaped form fields, some missing, plus random extra fields.

    A field's value is a real one with odds ``realistic`` to 1, otherwise hostile.
    """
    params = {}
    for name, (real, hostile) in FIELDS.items():
        if draw(st.integers(0, 9)) < (9 if name in REQUIRED else 4):
            params[name] = draw(real if draw(st.integers(0, realistic)) else hostile)
    params.update(draw(st.dictionaries(st.text(min_size=1, max_size=20), nasty_text, max_size=3)))
    return params


CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/x-www-form-urlencoded; charset=rot13",
    "application/x-www-form-urlencoded; charset=no-such-charset",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "application/json",
    "text/plain",
    "",
]


@st.composite
def request_body(draw) -> tuple[bytes, str]:
    """A body and its Content-Type: well-formed forms in several encodings, or garbage."""
    content_type = draw(st.one_of(st.sampled_from(CONTENT_TYPES), st.text(st.characters(max_codepoint=255),
                                                                           max_size=60)))
    kind = draw(st.sampled_from(["utf-8", "latin-1", "raw", "percent-garbage", "multipart"]))
    params = draw(form_params())
    if kind == "utf-8":
        body = urlencode(params).encode()
    elif kind == "latin-1":
        body = urlencode(params, encoding="latin-1", errors="replace").encode()
    elif kind == "raw":
        body = draw(st.binary(max_size=2000))
    elif kind == "percent-garbage":
        # Valid percent-encoding of invalid UTF-8 (lone continuation bytes, NULs, overlongs).
        garbage = draw(st.binary(min_size=1, max_size=60))
        body = urlencode(params).encode() + b"&Body=" + b"".join(b"%%%02X" % b for b in garbage)
    else:
        boundary = draw(st.sampled_from(["xyz", "", "--", "a" * 80]))
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"Body\"\r\n\r\n".encode()
                + draw(st.binary(max_size=200)) + draw(st.sampled_from([b"", f"\r\n--{boundary}--".encode()])))
    return body, content_type


def header_text():
    # WSGI header values are latin-1 strings.
    return st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60)


@st.composite
def extra_headers(draw) -> dict[str, str]:
    headers = {}
    if draw(st.booleans()):
        headers["X-Forwarded-Proto"] = draw(st.one_of(st.just("https"), header_text()))
        headers["X-Forwarded-Host"] = draw(st.one_of(st.just("followup.example.org"), header_text()))
    if draw(st.booleans()):
        headers["X-Twilio-Webhooks-Signature-Settings"] = draw(st.one_of(
            st.sampled_from(["algorithm=HMAC_SHA256", "algorithm=MD5", "key=x,algorithm="]), header_text()))
    return headers


def signed_params(path: str, body: bytes, content_type: str):
    """What Django will parse from this body: the parameters a signer would have signed."""
    request = RequestFactory().generic("POST", path, data=body, content_type=content_type)
    try:
        return request.POST
    except Exception:
        return {}


def valid_signature(path: str, body: bytes, content_type: str) -> str:
    return RequestValidator(fake.AUTH_TOKEN).compute_signature(
        "http://testserver" + path, signed_params(path, body, content_type))


@st.composite
def wrong_signature(draw, path: str, body: bytes, content_type: str) -> str | None:
    """Missing, random, or valid for something else (other URL, other body, other token)."""
    mode = draw(st.sampled_from(["missing", "random", "other-url", "other-body", "other-token", "empty"]))
    if mode == "missing":
        return None
    if mode == "empty":
        return ""
    if mode == "random":
        return draw(st.one_of(header_text(), st.text(alphabet=string.ascii_letters + "+/=", max_size=40)))
    if mode == "other-url":
        return RequestValidator(fake.AUTH_TOKEN).compute_signature(
            "http://testserver/webhooks/twilio/other/", signed_params(path, body, content_type))
    if mode == "other-body":
        return RequestValidator(fake.AUTH_TOKEN).compute_signature(
            "http://testserver" + path, {"Body": "something else"})
    return RequestValidator("another-token").compute_signature(
        "http://testserver" + path, signed_params(path, body, content_type))


def post(client, path: str, body: bytes, content_type: str, signature: str | None, headers: dict):
    headers = dict(headers)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    response = client.generic("POST", path, data=body, content_type=content_type, headers=headers)
    assert response.status_code < 500, response.content[:200]
    return response


def send(*args):
    response = post(*args)
    event(f"HTTP {response.status_code}")  # shown by --hypothesis-show-statistics
    return response


# Where a request goes: the inbound webhook, or the status webhook of a message in
# some state, of no message, or of an id out of any integer column's range.
targets = st.sampled_from(["inbound"] * 3 + ["sent", "sending", "pending", "missing", "any"]).flatmap(
    lambda t: st.integers(min_value=0, max_value=2**70) if t == "any" else st.just(t))


def target_path(world, which) -> str:
    if which == "inbound":
        return INBOUND
    pk = which if isinstance(which, int) else world[which]
    return f"/webhooks/twilio/status/{pk}/"


# --- properties -------------------------------------------------------------------------

@FUZZ
@given(data=st.data(), body=request_body(), headers=extra_headers(), target=targets)
def test_without_a_valid_signature_nothing_changes(client, world, data, body, headers, target):
    path = target_path(world, target)
    body, content_type = body
    signature = data.draw(wrong_signature(path, body, content_type))
    with rolled_back():
        before = snapshot()
        response = send(client, path, body, content_type, signature, headers)
        assert response.status_code in {400, 403, 413}
        assert snapshot() == before


@FUZZ
@given(body=request_body(), headers=extra_headers(), target=targets)
def test_a_valid_signature_over_garbage_never_fails_and_a_replay_changes_nothing(
        client, world, clock, body, headers, target):
    path = target_path(world, target)
    body, content_type = body
    signature = valid_signature(path, body, content_type)
    with rolled_back():
        send(client, path, body, content_type, signature, headers)
        after_first = snapshot()
        clock.shift(timedelta(seconds=1))  # a write on replay would show in updated_at
        replay = send(client, path, body, content_type, signature, headers)
        assert snapshot() == after_first
        assert b"<Message>" not in replay.content  # no second automatic reply


@FUZZ
@given(params=form_params(realistic=3), target=targets)
def test_well_formed_signed_callbacks_never_fail_and_replays_change_nothing(client, world, clock, params, target):
    """Real Twilio-shaped form posts (the common case), signed, with hostile values."""
    path = target_path(world, target)
    body = urlencode(params).encode()
    content_type = "application/x-www-form-urlencoded"
    signature = valid_signature(path, body, content_type)
    with rolled_back():
        send(client, path, body, content_type, signature, {})
        after_first = snapshot()
        clock.shift(timedelta(seconds=1))
        send(client, path, body, content_type, signature, {})
        assert snapshot() == after_first


# --- sizes and lengths ------------------------------------------------------------------

@pytest.mark.parametrize("size", [64 * 1024 + 1, 3 * 1024 * 1024])
@pytest.mark.parametrize("path", [INBOUND, "/webhooks/twilio/status/1/"])
def test_an_oversized_body_is_refused_even_when_signed(client, world, size, path):
    params = {"MessageSid": "SM" + "1" * 32, "From": MOBILES[0], "Body": "STOP" + " " * size}
    body = urlencode(params).encode()
    signature = valid_signature(path, body, "application/x-www-form-urlencoded")
    before = snapshot()
    response = post(client, path, body, "application/x-www-form-urlencoded", signature, {})
    assert response.status_code == 413
    assert snapshot() == before


@pytest.mark.parametrize("length", ["abc", "-1", "99999999999999999999", "1e3", " 12", ""])
def test_a_malformed_content_length_is_a_client_error(client, world, length):
    params = {"MessageSid": "SM" + "1" * 32, "From": MOBILES[0], "Body": "STOP"}
    body = urlencode(params).encode()
    signature = valid_signature(INBOUND, body, "application/x-www-form-urlencoded")
    before = snapshot()
    response = client.generic("POST", INBOUND, data=body, content_type="application/x-www-form-urlencoded",
                              headers={"X-Twilio-Signature": signature}, CONTENT_LENGTH=length)
    assert response.status_code < 500
    if response.status_code != 200:
        assert snapshot() == before


def test_too_many_fields_are_refused(client, world):
    body = "&".join(f"f{i}=x" for i in range(1500)).encode()
    signature = valid_signature(INBOUND, body, "application/x-www-form-urlencoded")
    before = snapshot()
    response = post(client, INBOUND, body, "application/x-www-form-urlencoded", signature, {})
    assert response.status_code in {400, 403}
    assert snapshot() == before


# --- regressions found by the properties above --------------------------------------------

@pytest.mark.parametrize("sender", ["abc", "+", "\x00", "+1" * 200, "tel:nothing"])
def test_a_signed_text_from_something_that_is_no_number_is_a_400(client, world, sender):
    """PhoneNumber.from_string raised NumberParseException: a 500."""
    params = {"MessageSid": "SM" + "1" * 32, "From": sender, "Body": "hi"}
    body = urlencode(params).encode()
    before = snapshot()
    response = post(client, INBOUND, body, "application/x-www-form-urlencoded",
                    valid_signature(INBOUND, body, "application/x-www-form-urlencoded"), {})
    assert response.status_code == 400
    assert snapshot() == before


def test_nul_and_control_characters_are_dropped_before_they_reach_the_database(client, world):
    """PostgreSQL refuses NUL in text: a signed text with one was a 500 there."""
    params = {"MessageSid": "SM\x00" + "1" * 32, "From": MOBILES[0], "To": "+1202\x00",
              "Body": "pain\x00 is\x07 bad\nreally"}
    body = urlencode(params).encode()
    response = post(client, INBOUND, body, "application/x-www-form-urlencoded",
                    valid_signature(INBOUND, body, "application/x-www-form-urlencoded"), {})
    assert response.status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.provider_message_id, inbound.to_number, inbound.body) == (
        "SM" + "1" * 32, "+1202", "pain is bad\nreally")

    path = target_path(world, "sent")
    params = {"MessageSid": SENT_SID, "MessageStatus": "undelivered", "ErrorCode": "30007\x00"}
    body = urlencode(params).encode()
    response = post(client, path, body, "application/x-www-form-urlencoded",
                    valid_signature(path, body, "application/x-www-form-urlencoded"), {})
    assert response.status_code == 204
    assert Message.objects.values_list("status", "error_code").get(pk=world["sent"]) == ("failed", "30007")


def test_an_automatic_reply_is_well_formed_xml_whatever_the_clinic_name(client, world, clinic):
    from xml.etree import ElementTree

    # Saved past validation, as old rows or a direct import could be.
    type(clinic).objects.filter(pk=clinic.pk).update(name="A&B <Spine>\x0b\x01 \"Clinic\" ]]>")
    params = {"MessageSid": "SM" + "2" * 32, "From": MOBILES[0], "Body": "HELP"}
    body = urlencode(params).encode()
    response = post(client, INBOUND, body, "application/x-www-form-urlencoded",
                    valid_signature(INBOUND, body, "application/x-www-form-urlencoded"), {})
    reply = ElementTree.fromstring(response.content).find("Message").text
    assert " ".join(reply.split()).startswith('A&B <Spine> "Clinic" ]]> follow-up texts.')
