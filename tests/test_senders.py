"""Senders per clinic: a clinic's own number, short code or messaging service, its rate, and its replies."""

import uuid

import pytest
import redis
from django.core.exceptions import ValidationError

from reminders import pacing
from reminders.backends.sms import get_sms_backend
from reminders.models import InboundMessage, SenderKind
from reminders.senders import clinic_sender, default_sender
from reminders.services.dispatch import dispatch_cycle
from reminders.services.inbound import inbound_receive
from tests.factories import ClinicFactory, EnrollmentFactory, PatientFactory
from tests.moments import DAY0_DUE, ENROLLED_AT, NOW

SERVICE_SID = "MG" + "0123456789abcdef" * 2


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"sms_sender": "+12025550100"}, "sms_sender_kind", "what kind"),
    ({"sms_sender_kind": SenderKind.LONG_CODE}, "sms_sender", "Give the sender"),
    ({"sms_sender": "202-555", "sms_sender_kind": SenderKind.LONG_CODE}, "sms_sender", "international format"),
    ({"sms_sender": "+1202555010", "sms_sender_kind": SenderKind.TOLL_FREE}, "sms_sender", "international format"),
    ({"sms_sender": "1234", "sms_sender_kind": SenderKind.SHORT_CODE}, "sms_sender", "5 or 6 digits"),
    ({"sms_sender": "MG123", "sms_sender_kind": SenderKind.MESSAGING_SERVICE, "sms_segments_per_second": 4},
     "sms_sender", "32 hexadecimal"),
    ({"sms_sender": SERVICE_SID, "sms_sender_kind": SenderKind.MESSAGING_SERVICE}, "sms_segments_per_second",
     "sum of its numbers"),
    ({"sms_sender": "+12025550100", "sms_sender_kind": SenderKind.LONG_CODE, "sms_segments_per_second": 0},
     "sms_segments_per_second", "more than 0"),
])
def test_a_wrong_sender_is_refused_on_its_field(db, fields, field, words):
    clinic = ClinicFactory.build(**fields)
    with pytest.raises(ValidationError) as error:
        clinic.full_clean()
    assert list(error.value.message_dict) == [field]
    assert words in error.value.message_dict[field][0]


@pytest.mark.parametrize(("fields", "address", "is_service", "rate"), [
    ({"sms_sender": "+1 (202) 555-0100", "sms_sender_kind": SenderKind.LONG_CODE}, "+12025550100", False, 1.0),
    ({"sms_sender": "+18005550199", "sms_sender_kind": SenderKind.TOLL_FREE}, "+18005550199", False, 3.0),
    ({"sms_sender": "55555", "sms_sender_kind": SenderKind.SHORT_CODE}, "55555", False, 100.0),
    ({"sms_sender": SERVICE_SID, "sms_sender_kind": SenderKind.MESSAGING_SERVICE, "sms_segments_per_second": 6},
     SERVICE_SID, True, 6.0),
])
def test_a_clinics_own_sender_and_its_rate_in_segments(db, fields, address, is_service, rate):
    clinic = ClinicFactory.build(**fields)
    clinic.full_clean()
    sender = clinic_sender(clinic)
    assert (sender.address, sender.is_service, sender.segments_per_second) == (address, is_service, rate)


def test_without_a_sender_of_its_own_a_clinic_texts_from_the_services(db, settings):
    settings.TWILIO_FROM_NUMBER, settings.TWILIO_MESSAGING_SERVICE_SID = "+12025550199", ""
    settings.SMS_RATE_PER_SECOND = 2
    assert clinic_sender(ClinicFactory()) == default_sender()
    assert (default_sender().address, default_sender().segments_per_second) == ("+12025550199", 2)


def test_two_clinics_cannot_share_a_sender(db):
    ClinicFactory(sms_sender="+12025550100", sms_sender_kind=SenderKind.LONG_CODE)
    with pytest.raises(ValidationError, match="Another clinic texts from this sender"):
        ClinicFactory.build(sms_sender="+12025550100", sms_sender_kind=SenderKind.LONG_CODE).full_clean()


