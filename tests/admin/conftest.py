from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest
import time_machine

from reminders.models import Enrollment, Escalation, InboundMessage, Patient, Urgency
from reminders.services.enrollments import enrollment_create
from reminders.services.patients import patient_save

UTC = timezone.utc
NOW = datetime(2026, 6, 2, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass
class Side:
    """One clinic's data as a coordinator would see it."""

    clinic: object
    patient: Patient
    enrollment: Enrollment
    inbound: InboundMessage
    escalation: Escalation


def _side(*, clinic, program, first, last, mobile, provider_id) -> Side:
    patient = patient_save(patient=Patient(clinic=clinic, first_name=first, last_name=last, mobile=mobile,
                                           sms_consent=True))
    enrollment = enrollment_create(patient=patient, program=program, anchor_event="pvp",
                                   anchor_date=date(2026, 6, 2))
    inbound = InboundMessage.objects.create(
        provider_message_id=provider_id, from_number=mobile, body="pain is 8 today", kind="answer",
        clinic=clinic, patient=patient, enrollment=enrollment)
    escalation = Escalation.objects.create(
        clinic=clinic, patient=patient, enrollment=enrollment, inbound=inbound, kind="check_in",
        urgency=Urgency.URGENT, summary=f"Pain score 8 from {last}")
    return Side(clinic, patient, enrollment, inbound, escalation)


@pytest.fixture
def side_a(clinic, program):
    return _side(clinic=clinic, program=program, first="Margaret", last="Okafor", mobile="+12025550101",
                 provider_id="SM-a")


@pytest.fixture
def side_b(clinic_b, program):
    return _side(clinic=clinic_b, program=program, first="Edith", last="Marsh", mobile="+447911123456",
                 provider_id="SM-b")


@pytest.fixture
def coord_a(make_coordinator, clinic):
    return make_coordinator(username="coord-a", clinic=clinic, mobile="+12025550199")


@pytest.fixture
def coord_a_client(client, coord_a):
    client.force_login(coord_a)
    return client
