from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from reminders.models import Escalation
from reminders.services.escalations import escalation_acknowledge
from tests.factories import UserFactory
from tests.moments import NOW


@pytest.fixture
def escalation(patient):
    return Escalation.objects.create(clinic=patient.clinic, patient=patient, kind="red_flag", urgency=1,
                                     summary="Warning sign in a reply")


def test_acknowledging_records_who_and_when(escalation, admin_user):
    assert escalation_acknowledge(escalation=escalation, acknowledged_by=admin_user, now=NOW)
    escalation.refresh_from_db()
    assert (escalation.acknowledged_by, escalation.acknowledged_at) == (admin_user, NOW)


def test_the_first_acknowledgement_is_kept(escalation, admin_user):
    other = UserFactory(username="other")
    escalation_acknowledge(escalation=escalation, acknowledged_by=admin_user, now=NOW)
    assert not escalation_acknowledge(escalation=escalation, acknowledged_by=other, now=NOW + timedelta(minutes=5))
    escalation.refresh_from_db()
    assert (escalation.acknowledged_by, escalation.acknowledged_at) == (admin_user, NOW)


# --- one open escalation per patient and kind, held by the database ---------------------

def open_escalation(patient, **fields):
    return Escalation.objects.create(clinic=patient.clinic, patient=patient, summary="Warning sign in a reply",
                                     **{"kind": "red_flag", "urgency": 1, **fields})


def test_a_second_open_warning_sign_escalation_is_refused(escalation, patient, admin_user, make_patient):
    with pytest.raises(IntegrityError), transaction.atomic():
        open_escalation(patient)
    # Another patient's, a check-in's, or a new one once the first is acknowledged: all fine.
    open_escalation(make_patient(mobile="+12025550102"))
    escalation_acknowledge(escalation=escalation, acknowledged_by=admin_user, now=NOW)
    open_escalation(patient)
    assert Escalation.objects.filter(patient=patient, acknowledged_at__isnull=True).count() == 1


def test_check_in_escalations_are_one_open_per_enrollment_and_step(patient, program, enrollment):
    day1, day7 = program.steps.get(key="day1"), program.steps.get(key="day7")
    check_in = {"kind": "check_in", "urgency": 2, "enrollment": enrollment}
    open_escalation(patient, step=day1, **check_in)
    with pytest.raises(IntegrityError), transaction.atomic():
        open_escalation(patient, step=day1, **check_in)
    open_escalation(patient, step=day7, **check_in)  # another question, another follow-up
    open_escalation(patient)  # and a warning sign besides
    assert Escalation.objects.count() == 3
