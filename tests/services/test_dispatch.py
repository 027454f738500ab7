import threading
from datetime import time, timedelta
from time import sleep

import pytest
from django.core import mail
from django.db import connection, connections

from reminders.backends.sms import SmsSendError, SmsSent
from reminders.backends.sms.base import BaseSmsBackend
from reminders.models import Message, MessageStatus
from reminders.services import dispatch, send_outcomes
from reminders.services.claims import leases_recover, messages_claim
from reminders.services.dispatch import Outcome, dispatch_cycle, message_send, messages_send
from reminders.services.delivery import unknown_messages_settle
from reminders.services.enrollments import enrollment_cancel, enrollment_pause
from tests.factories import EnrollmentFactory
from tests.moments import DAY0_DUE, ENROLLED_AT, utc


def test_a_due_message_is_rendered_sent_and_recorded(sms_outbox, enrollment, clock):
    with clock.at(DAY0_DUE + timedelta(seconds=3)):
        summary = dispatch_cycle()

    assert summary.as_dict() == {"claimed": 1, "sent": 1, "failed": 0, "skipped": 0, "deferred": 0,
                                 "retrying": 0, "unknown": 0, "cancelled": 0, "recovered": 0}
    message = enrollment.messages.get(step__key="day0")
    assert message.status == MessageStatus.SENT
    assert message.body == "Riverside Spine Clinic: Hello Margaret, this is day 0."
    assert message.provider_message_id.startswith("locmem-")
    assert message.attempts == 1
    assert [(s.to, s.body) for s in sms_outbox] == [("+12025550101", message.body)]


def test_nothing_is_sent_before_its_time(sms_outbox, enrollment, clock):
    with clock.at(DAY0_DUE - timedelta(seconds=1)):
        assert dispatch_cycle().claimed == 0
    assert sms_outbox == []


def test_dispatching_twice_sends_once(sms_outbox, enrollment, clock):
    with clock.at(DAY0_DUE + timedelta(minutes=1)):
        dispatch_cycle()
        second = dispatch_cycle()
    assert second.claimed == 0
    assert len(sms_outbox) == 1


def test_a_send_task_delivered_twice_sends_once(sms_outbox, enrollment, clock):
    with clock.at(DAY0_DUE):
        [message_id] = messages_claim()
        assert message_send(message_id=message_id) == Outcome.SENT
        assert message_send(message_id=message_id) == Outcome.NOTHING
    assert len(sms_outbox) == 1


def test_an_unclaimed_message_is_never_sent_by_a_stray_task(sms_outbox, enrollment, clock):
    message = enrollment.messages.get(step__key="day0")
    with clock.at(DAY0_DUE):
        assert message_send(message_id=message.pk) == Outcome.NOTHING
    assert sms_outbox == []


def run_in_threads(count, target):
    barrier = threading.Barrier(count)
    errors = []

    def run():
        try:
            barrier.wait()
            target()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatch_cycles_send_each_message_once(clinic, program, sms_outbox, clock):
    EnrollmentFactory.create_batch(40, patient__clinic=clinic, program=program, enrolled_at=ENROLLED_AT)
    with clock.at(DAY0_DUE + timedelta(minutes=1), tick=True):
        run_in_threads(4, lambda: dispatch_cycle(limit=7))
        # Whatever the racing cycles left (each claims at most 7 per cycle).
        while dispatch_cycle(limit=7).claimed:
            pass

    sent_ids = [s.message_id for s in sms_outbox]
    assert len(sent_ids) == 40
    assert len(set(sent_ids)) == 40
    assert Message.objects.filter(step__key="day0", status=MessageStatus.SENT).count() == 40


@pytest.mark.django_db(transaction=True)
def test_racing_workers_on_one_claim_send_once(sms_outbox, enrollment, clock):
    with clock.at(DAY0_DUE, tick=True):
        [message_id] = messages_claim()
        run_in_threads(4, lambda: message_send(message_id=message_id))
    assert len(sms_outbox) == 1


