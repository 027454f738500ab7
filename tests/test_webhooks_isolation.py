"""
Clinic isolation beyond the admin: the webhooks never hand one clinic's patient's
reply to another clinic.

The rule for a number shared by patients of several clinics (one family phone,
say): every clinic texts from the same sender, so a reply cannot say which text
it answers. It belongs to the patient texted most recently at that number, and
only that patient's clinic sees it, its escalation and its alert. A patient
never texted comes after every patient who was. Keywords are the exception:
STOP and START apply to every patient at the number, in every clinic, because
the carrier and Twilio block or unblock the number for the whole sender.
"""

from datetime import timedelta

import pytest
from django.core import mail

from reminders.models import ConsentEvent, Escalation, InboundMessage, Message, MessageStatus, Patient
from tests import twilio_fakes as fake
from tests.factories import EnrollmentFactory
from tests.moments import REPLIES_AT
from tests.test_webhooks import post, status_path, text_in

pytestmark = pytest.mark.time_machine(REPLIES_AT, tick=False)

SHARED = "+12025550150"


@pytest.fixture(autouse=True)
def twilio(settings):
    """Twilio's credentials, which sign the requests below."""
    fake.configure(settings)


@pytest.fixture
def clinics(make_clinic):
    return (make_clinic(name="Riverside Spine Clinic", alert_email="oncall@riverside.example"),
            make_clinic(name="Hillcrest Fracture Service", phone="+442079460958", time_zone="Europe/London",
                        alert_email="oncall@hillcrest.example"))


@pytest.fixture
def family(clinics, make_patient, program):
    """Two patients of two clinics sharing one phone; each enrolled."""
    riverside, hillcrest = clinics
    husband = make_patient(clinic=riverside, first_name="Walter", last_name="Brennan", mobile=SHARED)
    wife = make_patient(clinic=hillcrest, first_name="Irene", last_name="Brennan", mobile=SHARED)
    for patient in (husband, wife):
        EnrollmentFactory(patient=patient, program=program)
    return husband, wife


def texted(patient, *, hours_ago: float) -> Message:
    message = Message.objects.filter(enrollment__patient=patient, channel="sms").order_by("due_at").first()
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT, sent_at=REPLIES_AT - timedelta(hours=hours_ago),
        provider_message_id=f"SM{message.pk:032d}")
    return Message.objects.get(pk=message.pk)


def test_a_reply_goes_to_the_patient_texted_most_recently_and_only_their_clinic(client, family):
    husband, wife = family
    texted(husband, hours_ago=5)
    texted(wife, hours_ago=1)
    text_in(client, "Thank you, feeling better", number=SHARED)
    inbound = InboundMessage.objects.get()
    assert (inbound.patient, inbound.clinic) == (wife, wife.clinic)
    assert not InboundMessage.objects.filter(clinic=husband.clinic).exists()


def test_a_patient_never_texted_does_not_take_the_reply_of_one_who_was(client, family):
    """On PostgreSQL NULLs sort first in a descending order: the never-texted patient won."""
    husband, _wife = family
    texted(husband, hours_ago=30)
    text_in(client, "Thank you", number=SHARED)
    assert InboundMessage.objects.get().clinic == husband.clinic


def test_warning_signs_escalate_and_alert_only_the_clinic_of_the_patient_texted(
        client, family, django_capture_on_commit_callbacks):
    husband, wife = family
    texted(wife, hours_ago=30)
    texted(husband, hours_ago=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = text_in(client, "my legs are numb and weak", number=SHARED)
    escalation = Escalation.objects.get()
    assert (escalation.patient, escalation.clinic) == (husband, husband.clinic)
    assert [m.to for m in mail.outbox] == [["oncall@riverside.example"]]
    assert "Hillcrest" not in mail.outbox[0].subject + mail.outbox[0].body
    assert "Riverside Spine Clinic" in response.content.decode()  # the automatic reply's clinic
    assert "Hillcrest" not in response.content.decode()


def test_help_names_the_clinic_of_the_patient_texted(client, family):
    husband, wife = family
    texted(husband, hours_ago=30)
    texted(wife, hours_ago=2)
    reply = text_in(client, "HELP", number=SHARED).content.decode()
    assert "Hillcrest Fracture Service" in reply and "Riverside" not in reply


def test_stop_at_a_shared_number_stops_every_patient_at_it_in_every_clinic(client, family):
    texted(family[0], hours_ago=2)
    text_in(client, "STOP", number=SHARED)
    assert list(Patient.objects.values_list("sms_consent", flat=True)) == [False, False]
    assert ConsentEvent.objects.filter(given=False, source="STOP keyword").count() == 2


def test_the_consent_ledger_records_the_keyword_not_the_text(client, family):
    """The ledger is kept for good: it must not copy what else the text said."""
    text_in(client, "Stop! 202-555-0150", number=SHARED, sid="SM" + "4" * 32)
    text_in(client, "Por favor no mas", number=SHARED, sid="SM" + "5" * 32, OptOutType="STOP")
    sources = set(ConsentEvent.objects.values_list("source", flat=True))
    assert sources == {"STOP keyword", "Twilio OptOutType STOP"}


def test_a_status_callback_carrying_another_messages_sid_changes_nothing(client, family):
    husband, wife = family
    theirs = texted(husband, hours_ago=2)
    ours = texted(wife, hours_ago=1)
    response = post(client, status_path(ours),
                    {"MessageSid": theirs.provider_message_id, "MessageStatus": "failed", "ErrorCode": "30005"})
    assert response.status_code == 204
    assert Message.objects.get(pk=ours.pk).status == "sent"
    assert Message.objects.get(pk=theirs.pk).status == "sent"
