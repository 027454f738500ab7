"""Two clinics' data side by side, and a coordinator of the first.

The admin's suites run at tests.moments.NOW (14:00 in New York on the reference
day), each module with time-machine's mark; the sides are enrolled then.
"""

from dataclasses import dataclass

import pytest

from reminders.models import Enrollment, Escalation, InboundMessage, Patient, Urgency
from reminders.services.patients import patient_save
from tests.factories import EnrollmentFactory


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
    enrollment = EnrollmentFactory(patient=patient, program=program)
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
