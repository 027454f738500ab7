from datetime import datetime, timedelta, timezone

import pytest

from reminders.models import Escalation
from reminders.services.escalations import escalation_acknowledge

NOW = datetime(2026, 6, 2, 18, 0, tzinfo=timezone.utc)


@pytest.fixture
def escalation(patient):
    return Escalation.objects.create(clinic=patient.clinic, patient=patient, kind="red_flag", urgency=1,
                                     summary="Warning sign in a reply")


def test_acknowledging_records_who_and_when(escalation, admin_user):
    assert escalation_acknowledge(escalation=escalation, acknowledged_by=admin_user, now=NOW)
    escalation.refresh_from_db()
    assert (escalation.acknowledged_by, escalation.acknowledged_at) == (admin_user, NOW)


def test_the_first_acknowledgement_is_kept(escalation, admin_user, django_user_model):
    other = django_user_model.objects.create_user(username="other")
    escalation_acknowledge(escalation=escalation, acknowledged_by=admin_user, now=NOW)
    assert not escalation_acknowledge(escalation=escalation, acknowledged_by=other, now=NOW + timedelta(minutes=5))
    escalation.refresh_from_db()
    assert (escalation.acknowledged_by, escalation.acknowledged_at) == (admin_user, NOW)