def test_a_claim_lost_with_its_worker_is_recovered_after_the_lease(sms_outbox, settings, enrollment, clock):
    with clock.at(DAY0_DUE):
        [message_id] = messages_claim()  # the worker that got this died before starting
    with clock.at(DAY0_DUE + settings.CLAIM_LEASE - timedelta(seconds=1)):
        assert leases_recover() == 0
        assert dispatch_cycle().claimed == 0
    with clock.at(DAY0_DUE + settings.CLAIM_LEASE + timedelta(seconds=1)):
        summary = dispatch_cycle()
    assert (summary.recovered, summary.claimed, summary.as_dict()["sent"]) == (1, 1, 1)
    assert [s.message_id for s in sms_outbox] == [message_id]
    # The dead worker's task, redelivered late, finds nothing to do.
    assert message_send(message_id=message_id) == Outcome.NOTHING
    assert len(sms_outbox) == 1


def test_a_worker_dying_mid_send_is_never_followed_by_a_second_send(sms_outbox, settings, enrollment, clock):
    with clock.at(DAY0_DUE):
        [message_id] = messages_claim()
        # The worker took the message, then died before recording the outcome.
        Message.objects.filter(pk=message_id).update(
            status=MessageStatus.SENDING, lease_expires_at=DAY0_DUE + settings.CLAIM_LEASE)
    with clock.at(DAY0_DUE + settings.CLAIM_LEASE + timedelta(seconds=1)):
        summary = dispatch_cycle()
    message = Message.objects.get(pk=message_id)
    assert summary.claimed == 0
    assert message.status == MessageStatus.UNKNOWN
    assert "not sent again" in message.reason
    # The local backend cannot be asked what happened: failed with the reason, never resent.
    with clock.at(DAY0_DUE + timedelta(hours=1)):
        assert unknown_messages_settle() == 1
        assert dispatch_cycle().claimed == 0
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "not sent again" in message.reason
    assert sms_outbox == []


def test_a_message_found_too_late_is_skipped_with_the_reason(sms_outbox, enrollment, clock):
    with clock.at(DAY0_DUE + timedelta(hours=12, minutes=1)):  # e.g. after an outage
        summary = dispatch_cycle()
    message = enrollment.messages.get(step__key="day0")
    assert summary.as_dict()["skipped"] == 1
    assert message.status == MessageStatus.SKIPPED
    assert message.reason.startswith("too late")
    assert sms_outbox == []


def test_quiet_hours_defer_an_sms_to_the_morning_then_send_it(patient, make_program, sms_outbox, clock):
    program = make_program(steps=[{"key": "evening", "offset_days": 0, "send_time": time(20, 55)}])
    message = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT).messages.get()
    evening = utc(2026, 6, 3, 1, 5)  # 21:05 in New York: quiet hours began
    with clock.at(evening):
        assert dispatch_cycle().as_dict()["deferred"] == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.PENDING
    assert message.due_at == utc(2026, 6, 3, 12, 0)  # 08:00 in New York
    assert message.reason == "deferred: quiet hours"
    with clock.at(utc(2026, 6, 3, 11, 59)):
        assert dispatch_cycle().claimed == 0
    with clock.at(utc(2026, 6, 3, 12, 0, 30)):
        assert dispatch_cycle().as_dict()["sent"] == 1
    assert len(sms_outbox) == 1


def test_a_message_that_cannot_be_rendered_fails_and_the_rest_go_on(make_patient, make_program, sms_outbox, clock):
    program = make_program(steps=[{"key": "broken", "template": "test/broken"}])
    good_program = make_program(slug="good", steps=[{"key": "good"}])
    patient = make_patient()
    broken = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT).messages.get()
    good = EnrollmentFactory(patient=patient, program=good_program, enrolled_at=ENROLLED_AT).messages.get()
    with clock.at(DAY0_DUE):
        summary = dispatch_cycle()
    broken.refresh_from_db()
    good.refresh_from_db()
    assert (summary.as_dict()["failed"], summary.as_dict()["sent"]) == (1, 1)
    assert broken.status == MessageStatus.FAILED
    assert "could not be rendered" in broken.reason
    assert good.status == MessageStatus.SENT


