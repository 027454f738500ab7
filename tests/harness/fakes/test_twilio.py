"""The Twilio fake answers the real SDK as Twilio does, counts duplicates and enforces its rate limit."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from harness.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeConfig,
    FakeTwilioClient,
    FakeTwilioServer,
)
from harness.processes import provider_start
from reminders.backends.sms import SmsOutcomeUnknown, SmsSendError, get_sms_backend

MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
TO = "+12025550101"


def send(body="Riverside: hello", *, to=TO, message_id=7):
    return get_sms_backend().send(to=to, body=body, message_id=message_id)


def test_the_sdk_gets_a_message_like_twilios_through_twilio_api_url(fake_twilio):
    sent = send()

    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.provider_message_id)
    [recorded] = fake_twilio.fake.recorded()
    assert (recorded["sid"], recorded["to"], recorded["from"], recorded["body"]) == (
        sent.provider_message_id, TO, "+12025550199", "Riverside: hello")
    assert recorded["status_callback"] == "https://followup.example.org/webhooks/twilio/status/7/"


def test_the_answer_has_twilios_message_fields(fake_twilio):
    answer = requests.post(fake_twilio.url + MESSAGES, auth=(ACCOUNT_SID, AUTH_TOKEN),
                           data={"To": TO, "From": "+12025550199", "Body": "hello"})
    assert answer.status_code == 201
    message = answer.json()
    assert message["status"] == "queued"
    assert message["account_sid"] == ACCOUNT_SID
    assert message["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message['sid']}.json"
    assert {"date_created", "direction", "num_segments", "error_code", "messaging_service_sid"} <= set(message)


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [("21211", 400, 21211), ("21614", 400, 21614), ("21610", 400, 21610), ("429", 429, 20429),
     ("500", 500, 20500)],
)
def test_refusals_have_twilios_error_body(fake_twilio, outcome, status, code):
    fake_twilio.fake.configure(FakeConfig(rules={TO: outcome}))
    answer = requests.post(fake_twilio.url + MESSAGES, auth=(ACCOUNT_SID, AUTH_TOKEN),
                           data={"To": TO, "From": "+12025550199", "Body": "hello"})
    assert answer.status_code == status
    body = answer.json()
    assert body == {"code": code, "message": body["message"],
                    "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    assert body["message"].strip()
    assert fake_twilio.fake.stats()["accepted"] == 0


def test_a_wrong_auth_token_is_refused(fake_twilio, settings):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    with pytest.raises(SmsSendError) as caught:
        send()
    assert (caught.value.code, caught.value.retryable) == ("20003", False)


@pytest.mark.parametrize(
    ("outcome", "code", "retryable", "fallback", "opted_out"),
    [("21211", "21211", False, True, False), ("21610", "21610", False, False, True),
     ("429", "20429", True, False, False)],
)
def test_the_backend_classifies_the_fakes_refusals(fake_twilio, outcome, code, retryable, fallback, opted_out):
    fake_twilio.fake.configure(FakeConfig(rules={TO: outcome}))
    with pytest.raises(SmsSendError) as caught:
        send()
    error = caught.value
    assert (error.code, error.retryable, error.fallback, error.opted_out) == (code, retryable, fallback, opted_out)


@pytest.mark.parametrize(("outcome", "accepted"), [("503", 0), ("created:500", 1), ("created:503", 1)])
def test_a_server_error_is_an_unknown_outcome_whether_or_not_the_message_was_created(fake_twilio, outcome, accepted):
    fake_twilio.fake.configure(FakeConfig(rules={TO: outcome}))
    with pytest.raises(SmsOutcomeUnknown):
        send()
    assert fake_twilio.fake.stats()["accepted"] == accepted
    found = get_sms_backend().lookup(to=TO, body="Riverside: hello",
                                     since=datetime.now(UTC) - timedelta(minutes=1))
    assert (found is not None) == bool(accepted)


def test_a_dropped_connection_is_an_unknown_outcome_and_nothing_is_recorded(fake_twilio):
    fake_twilio.fake.configure(FakeConfig(rules={TO: "drop"}))
    with pytest.raises(SmsOutcomeUnknown):
        send()
    assert fake_twilio.fake.stats()["accepted"] == 0
    assert get_sms_backend().lookup(to=TO, body="Riverside: hello", since=datetime.now(UTC)) is None


def test_a_timeout_after_accepting_is_unknown_to_the_client_but_found_by_a_lookup(fake_twilio, settings):
    settings.TWILIO_READ_TIMEOUT = 0.3
    fake_twilio.fake.configure(FakeConfig(rules={TO: "timeout"}, hold_seconds=10))
    with pytest.raises(SmsOutcomeUnknown):
        send()
    [recorded] = fake_twilio.fake.recorded()

    found = get_sms_backend().lookup(to=TO, body="Riverside: hello",
                                     since=datetime.now(UTC) - timedelta(minutes=1))
    assert (found.provider_message_id, found.status) == (recorded["sid"], "sent")


def test_a_delay_longer_than_the_read_timeout_leaves_an_accepted_message_unknown(fake_twilio, settings):
    settings.TWILIO_READ_TIMEOUT = 0.2
    fake_twilio.fake.configure(FakeConfig(delay=1.0))
    with pytest.raises(SmsOutcomeUnknown):
        send()
    assert fake_twilio.fake.stats()["accepted"] == 1


def test_rules_can_answer_in_turn_and_lookups_filter_by_recipient(fake_twilio):
    fake_twilio.fake.configure(FakeConfig(rules={TO: ["500", "ok"]}))
    with pytest.raises(SmsOutcomeUnknown):
        send()
    sent = send()
    send(to="+12025550102")

    found = get_sms_backend().lookup(to=TO, body="Riverside: hello",
                                     since=datetime.now(UTC) - timedelta(minutes=1))
    assert found.provider_message_id == sent.provider_message_id
    stats = fake_twilio.fake.stats()
    assert (stats["creates"], stats["accepted"], stats["outcomes"]["20500"]) == (3, 2, 1)


def test_a_delivery_failure_shows_in_lookups(fake_twilio):
    fake_twilio.fake.configure(FakeConfig(rules={TO: "undelivered:30003"}))
    send()
    found = get_sms_backend().lookup(to=TO, body="Riverside: hello",
                                     since=datetime.now(UTC) - timedelta(minutes=1))
    assert (found.status, found.error_code) == ("undelivered", "30003")


def test_the_same_text_accepted_twice_for_one_number_is_a_visible_duplicate(fake_twilio):
    send("Riverside: day 1")
    send("Riverside: day 1")
    send("Riverside: day 2")
    send("Riverside: day 1", to="+12025550102")

    stats = FakeTwilioClient(fake_twilio.url).stats()
    assert (stats["accepted"], stats["duplicates"]) == (4, 1)
    assert stats["duplicate_messages"] == [{"to": TO, "body": "Riverside: day 1", "count": 2}]
    assert {"to": TO, "body": "Riverside: day 2", "accepted": 1, "requests": 1} in stats["messages"]


def test_the_rate_limit_per_sender_answers_429_with_code_20429(fake_twilio, settings):
    # A token every ten seconds and a bucket of two: the third text at once is over the limit.
    fake_twilio.fake.configure(FakeConfig(rate_limit=0.1, rate_burst=2))
    send("one")
    send("two")
    with pytest.raises(SmsSendError) as caught:
        send("three")
    assert (caught.value.code, caught.value.retryable) == ("20429", True)

    # Another sender has a bucket of its own.
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    send("four")
    stats = fake_twilio.fake.stats()
    assert (stats["accepted"], stats["rate_limited"]) == (3, 1)
    assert stats["per_sender"]["+12025550199"] == {"accepted": 2, "rate_limited": 1}


def test_an_error_mix_is_drawn_with_its_seed():
    with FakeTwilioServer(FakeConfig(errors={"500": 0.5}, seed=3)) as server:
        answers = [requests.post(server.url + MESSAGES, auth=(ACCOUNT_SID, AUTH_TOKEN),
                                 data={"To": TO, "From": "+1", "Body": str(i)}).status_code for i in range(40)]
    assert set(answers) == {201, 500}
    assert server.fake.stats()["accepted"] == answers.count(201)


def test_it_can_be_reconfigured_and_reset_over_http(fake_twilio):
    client = FakeTwilioClient(fake_twilio.url)
    assert client.configure(rate_limit=5, errors={"429": 0.1})["errors"] == {"20429": 0.1}
    # Settings not given are kept; the mix is emptied before sending.
    assert client.configure(errors={})["rate_limit"] == 5
    send()
    assert client.stats(summary=True)["accepted"] == 1 and len(client.messages()) == 1
    client.reset()
    assert client.stats(summary=True)["accepted"] == 0
    with pytest.raises(Exception, match="400"):
        client.configure(errors={"teapot": 1})


def test_it_runs_as_a_command_on_loopback(tmp_path):
    # As the benchmarks and the fault scenarios start it: python -m harness.fakes.twilio --port 0.
    process, client = provider_start(log_dir=tmp_path, options=["--rate-limit", "3"])
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", client.url)
        assert client.stats(summary=True)["accepted"] == 0
        assert requests.get(client.url + "/_fake/config").json()["rate_limit"] == 3
    finally:
        process.stop()
    assert process.popen.returncode == 0


@pytest.mark.django_db(transaction=True)
def test_status_callbacks_are_signed_like_twilios_and_accepted_by_the_app(
        fake_twilio, live_server, settings, patient, program):
    from tests.test_tasks import DAY0_DUE, enroll, wait_for
    import time_machine

    from reminders.models import Message
    from reminders.services.dispatch import dispatch_cycle

    settings.PUBLIC_BASE_URL = live_server.url
    fake_twilio.fake.configure(FakeConfig(callbacks=["sent", "delivered"]))
    message = enroll(patient, program).messages.get(step__key="day0")
    with time_machine.travel(DAY0_DUE + timedelta(seconds=2), tick=True):
        assert dispatch_cycle().as_dict()["sent"] == 1
    assert wait_for(lambda: Message.objects.get(pk=message.pk).status == "delivered", timeout=10)
    # The fake counts a callback once the app has answered it, a moment after the app recorded it.
    assert wait_for(lambda: fake_twilio.fake.stats()["callbacks"] == {"posted": 2, "failed": 0, "waiting": 0},
                    timeout=5), fake_twilio.fake.stats()["callbacks"]
    # A request without the signature is refused, so the two above were signed right.
    assert requests.post(f"{live_server.url}/webhooks/twilio/status/{message.pk}/",
                         data={"MessageSid": "SMx", "MessageStatus": "failed"}).status_code == 403


def test_latency_comes_with_jitter_in_the_range_given(fake_twilio):
    import time

    fake_twilio.fake.configure(FakeConfig(delay=0.05, delay_max=0.15))
    took = []
    for index in range(12):
        start = time.monotonic()
        send(f"text {index}")
        took.append(time.monotonic() - start)
    assert all(0.05 <= each < 0.5 for each in took)
    assert max(took) - min(took) > 0.02  # drawn, not fixed


def test_a_senders_queue_sends_at_its_rate_in_segments_and_refuses_past_its_limit(fake_twilio):
    # Half a segment a second; a queue may hold a text at most 10 s.
    fake_twilio.fake.configure(FakeConfig(segment_rate=0.5, queue_seconds=10))
    send("Short.")  # 1 segment: leaves at once, the queue is busy 2 s
    send("Long text. " * 20)  # 220 GSM-7 characters, 2 segments: leaves at 2 s, busy until 6 s
    send("Dr. Núñez " * 10)  # UCS-2, 100 characters, 2 segments: leaves at 6 s, busy until 10 s
    send("Next.")  # leaves at 10 s: just within the limit
    with pytest.raises(SmsSendError) as caught:
        send("Too many.")  # would wait 12 s
    assert (caught.value.code, caught.value.retryable) == ("21611", True)

    messages = fake_twilio.fake.messages
    first = messages[0].received_at
    assert [m.segments for m in messages] == [1, 2, 2, 1]
    assert [round(m.sent_at - first) for m in messages] == [0, 2, 6, 10]
    listed = fake_twilio.fake.recorded()  # GET /_fake/messages
    assert [(m["segments"], round(m["sent_at"] - first)) for m in listed] == [(1, 0), (2, 2), (2, 6), (1, 10)]
    stats = fake_twilio.fake.stats()
    assert (stats["outcomes"]["queue_overflow"], stats["segments"]) == (1, 6)
    assert 9 <= stats["queue_wait_max_seconds"]["+12025550199"] <= 10


def test_the_command_takes_a_latency_range_and_a_segment_rate(tmp_path):
    process, client = provider_start(log_dir=tmp_path, options=["--delay", "0.15-0.25", "--segment-rate", "50"])
    try:
        config = requests.get(client.url + "/_fake/config").json()
        assert (config["delay"], config["delay_max"], config["segment_rate"]) == (0.15, 0.25, 50)
    finally:
        process.stop()


def test_each_callback_posts_round_trip_is_timed_and_its_p50_and_p99_are_in_the_stats(fake_twilio):
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.test_tasks import wait_for

    class SlowApp(BaseHTTPRequestHandler):
        """A status callback endpoint that takes 30 ms to answer."""

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.03)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    app = ThreadingHTTPServer(("127.0.0.1", 0), SlowApp)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    try:
        fake_twilio.fake.configure(FakeConfig(callbacks=["sent", "delivered"]))
        assert fake_twilio.fake.stats()["callback_round_trip_ms"] == {"count": 0, "p50": None, "p99": None,
                                                                      "max": None}
        for index in range(3):
            requests.post(fake_twilio.url + MESSAGES, auth=(ACCOUNT_SID, AUTH_TOKEN), data={
                "To": TO, "From": "+12025550199", "Body": f"hello {index}",
                "StatusCallback": f"http://127.0.0.1:{app.server_address[1]}/status/{index}/"})
        assert wait_for(lambda: fake_twilio.fake.stats()["callbacks"]["posted"] == 6, timeout=10)
        timed = fake_twilio.fake.stats()["callback_round_trip_ms"]
        assert timed["count"] == 6
        assert 30 <= timed["p50"] <= timed["p99"] == timed["max"] < 1000
        # Over HTTP too, and forgotten with the rest on a reset.
        assert FakeTwilioClient(fake_twilio.url).stats(summary=True)["callback_round_trip_ms"] == timed
        fake_twilio.fake.reset()
        assert fake_twilio.fake.stats()["callback_round_trip_ms"]["count"] == 0
    finally:
        app.shutdown()
        app.server_close()


def test_the_round_trip_percentiles_are_nearest_rank():
    from harness.fakes.twilio import _percentile_ms

    ordered = [i / 1000 for i in range(1, 101)]  # 1 ms .. 100 ms
    assert (_percentile_ms(ordered, 0.5), _percentile_ms(ordered, 0.99), _percentile_ms(ordered, 1.0)) == (
        50.0, 99.0, 100.0)
    assert _percentile_ms([0.007], 0.99) == 7.0
    assert _percentile_ms([], 0.5) is None
