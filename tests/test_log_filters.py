"""
No patient data in the logs: the main flows run with every logger at DEBUG
(ours, Django's, Celery's, the Twilio SDK's, urllib3's ...), and the output the
service's own log handler writes holds no name, number, address or message text.
"""

import io
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import responses
from django.core import mail

from reminders.log_filters import RedactContactDetails, drop_query_strings, redact
from reminders.models import InboundMessage, Message, Patient
from reminders.services.delivery import unknown_messages_settle
from reminders.services.dispatch import dispatch_cycle
from reminders.services.health import ops_alerts_check
from reminders.services.patients import patient_save
from reminders.services.privacy import patient_forget
from reminders.services.reconciliation import reconciliation_run
from reminders.unsubscribe_links import unsubscribe_url
from tests import twilio_fakes as fake
from tests.factories import EnrollmentFactory, UserFactory
from tests.moments import DAY0_DUE, ENROLLED_AT, utc
from tests.test_webhooks import INBOUND, post, status_path

BASE_DIR = Path(__file__).resolve().parent.parent
MOBILE = "+12025550166"
SID = "SM" + "7" * 32


class Records(logging.Handler):
    """(logger name, message) as logged, before any filter of another handler changes the record."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str]] = []

    def emit(self, record):
        self.records.append((record.name, record.getMessage()))


@pytest.fixture
def log_output(settings):
    """Every logger at DEBUG; what the service's own handler writes, and the raw records."""
    fake.configure(settings, OPS_ALERT_EMAIL=["ops@followup.example"])
    root = logging.getLogger()
    [handler] = [h for h in root.handlers if any(isinstance(f, RedactContactDetails) for f in h.filters)]
    output = io.StringIO()
    stream = handler.setStream(output)
    loggers = [root, *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    saved = {logger: (logger.level, logger.disabled) for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    raw = Records()
    root.handlers.insert(0, raw)  # before the redacting handler, which changes the records it passes
    yield output, raw.records
    root.removeHandler(raw)
    for logger, (level, disabled) in saved.items():
        logger.setLevel(level)
        logger.disabled = disabled
    handler.setStream(stream)


@pytest.fixture
def zenobia(clinic, program, clock):
    clinic.alert_email = "oncall@riverside.example"
    clinic.save()
    user = UserFactory(username="coord")
    with clock.at(ENROLLED_AT):
        patient = patient_save(patient=Patient(
            clinic=clinic, first_name="Zenobia", last_name="Quarterfield", mobile=MOBILE,
            email="zenobia.q@example.com", sms_consent=True, email_consent=True), recorded_by=user)
        enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_by=user)
    return patient, enrollment, user


@responses.activate
def test_the_main_flows_log_no_patient_data_at_debug(client, zenobia, log_output,
                                                      django_capture_on_commit_callbacks, clock):
    output, records = log_output
    patient, enrollment, user = zenobia

    # Dispatch: the day-0 text through Twilio, then the day-7 text and email.
    responses.add(fake.accepted(SID))
    with clock.at(DAY0_DUE):
        assert dispatch_cycle().as_dict()["sent"] == 1
    # A status callback, signed.
    day0 = Message.objects.get(enrollment=enrollment, step__key="day0")
    assert post(client, status_path(day0), {"MessageSid": SID, "MessageStatus": "delivered"}).status_code == 204
    # A text whose outcome stays unknown, settled by a lookup (the SDK logs its query: the number).
    day1 = Message.objects.get(enrollment=enrollment, step__key="day1")
    Message.objects.filter(pk=day1.pk).update(status="unknown", body="Zenobia, day 1 text",
                                              updated_at=utc(2026, 6, 3, 12, 0))
    responses.add(responses.GET, fake.MESSAGES_URL, json={
        "messages": [fake.message_json("SM" + "8" * 32, status="delivered", body="Zenobia, day 1 text", to=MOBILE)],
        "next_page_uri": None, "page": 0, "page_size": 50, "uri": "/x"})
    with clock.at(utc(2026, 6, 3, 13, 0)):
        assert unknown_messages_settle() == 1
    responses.add(fake.accepted("SM" + "9" * 32))
    with clock.at(utc(2026, 6, 9, 15, 0)):
        assert dispatch_cycle().as_dict()["sent"] == 2
    # Replies: HELP, warning signs (an urgent escalation, an alert email), STOP.
    with clock.at(utc(2026, 6, 9, 16, 0)), \
            django_capture_on_commit_callbacks(execute=True):
        for sid, body in [("SM" + "a" * 32, "HELP"),
                          ("SM" + "b" * 32, "Zenobia again: my legs went numb after the walk"),
                          ("SM" + "c" * 32, "STOP")]:
            assert post(client, INBOUND, {"MessageSid": sid, "From": MOBILE, "To": "+12025550199",
                                          "Body": body}).status_code == 200
    # The unsubscribe link: asked, then confirmed.
    path = unsubscribe_url(patient=patient).removeprefix("https://followup.example.org")
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 200
    # Every text the flows wrote, read before forgetting the patient blanks them.
    texts = [*Message.objects.exclude(body="").values_list("body", flat=True),
             *Message.objects.exclude(subject="").values_list("subject", flat=True),
             # Bare keywords are no patient data, and words libraries log too (redis: "Try CLIENT HELP.").
             *InboundMessage.objects.exclude(body="").exclude(body__in=["HELP", "STOP"]).values_list("body", flat=True),
             *(m.body for m in mail.outbox)]
    assert texts
    # Operations: health alerts, the reconciliation, and forgetting the patient.
    with clock.at(utc(2026, 6, 10, 12, 15)):
        ops_alerts_check()
        reconciliation_run()
        patient_forget(patient=Patient.objects.get(pk=patient.pk), forgotten_by=user)

    logged = output.getvalue()
    # The capture works, at every level and for the libraries too.
    for expected in [f"message {day0.pk} sent via sms", "inbound", "-- BEGIN Twilio API Request --",
                     "Query Params: {'To': '[number]'", "DEBUG", "reconciliation 2026-06-09"]:
        assert expected in logged, expected

    secrets = ["Zenobia", "Quarterfield", "2025550166", "555-0166", "zenobia.q@example.com", "zenobia.q",
               "legs went numb", "day 1 text", *texts]
    assert [secret for secret in secrets if secret in logged] == []

    # Our own lines need no redaction: the filter is for the libraries.
    ours = "\n".join(message for name, message in records if name.startswith("reminders"))
    assert [secret for secret in secrets if secret in ours] == []
    assert any(MOBILE in message for name, message in records if name.startswith("twilio"))  # what was blotted out


@pytest.mark.parametrize(("line", "shown"), [
    ("Query Params: {'To': '+12025550166', 'PageSize': 50}", "Query Params: {'To': '[number]', 'PageSize': 50}"),
    ('"GET /Messages.json?To=%2B12025550166&PageSize=50 HTTP/1.1" 200',
     '"GET /Messages.json?To=[number]&PageSize=50 HTTP/1.1" 200'),
    ("sending to zenobia.q@example.com failed", "sending to [email] failed"),
    ("mailto=zenobia%40example.com", "mailto=[email]"),
    ("reconciliation 2026-06-02: planned=10 at 2026-06-03T12:15:00+00:00", None),  # dates are no numbers
    ("message 123456789 sent via sms, sid SM7777777777", None),
])
def test_the_redaction_catches_numbers_and_addresses_but_not_dates_or_ids(line, shown):
    assert redact(line) == (shown or line)


def test_a_traceback_is_redacted_too():
    record = None
    try:
        raise ValueError("The 'To' number +12025550166 is not a valid phone number.")
    except ValueError:
        import sys

        record = logging.LogRecord("twilio", logging.ERROR, __file__, 1, "lookup failed", None, sys.exc_info())
    RedactContactDetails().filter(record)
    assert "[number] is not a valid" in record.exc_text and "2025550166" not in record.exc_text


def test_a_template_lookup_that_fails_logs_no_patient(make_program, patient, log_output):
    """Django's template engine logs the whole context at DEBUG when a variable is missing."""
    output, _ = log_output
    program = make_program(slug="missing", steps=[{"template": "test/missing_variable"}])
    enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    from reminders.rendering import render_message

    assert "Hi Margaret, this is" in render_message(message=Message.objects.get(enrollment=enrollment)).text
    logged = output.getvalue()
    assert "Failed lookup for key [no_such_variable]" in logged
    assert f"'patient': <Patient: {patient.pk}>" in logged
    assert "Margaret" not in logged and "Okafor" not in logged


# --- the web process -------------------------------------------------------------------

def _clean_env(**extra) -> dict[str, str]:
    # Only what the test sets: none of the machine's or the test run's DJANGO_* and database.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "LOG_"))}
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_every_log_handler_of_the_service_blots_out_contact_details():
    """Django's defaults give some loggers handlers of their own; none may bypass the redaction
    (libraries' NullHandlers write nothing)."""
    code = ("import django, logging; django.setup(); from reminders.log_filters import RedactContactDetails; "
            "loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]; "
            "handlers = {h for logger in loggers for h in logger.handlers if not isinstance(h, logging.NullHandler)}; "
            "print(len(handlers), [repr(h) for h in handlers "
            "if not any(isinstance(f, RedactContactDetails) for f in h.filters)])")
    for debug in ("true", "false"):
        result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
                                env=_clean_env(DJANGO_SETTINGS_MODULE="project.settings.base", DJANGO_DEBUG=debug,
                                               DJANGO_SECRET_KEY="test-only-not-a-secret-0123456789"))
        assert result.returncode == 0, result.stderr
        assert result.stdout.split(" ", 1) == ["1", "[]\n"], (debug, result.stdout)