def test_a_missing_template_fails_with_its_name(patient, make_program, clock):
    program = make_program(steps=[{"key": "gone", "template": "test/no-such-step"}])
    message = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT).messages.get()
    with clock.at(DAY0_DUE):
        dispatch_cycle()
    message.refresh_from_db()
    assert (message.status, message.reason) == ("failed", "template test/no-such-step/sms.txt does not exist")


def test_messages_are_rendered_in_the_patients_language_falling_back_to_english(
        make_patient, make_program, sms_outbox, clock):
    program = make_program(steps=[{"key": "hello"}, {"key": "both", "channel": "both", "template": "test/both"}])
    patient = make_patient(language="es", email_consent=True)
    EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    with clock.at(DAY0_DUE):
        dispatch_cycle()
    bodies = sorted(s.body for s in sms_outbox)
    assert bodies == ["Riverside Spine Clinic: Hi Margaret, see your email.",
                      "Riverside Spine Clinic: Hola Margaret, es el dia 0."]


def test_email_goes_out_with_text_and_html_from_the_clinic(make_patient, make_program, clinic, clock):
    clinic.email = "team@riverside.example"
    clinic.save()
    program = make_program(steps=[{"key": "mail", "channel": "email", "template": "test/both"}])
    patient = make_patient(email_consent=True, last_name="O'Brien", first_name="<b>Ann</b>")
    message = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT).messages.get()
    with clock.at(DAY0_DUE):
        assert dispatch_cycle().as_dict()["sent"] == 1
    [email] = mail.outbox
    assert email.to == ["margaret@example.com"]
    assert email.from_email == "Riverside Spine Clinic <team@riverside.example>"
    assert email.subject == "Riverside Spine Clinic: your plan for day 0"
    assert "Dear <b>Ann</b>," in email.body  # plain text is not escaped
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "Dear &lt;b&gt;Ann&lt;/b&gt;," in html  # HTML is
    message.refresh_from_db()
    assert message.subject == email.subject


def test_a_cancelled_enrollment_stops_a_message_already_claimed(patient, sms_outbox, enrollment, clock):
    with clock.at(DAY0_DUE):
        [message_id] = messages_claim()
        enrollment_cancel(enrollment=enrollment, reason="patient request")
        assert message_send(message_id=message_id) == Outcome.NOTHING
    assert Message.objects.get(pk=message_id).status == MessageStatus.CANCELLED
    assert sms_outbox == []


def test_a_pause_after_the_claim_holds_the_message(sms_outbox, enrollment, clock):
    with clock.at(DAY0_DUE):
        [message_id] = messages_claim()
        # Paused between the claim and the worker: the claimed row is not "pending".
        enrollment_pause(enrollment=enrollment, reason="admitted to hospital")
        assert message_send(message_id=message_id) == Outcome.PAUSED
    assert Message.objects.get(pk=message_id).status == MessageStatus.PAUSED
    assert sms_outbox == []


def test_a_patient_who_stopped_sms_is_skipped(patient, sms_outbox, enrollment, clock):
    message = enrollment.messages.get(step__key="day0")
    patient.sms_consent = False
    patient.save()
    with clock.at(DAY0_DUE):
        dispatch_cycle()
    message.refresh_from_db()
    assert message.status == MessageStatus.SKIPPED
    assert message.reason == "the patient no longer receives SMS"


class RefusingBackend(BaseSmsBackend):
    def send(self, *, to, body, message_id, sender=None):
        raise SmsSendError("the number is not a mobile phone", code="21614")


class ExplodingBackend(BaseSmsBackend):
    def send(self, *, to, body, message_id, sender=None):
        raise TimeoutError("read timed out")