@pytest.mark.time_machine(DAY0_DUE, tick=False)
def test_each_clinics_texts_go_from_its_own_sender(program, fake_twilio, settings):
    own = ClinicFactory(name="Own Sender Clinic", sms_sender="+12025550100", sms_sender_kind=SenderKind.LONG_CODE)
    service = ClinicFactory(name="Service Clinic", sms_sender=SERVICE_SID,
                            sms_sender_kind=SenderKind.MESSAGING_SERVICE, sms_segments_per_second=50)
    shared = ClinicFactory(name="Shared Clinic")
    for index, clinic in enumerate((own, service, shared)):
        EnrollmentFactory(patient=PatientFactory(clinic=clinic, mobile=f"+1202555020{index}"), program=program,
                          enrolled_at=ENROLLED_AT)

    dispatch_cycle()

    sent = {m.to: m for m in fake_twilio.fake.messages}
    assert (sent["+12025550200"].from_, sent["+12025550200"].messaging_service_sid) == ("+12025550100", None)
    assert (sent["+12025550201"].from_, sent["+12025550201"].messaging_service_sid) == (None, SERVICE_SID)
    assert sent["+12025550202"].from_ == settings.TWILIO_FROM_NUMBER


def test_one_senders_queue_never_holds_up_anothers(fake_twilio, settings, redis_url, monkeypatch):
    settings.REDIS_URL = redis_url
    slow = f"+1202555{uuid.uuid4().int % 10000:04d}"
    fast = f"+1303555{uuid.uuid4().int % 10000:04d}"
    waits = {}
    reserve = pacing.token_reserve
    monkeypatch.setattr(pacing, "token_reserve",
                        lambda **kw: waits.setdefault(kw["key"], []).append(reserve(**kw)) or waits[kw["key"]][-1])
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    backend = get_sms_backend()
    from reminders.backends.sms.base import Sender

    for index in range(3):  # the slow sender (1 segment a second) falls behind...
        backend.send(to="+12025550101", body=f"text {index}", message_id=index,
                     sender=Sender(address=slow, segments_per_second=1))
    backend.send(to="+12025550101", body="text", message_id=9, sender=Sender(address=fast, segments_per_second=1))

    assert [round(w) for w in waits[f"sms:{slow}"]] == [0, 1, 2]
    assert waits[f"sms:{fast}"] == [0]  # ...and the other's first text waits for nothing
    assert redis.Redis.from_url(redis_url).exists(f"{pacing.KEY_PREFIX}sms:{fast}")


@pytest.mark.time_machine(NOW, tick=False)
def test_a_reply_to_a_clinics_own_sender_is_that_clinics(db):
    own = ClinicFactory(name="Own Sender Clinic", sms_sender="+12025550100", sms_sender_kind=SenderKind.LONG_CODE)
    other = ClinicFactory(name="Other Clinic")
    mine = PatientFactory(clinic=own, mobile="+12025550150")
    PatientFactory(clinic=other, mobile="+12025550150", created_at=NOW)  # the same family phone, at another clinic

    result = inbound_receive(provider_message_id="SM" + "1" * 32, from_number="+12025550150",
                             to_number="+12025550100", body="Thank you")
    assert (result.inbound.clinic, result.inbound.patient) == (own, mine)

    stranger = inbound_receive(provider_message_id="SM" + "2" * 32, from_number="+12025550999",
                               to_number="+12025550100", body="Who is this?")
    assert (stranger.inbound.clinic, stranger.inbound.patient) == (own, None)
    assert InboundMessage.objects.count() == 2


@pytest.mark.time_machine(NOW, tick=False)
def test_stop_to_a_clinics_own_sender_stops_only_that_clinics_texts(db):
    own = ClinicFactory(name="Own Sender Clinic", sms_sender="+12025550100", sms_sender_kind=SenderKind.LONG_CODE)
    mine = PatientFactory(clinic=own, mobile="+12025550150")
    theirs = PatientFactory(clinic=ClinicFactory(name="Other Clinic"), mobile="+12025550150")

    inbound_receive(provider_message_id="SM" + "3" * 32, from_number="+12025550150", to_number="+12025550100",
                    body="STOP")
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.sms_consent, theirs.sms_consent) == (False, True)
