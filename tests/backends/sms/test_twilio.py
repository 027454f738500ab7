"""The Twilio backend with the real SDK; only Twilio's HTTP API is faked."""

import pytest
import responses

from reminders.backends.sms import SmsOutcomeUnknown, SmsSendError, get_sms_backend
from tests import twilio_fakes as fake
from tests.moments import utc


@pytest.fixture(autouse=True)
def twilio(settings):
    fake.configure(settings)


@responses.activate
def test_an_accepted_message_returns_its_sid_and_sends_what_twilio_expects():
    call = responses.add(fake.accepted("SM" + "1" * 32))
    sent = get_sms_backend().send(to="+12025550101", body="Riverside: hello", message_id=42)

    assert sent.provider_message_id == "SM" + "1" * 32
    [request] = call.calls
    assert fake.sent_form(request) == {
        "To": "+12025550101", "Body": "Riverside: hello", "From": "+12025550199",
        "StatusCallback": "https://followup.example.org/webhooks/twilio/status/42/",
    }
    assert request.request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_the_request_is_the_one_the_sdks_own_http_client_makes():
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    call = responses.add(fake.accepted())
    body = "Café & co: 1+1=2, 50% off? #yes ¿Sí? \U0001f600"
    ours = get_sms_backend()
    ours.send(to="+12025550101", body=body, message_id=7)
    # The same call through the SDK's stock client: the same body and headers, byte for byte.
    ours.client = Client(fake.ACCOUNT_SID, fake.AUTH_TOKEN, http_client=TwilioHttpClient())
    ours.send(to="+12025550101", body=body, message_id=7)

    mine, stock = (c.request for c in call.calls)
    assert mine.body == stock.body
    assert fake.sent_form(call.calls[0])["Body"] == body
    assert {k: v for k, v in mine.headers.items() if k != "Content-Length"} == {
        k: v for k, v in stock.headers.items()
        if k not in {"Content-Length", "Accept-Encoding", "Connection"}}  # the session's defaults, not the SDK's


@responses.activate
def test_a_messaging_service_is_the_sender_when_set(settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "2" * 32
    call = responses.add(fake.accepted())
    get_sms_backend().send(to="+12025550101", body="x", message_id=1)
    form = fake.sent_form(call.calls[0])
    assert form["MessagingServiceSid"] == "MG" + "2" * 32
    assert "From" not in form


@responses.activate
def test_twilio_api_url_points_the_sdk_at_another_server(settings):
    settings.TWILIO_API_URL = "http://127.0.0.1:4010"
    call = responses.add(responses.POST, f"http://127.0.0.1:4010/2010-04-01/Accounts/{fake.ACCOUNT_SID}/Messages.json",
                         json=fake.message_json("SM" + "3" * 32), status=201)
    assert get_sms_backend().send(to="+12025550101", body="x", message_id=1).provider_message_id == "SM" + "3" * 32
    assert call.call_count == 1


@pytest.mark.parametrize(
    ("status", "code", "retryable", "fallback", "opted_out"),
    [
        (429, 20429, True, False, False),
        (429, None, True, False, False),
        (400, 21211, False, True, False),
        (400, 21614, False, True, False),
        (400, 21610, False, False, True),
        (400, 21408, False, False, False),
        (400, 30007, False, False, False),
    ],
)
@responses.activate
def test_every_refusal_is_classified(status, code, retryable, fallback, opted_out):
    responses.add(fake.refused(status, code, message="The 'To' number +12025550101 is not valid"))
    with pytest.raises(SmsSendError) as caught:
        get_sms_backend().send(to="+12025550101", body="x", message_id=1)
    error = caught.value
    assert (error.retryable, error.fallback, error.opted_out) == (retryable, fallback, opted_out)
    assert error.code == str(code or status)
    # The coordinator's explanation is ours: it never repeats Twilio's text with the number in it.
    assert "+1202" not in error.reason


@pytest.mark.parametrize(("status", "code"), [(500, None), (502, None), (503, 20500)])
@responses.activate
def test_a_server_error_is_an_unknown_outcome_never_a_blind_retry(status, code):
    """Twilio, or a proxy in front of it, may have created the message before failing."""
    responses.add(fake.refused(status, code))
    with pytest.raises(SmsOutcomeUnknown) as caught:
        get_sms_backend().send(to="+12025550101", body="x", message_id=1)
    assert f"HTTP {status}" in caught.value.reason


def test_a_connection_refused_before_sending_is_retryable(settings):
    settings.TWILIO_API_URL = f"http://127.0.0.1:{fake.closed_port()}"
    with pytest.raises(SmsSendError) as caught:
        get_sms_backend().send(to="+12025550101", body="x", message_id=1)
    assert caught.value.retryable
    assert caught.value.code == "connect"


def test_a_timeout_after_sending_is_an_unknown_outcome(settings):
    settings.TWILIO_READ_TIMEOUT = 0.3
    with fake.silent_server() as (url, received):
        settings.TWILIO_API_URL = url
        with pytest.raises(SmsOutcomeUnknown):
            get_sms_backend().send(to="+12025550101", body="x", message_id=1)
    assert received and received[0].startswith(b"POST /2010-04-01/Accounts/")


@responses.activate
def test_lookup_finds_a_message_by_recipient_and_text():
    responses.add(responses.GET, fake.MESSAGES_URL, json={
        "messages": [fake.message_json("SM" + "4" * 32, status="delivered", body="other text"),
                     fake.message_json("SM" + "5" * 32, status="sent", body="Riverside: hello")],
        "next_page_uri": None, "page": 0, "page_size": 50, "uri": "/x"})
    found = get_sms_backend().lookup(to="+12025550101", body="Riverside: hello",
                                     since=utc(2026, 6, 2))
    assert (found.provider_message_id, found.status) == ("SM" + "5" * 32, "sent")
    query = responses.calls[0].request.url
    assert "To=%2B12025550101" in query and "DateSent%3E=2026-06-01" in query


@responses.activate
def test_lookup_says_none_when_twilio_has_no_such_message():
    responses.add(responses.GET, fake.MESSAGES_URL, json={"messages": [], "next_page_uri": None,
                                                          "page": 0, "page_size": 50, "uri": "/x"})
    assert get_sms_backend().lookup(to="+12025550101", body="x", since=utc(2026, 6, 2)) is None


def test_proxy_and_ca_settings_from_the_environment_are_still_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.org:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/clinic-ca.pem")
    http = get_sms_backend().client.http_client
    assert http.proxy["https"] == "http://proxy.example.org:3128"
    assert http.session.verify == "/etc/ssl/clinic-ca.pem"
    # Read once when the backend is made, not on every call; NO_PROXY still counts.
    from reminders.backends.sms.twilio import TimeoutHttpClient

    local = TimeoutHttpClient(base_url="http://127.0.0.1:4010", connect_timeout=1, read_timeout=1)
    assert "http" not in local.proxy and "https" not in local.proxy