@pytest.mark.parametrize(
    ("backend", "reason"),
    [("RefusingBackend", ("the number is not a mobile phone", "21614")),
     ("ExplodingBackend", ("send error: TimeoutError; not retried", ""))],
)
def test_a_provider_refusal_or_error_fails_the_message_with_the_reason(settings, backend, reason, enrollment, clock):
    settings.SMS_BACKEND = f"tests.services.test_dispatch.{backend}"
    message = enrollment.messages.get(step__key="day0")
    with clock.at(DAY0_DUE):
        assert dispatch_cycle().as_dict()["failed"] == 1
    message.refresh_from_db()
    assert (message.status, (message.reason, message.error_code)) == ("failed", reason)


def test_the_claim_query_uses_the_partial_index_on_postgresql(enrollment):
    if connection.vendor != "postgresql":
        pytest.skip("query plans are checked on PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = Message.objects.filter(status="pending", due_at__lte=DAY0_DUE).order_by("due_at").explain()
    assert "message_pending_due_idx" in plan


class RecordingBackend(BaseSmsBackend):
    """Sees the database as it is at the moment of each send (from a send thread too)."""

    instances = 0
    seen: list = []

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        RecordingBackend.instances += 1

    def send(self, *, to, body, message_id, sender=None):
        try:
            row = Message.objects.values("status", "body").get(pk=message_id)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connections.close_all()  # this send thread's own connection
        RecordingBackend.seen.append((message_id, row["status"], row["body"] == body))
        return SmsSent(provider_message_id=f"SM{message_id:032d}")


@pytest.fixture
def recording_backend(settings):
    settings.SMS_BACKEND = "tests.services.test_dispatch.RecordingBackend"
    RecordingBackend.instances, RecordingBackend.seen = 0, []
    return RecordingBackend


@pytest.mark.django_db(transaction=True)  # the send threads read the database on connections of their own
@pytest.mark.parametrize("threads", [1, 3])
def test_each_text_is_stored_before_it_leaves_and_backends_are_kept_between_chunks(
        program, recording_backend, settings, threads, clock, clinic):
    settings.SMS_SEND_THREADS = threads
    messages = [enrollment.messages.get(step__key="day0") for enrollment in
                EnrollmentFactory.create_batch(8, patient__clinic=clinic, program=program, enrolled_at=ENROLLED_AT)]
    with clock.at(DAY0_DUE):
        ids = messages_claim()
        assert messages_send(message_ids=ids[:4]) == {Outcome.SENT: 4}
        assert messages_send(message_ids=ids[4:]) == {Outcome.SENT: 4}

    # One backend per send thread, kept for the next chunk (and its connection with it).
    assert recording_backend.instances <= threads
    # Stored before the send: a worker dying right after it leaves a text the lookup can match.
    assert sorted(recording_backend.seen) == [(m.pk, MessageStatus.SENDING, True) for m in messages]
    assert [(m.status, m.provider_message_id, m.attempts) for m in Message.objects.filter(pk__in=ids)] == [
        (MessageStatus.SENT, f"SM{m.pk:032d}", 1) for m in messages]


class OneSlowAnswerBackend(BaseSmsBackend):
    """The first text's answer is slow: it comes only once the chunk's last text has been handed over
    (or after 5 s), as a provider's answer can lag behind the others'."""

    last_started = threading.Event()
    started: list = []
    slow_waited_out = False

    def send(self, *, to, body, message_id, sender=None):
        OneSlowAnswerBackend.started.append(message_id)
        if len(OneSlowAnswerBackend.started) == 1:
            OneSlowAnswerBackend.slow_waited_out = not OneSlowAnswerBackend.last_started.wait(5)
        elif len(OneSlowAnswerBackend.started) == 5:
            OneSlowAnswerBackend.last_started.set()
        return SmsSent(provider_message_id=f"SM{message_id:032d}")


def test_one_slow_answer_never_keeps_the_other_send_threads_idle(program, settings, clock, clinic):
    settings.SMS_BACKEND = "tests.services.test_dispatch.OneSlowAnswerBackend"
    settings.SMS_SEND_THREADS = 2
    OneSlowAnswerBackend.last_started.clear()
    OneSlowAnswerBackend.started, OneSlowAnswerBackend.slow_waited_out = [], False
    EnrollmentFactory.create_batch(5, patient__clinic=clinic, program=program, enrolled_at=ENROLLED_AT)
    with clock.at(DAY0_DUE):
        assert messages_send(message_ids=messages_claim()) == {Outcome.SENT: 5}
    # The other four went through the second thread while the first answer was awaited.
    assert not OneSlowAnswerBackend.slow_waited_out


def test_a_chunk_takes_only_what_is_still_queued(program, recording_backend, clock, clinic):
    pair = EnrollmentFactory.create_batch(2, patient__clinic=clinic, program=program, enrolled_at=ENROLLED_AT)
    first, second = (enrollment.messages.get(step__key="day0") for enrollment in pair)
    with clock.at(DAY0_DUE):
        ids = messages_claim()
        assert message_send(message_id=first.pk) == Outcome.SENT
        # A redelivered chunk with a duplicate id: only the message still queued goes.
        assert messages_send(message_ids=[*ids, second.pk]) == {Outcome.NOTHING: 1, Outcome.SENT: 1}
    assert [s[0] for s in recording_backend.seen] == [first.pk, second.pk]


class FastCallbackBackend(BaseSmsBackend):
    def send(self, *, to, body, message_id, sender=None):
        from reminders.services.delivery import StatusUpdate, message_status_update

        # Twilio's "delivered" arrives before the worker writes down "sent".
        message_status_update(update=StatusUpdate(message_id=message_id, provider_message_id="SMfast",
                                                  status="delivered"))
        return SmsSent(provider_message_id="SMfast")


def test_a_status_callback_before_the_record_keeps_its_status(settings, enrollment, clock):
    settings.SMS_BACKEND = "tests.services.test_dispatch.FastCallbackBackend"
    message = enrollment.messages.get(step__key="day0")
    with clock.at(DAY0_DUE):
        assert dispatch_cycle().as_dict()["sent"] == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (MessageStatus.DELIVERED, "SMfast")
    assert message.body.startswith("Riverside Spine Clinic: Hello Margaret")


def test_a_chunk_out_of_lease_time_returns_the_rest_unsent(
        program, recording_backend, monkeypatch, settings, clock, clinic):
    settings.SMS_SEND_THREADS = 1  # the recording backend reads this test's transaction

    EnrollmentFactory.create_batch(3, patient__clinic=clinic, program=program, enrolled_at=ENROLLED_AT)
    monkeypatch.setattr(dispatch, "_send_deadline", lambda: 0.0)  # already past
    with clock.at(DAY0_DUE):
        ids = messages_claim()
        assert messages_send(message_ids=ids) == {Outcome.DEFERRED: 3}
    assert recording_backend.seen == []
    assert set(Message.objects.filter(pk__in=ids).values_list("status", "attempts", "claim_token")) == {
        (MessageStatus.PENDING, 0, None)}
    with clock.at(DAY0_DUE + timedelta(seconds=5)):
        monkeypatch.undo()
        assert dispatch_cycle().as_dict()["sent"] == 3


class WorkerDied(BaseException):
    pass


def test_a_worker_dying_between_the_send_and_its_record_is_settled_without_a_second_text(
        fake_twilio, monkeypatch, settings, enrollment, clock):

    message = enrollment.messages.get(step__key="day0")

    def die(accepted):
        if accepted:
            raise WorkerDied

    with clock.at(DAY0_DUE), monkeypatch.context() as patched:
        patched.setattr(send_outcomes, "accepted_record", die)
        [message_id] = messages_claim()
        with pytest.raises(WorkerDied):
            messages_send(message_ids=[message_id])
    assert fake_twilio.fake.stats()["accepted"] == 1
    with clock.at(DAY0_DUE + settings.CLAIM_LEASE + timedelta(seconds=1)):
        assert dispatch_cycle().recovered == 1
    with clock.at(DAY0_DUE + timedelta(hours=1)):
        assert unknown_messages_settle() == 1
        assert dispatch_cycle().claimed == 0
    message.refresh_from_db()
    [recorded] = fake_twilio.fake.recorded()
    assert (message.status, message.provider_message_id) == (MessageStatus.SENT, recorded["sid"])
    stats = fake_twilio.fake.stats()
    assert (stats["accepted"], stats["duplicates"]) == (1, 0)


class SlowBackend(BaseSmsBackend):
    """A slow (or paced) send: quiet hours begin meanwhile."""

    sent: list = []
    traveller = None

    def send(self, *, to, body, message_id, sender=None):
        SlowBackend.sent.append(message_id)
        SlowBackend.traveller.shift(5)
        return SmsSent(provider_message_id=f"SM{message_id}")


def test_a_message_whose_turn_comes_in_quiet_hours_waits_for_the_morning(
        make_program, monkeypatch, settings, clock, clinic):

    program = make_program(steps=[{"key": "evening", "offset_days": 0, "send_time": time(20, 59)}])
    pair = EnrollmentFactory.create_batch(2, patient__clinic=clinic, program=program, enrolled_at=ENROLLED_AT)
    first, second = (enrollment.messages.get() for enrollment in pair)
    settings.SMS_BACKEND = "tests.services.test_dispatch.SlowBackend"
    settings.SMS_SEND_THREADS = 1  # the second is checked after the first is sent, not while
    SlowBackend.sent = sent = []
    monkeypatch.setattr(dispatch, "CLOCK_RECHECK_SECONDS", 0)
    with clock.at(utc(2026, 6, 3, 0, 59, 58)) as traveller:  # 20:59:58 NY
        SlowBackend.traveller = traveller
        assert messages_send(message_ids=messages_claim()) == {Outcome.SENT: 1, Outcome.DEFERRED: 1}
    [deferred] = Message.objects.filter(pk__in=[first.pk, second.pk], status=MessageStatus.PENDING)
    assert sent == [({first.pk, second.pk} - {deferred.pk}).pop()]
    assert deferred.due_at == utc(2026, 6, 3, 12, 0)  # 08:00 in New York


class OverlapBackend(BaseSmsBackend):
    """Watches the sends under way: no number may have two at once, and, when asked,
    the first sends to two numbers must meet (run at once). One number's texts are refused."""

    lock = threading.Lock()
    meeting: threading.Barrier | None = None
    met: set = set()
    under_way: set = set()
    same_number_at_once = 0
    order: list = []
    refused_number = "+12025550003"

    @classmethod
    def reset(cls, *, meet: bool) -> None:
        cls.meeting, cls.met = (threading.Barrier(2) if meet else None), set()
        cls.under_way, cls.same_number_at_once, cls.order = set(), 0, []

    def send(self, *, to, body, message_id, sender=None):
        cls = OverlapBackend
        with cls.lock:
            cls.same_number_at_once += to in cls.under_way
            cls.under_way.add(to)
            cls.order.append((to, message_id))
            meet = cls.meeting is not None and to not in cls.met and len(cls.met) < 2
            if meet:
                cls.met.add(to)
        try:
            if meet:
                cls.meeting.wait(timeout=10)  # one at a time, this would time out
            sleep(0.02)
            if to == cls.refused_number:
                raise SmsSendError("the number is not a mobile phone", code="21614")
            return SmsSent(provider_message_id=f"SM{message_id:032d}")
        finally:
            with cls.lock:
                cls.under_way.discard(to)


@pytest.fixture
def overlap_backend(settings):
    settings.SMS_BACKEND = "tests.services.test_dispatch.OverlapBackend"
    settings.SMS_SEND_THREADS = 3
    return OverlapBackend


def test_several_sms_are_under_way_at_once(make_patient, make_program, overlap_backend, clock):
    overlap_backend.reset(meet=True)
    program = make_program(steps=[{"key": "day0"}])
    for i in range(5):  # OverlapBackend refuses the fourth number
        EnrollmentFactory(patient=make_patient(mobile=f"+1202555{i:04d}"), program=program, enrolled_at=ENROLLED_AT)

    with clock.at(DAY0_DUE):
        assert messages_send(message_ids=messages_claim()) == {Outcome.SENT: 4, Outcome.FAILED: 1}

    assert len(overlap_backend.met) == 2
    # A refusal on a send thread is recorded as on the main one.
    assert set(Message.objects.filter(enrollment__patient__mobile=overlap_backend.refused_number)
               .values_list("status", "error_code")) == {(MessageStatus.FAILED, "21614")}
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 4


def test_a_patients_own_sms_leave_one_after_the_other_in_order(make_patient, make_program, overlap_backend, clock):
    overlap_backend.reset(meet=False)
    program = make_program(steps=[{"key": "first"}, {"key": "second"}])  # both due at 10:00
    enrollments = [EnrollmentFactory(patient=make_patient(mobile=f"+1202555{i:04d}"), program=program,
                                     enrolled_at=ENROLLED_AT) for i in range(4)]  # the fourth number refused

    with clock.at(DAY0_DUE):
        assert messages_send(message_ids=messages_claim()) == {Outcome.SENT: 6, Outcome.FAILED: 2}

    assert overlap_backend.same_number_at_once == 0
    for enrollment in enrollments:
        mobile = str(enrollment.patient.mobile)
        assert [m for to, m in overlap_backend.order if to == mobile] == sorted(
            enrollment.messages.values_list("pk", flat=True))


def test_an_email_the_mail_server_refuses_is_tried_again_then_failed(make_patient, program, settings, clock):
    from tests.twilio_fakes import closed_port

    # The outside world: an SMTP server that is not there.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    settings.SMS_MAX_ATTEMPTS = 2
    enrollment = EnrollmentFactory(patient=make_patient(email_consent=True), program=program, enrolled_at=ENROLLED_AT)
    email = enrollment.messages.get(step__key="day7", channel="email")
    enrollment.messages.exclude(pk=email.pk).update(status=MessageStatus.CANCELLED)

    with clock.at(email.due_at):
        assert dispatch_cycle().as_dict()["retrying"] == 1
    email.refresh_from_db()
    assert (email.status, email.error_code, email.attempts) == (MessageStatus.PENDING, "smtp", 1)
    assert email.reason.startswith("retry 2 of 2 at ") and email.reason.endswith(
        ": mail server unavailable (ConnectionRefusedError)")
    with clock.at(email.due_at):
        assert dispatch_cycle().as_dict()["failed"] == 1
    email.refresh_from_db()
    assert (email.status, email.reason) == (
        MessageStatus.FAILED, "gave up after 2 attempts: mail server unavailable (ConnectionRefusedError)")


# Waiting is not an attempt (issue 11, item 4).

def test_quiet_hours_deferrals_and_pause_holds_use_no_attempt(patient, make_program, sms_outbox, settings, clock):
    settings.SMS_MAX_ATTEMPTS = 1
    program = make_program(steps=[{"key": "evening", "offset_days": 0, "send_time": time(20, 55),
                                   "max_lateness": None}])
    enrollment = EnrollmentFactory(patient=patient, program=program, enrolled_at=ENROLLED_AT)
    message = enrollment.messages.get()
    # Deferred by quiet hours three nights running (claimed, taken, deferred each time).
    for night in range(3):
        evening = utc(2026, 6, 3 + night, 1, 5)  # 21:05 in New York
        Message.objects.filter(pk=message.pk).update(due_at=evening)
        with clock.at(evening):
            assert dispatch_cycle().as_dict()["deferred"] == 1
    # Held by a pause after the claim.
    morning = utc(2026, 6, 6, 12, 30)
    with clock.at(morning):
        [message_id] = messages_claim()
        enrollment_pause(enrollment=enrollment, reason="admitted")
        assert messages_send(message_ids=[message_id]) == {Outcome.PAUSED: 1}
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.PAUSED, 0)


def test_an_attempt_is_a_hand_over(sms_outbox, enrollment, clock):
    message = enrollment.messages.get(step__key="day0")
    with clock.at(DAY0_DUE):
        dispatch_cycle()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
