import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError

from reminders.backends.sms import SmsSendError
from reminders.backends.sms.base import BaseSmsBackend
from reminders.services.sms_test import sms_test_send_to_coordinator, sms_test_send_to_patient
from tests.factories import CoordinatorFactory, UserFactory


class RefusingBackend(BaseSmsBackend):
    def send(self, *, to, body, message_id, sender=None):
        raise SmsSendError("unreachable handset", code="30003")


def test_a_test_text_reaches_the_patient_and_is_recorded_without_the_number(
        patient, admin_user, sms_outbox, caplog):
    caplog.set_level(logging.INFO)
    sent = sms_test_send_to_patient(patient=patient, sent_by=admin_user)
    assert [(sms.to, sms.message_id) for sms in sms_outbox] == [("+12025550101", 0)]
    assert sms_outbox[0].body == sent.body
    assert "Riverside Spine Clinic: a test message" in sent.body
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.user_id) == (str(patient.pk), admin_user.pk)
    assert "Sent a test SMS" in entry.change_message and "0101" not in entry.change_message
    assert "0101" not in caplog.text and "Okafor" not in caplog.text


def test_a_spanish_speaking_patient_gets_it_in_spanish(make_patient, admin_user, sms_outbox):
    sms_test_send_to_patient(patient=make_patient(language="es"), sent_by=admin_user)
    assert "mensaje de prueba" in sms_outbox[0].body


@pytest.mark.parametrize(("fields", "key"), [({"mobile": "", "sms_consent": False}, "mobile"),
                                              ({"sms_consent": False}, "sms_consent")])
def test_no_test_text_without_a_number_or_consent(make_patient, admin_user, sms_outbox, fields, key):
    with pytest.raises(ValidationError) as caught:
        sms_test_send_to_patient(patient=make_patient(**fields), sent_by=admin_user)
    assert key in caught.value.message_dict
    assert sms_outbox == [] and not LogEntry.objects.exists()


def test_a_refused_test_text_is_explained_and_recorded(patient, admin_user, settings):
    settings.SMS_BACKEND = "tests.services.test_sms_test.RefusingBackend"
    with pytest.raises(ValidationError, match="30003: unreachable handset"):
        sms_test_send_to_patient(patient=patient, sent_by=admin_user)
    assert "refused" in LogEntry.objects.get().change_message


def test_a_coordinator_tests_their_own_number_only(clinic, admin_user, sms_outbox):
    role = CoordinatorFactory(user=admin_user, clinic=clinic, mobile="+12025550199")
    sms_test_send_to_coordinator(coordinator=role, sent_by=admin_user)
    assert [sms.to for sms in sms_outbox] == ["+12025550199"]
    other = UserFactory(username="someone")
    with pytest.raises(ValidationError, match="own number"):
        sms_test_send_to_coordinator(coordinator=role, sent_by=other)


def test_a_coordinator_without_a_mobile_is_told_whom_to_ask(clinic, admin_user, sms_outbox):
    role = CoordinatorFactory(user=admin_user, clinic=clinic)
    with pytest.raises(ValidationError, match="ask an administrator"):
        sms_test_send_to_coordinator(coordinator=role, sent_by=admin_user)
    assert sms_outbox == []