def test_the_web_process_as_make_run_starts_it_logs_no_search_terms(tmp_path):
    """runserver, started as the Procfile says, with make run's settings: admin searches (names,
    numbers, addresses) are in request lines, and stay out of its output."""
    [web] = [line.split(":", 1)[1].strip() for line in (BASE_DIR / "Procfile").read_text().splitlines()
             if line.startswith("web:")]
    port = _free_port()
    env = _clean_env(
        DJANGO_SETTINGS_MODULE="project.settings.local",  # as make run sets it
        DATABASE_URL=f"sqlite:///{tmp_path / 'web.sqlite3'}", WEB_PORT=str(port), PYTHONUNBUFFERED="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    seen = b""  # what was read of its output while waiting
    process = subprocess.Popen(["bash", "-c", web], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    searches = ["Okafor", "Zenobia+Quarterfield", "%2B12025550166", "+12025550166", "zenobia.q%40example.com",
                "zenobia.q@example.com", "(202)%20555-0166"]
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
                time.sleep(0.2)
        for term in searches:
            try:
                opener.open(f"http://127.0.0.1:{port}/admin/reminders/patient/?q={term}", timeout=30)
            except urllib.error.HTTPError as answer:
                assert answer.code == 302  # to the login page
        try:  # a request line the server cannot read is logged whole
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET /admin/reminders/patient/?q=Zenobia Quarterfield HTTP/1.1\r\n\r\n")
                sock.recv(1000)
        except OSError:
            pass
        # runserver writes a request's access line after its answer: wait for the last ones.
        deadline = time.monotonic() + 30
        while seen.count(b'?[query] HTTP/1.1" 302') < len(searches) and time.monotonic() < deadline:
            if select.select([process.stdout], [], [], 1)[0]:
                seen += os.read(process.stdout.fileno(), 65536)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = seen.decode() + process.communicate(timeout=30)[0]

    # The capture works: the access lines are there, without their query strings.
    assert output.count('"GET /admin/reminders/patient/?[query] HTTP/1.1" 302') == len(searches), output
    secrets = ["Okafor", "Zenobia", "Quarterfield", "2025550166", "555-0166", "zenobia.q", "example.com"]
    assert [secret for secret in secrets if secret in output] == [], output


@pytest.mark.parametrize(("line", "shown"), [
    ('"GET /admin/reminders/patient/?q=Okafor HTTP/1.1" 302 0',
     '"GET /admin/reminders/patient/?[query] HTTP/1.1" 302 0'),
    ("code 400, message Bad request syntax ('GET /admin/?q=Ann Lee HTTP/1.1')",
     "code 400, message Bad request syntax ('GET /admin/?[query] HTTP/1.1')"),
    ('"GET /admin/?q=Ann Lee" 400', '"GET /admin/?[query]'),
    ('"GET /admin/reminders/patient/ HTTP/1.1" 200 512', None),
])
def test_access_lines_lose_their_query_strings(line, shown):
    assert drop_query_strings(line) == (shown or line)
