"""Forgetting a patient: nothing identifying left anywhere in the database, every count kept."""

from datetime import time

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from reminders.models import (
    CheckInAnswer,
    ConsentEvent,
    Enrollment,
    Escalation,
    InboundMessage,
    Message,
    MessageStatus,
    Patient,
)
from reminders.services.dispatch import dispatch_cycle
from reminders.services.enrollments import enrollment_cancel, enrollment_validate
from reminders.services.inbound import inbound_receive
from reminders.services.patients import patient_save
from reminders.services.privacy import patient_forget
from tests.factories import EnrollmentFactory, UserFactory
from tests.moments import DAY0_DUE, ENROLLED_AT, utc

MOBILE = "+12025550188"
SECRETS = ["Zenobia", "Quarterfield", "Smythe", "2025550188", "zenobia@example.com", "St Mary", "Leeds",
           "Gulliver"]


def everything_stored() -> str:
    """Every row of every table, as text."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.append(repr(cursor.fetchall()))
    return "\n".join(chunks)


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in
            (Patient, Enrollment, Message, InboundMessage, CheckInAnswer, Escalation, ConsentEvent)}


@pytest.fixture
def coordinator(db):
    return UserFactory(username="coord-a")


@pytest.fixture
def zenobia(clinic, program, make_program, coordinator, clock):
    """A patient with a history: edited, texted, emailed, replying, escalated, paused, cancelled."""
    with clock.at(ENROLLED_AT):
        patient = patient_save(patient=Patient(
            clinic=clinic, first_name="Zenobia", last_name="Quarterfield", mobile=MOBILE,
            email="zenobia@example.com", sms_consent=True, email_consent=True), recorded_by=coordinator)
        patient.last_name = "Quarterfield-Smythe"
        patient_save(patient=patient, recorded_by=coordinator)
        # A text from the number before the patient was entered: no patient found for it then.
        InboundMessage.objects.create(provider_message_id="SM-early", from_number=MOBILE, body="Zenobia here")
        first = EnrollmentFactory(patient=patient, program=program, enrolled_by=coordinator)
        checkins = make_program(slug="checkins", steps=[
            {"key": "pain", "offset_days": 0, "send_time": time(9, 30), "asks": "pain_score",
             "escalate_when": ">=7"},
            {"key": "later", "offset_days": 1, "send_time": time(10, 0)},
            {"key": "much-later", "offset_days": 2, "send_time": time(10, 0)}])
        second = EnrollmentFactory(patient=patient, program=checkins, enrolled_by=coordinator)
    with clock.at(DAY0_DUE):
        assert dispatch_cycle().as_dict()["sent"] == 2  # two day-0 texts
        inbound_receive(provider_message_id="SM-r1", from_number=MOBILE, body="8")
        inbound_receive(provider_message_id="SM-r2", from_number=MOBILE, body="my parrot Gulliver has chest pain")
        enrollment_cancel(enrollment=first, reason="Zenobia moved to Leeds")
    # The second enrollment: a text whose outcome is unknown, a pending one and an old-style ledger entry.
    later = Message.objects.get(enrollment=second, step__key="later")
    Message.objects.filter(pk=later.pk).update(status=MessageStatus.UNKNOWN, body="Hi Zenobia, ...")
    ConsentEvent.objects.create(patient=patient, channel="sms", given=True, actor="patient_keyword",
                                source="START ZENOBIA 2025550188 keyword")
    Enrollment.objects.filter(pk=second.pk).update(status_reason="Zenobia at St Mary's until Friday")
    LogEntry.objects.create(user=coordinator, content_type=ContentType.objects.get_for_model(Patient),
                            object_id=str(patient.pk), object_repr=str(patient), action_flag=CHANGE,
                            change_message='[{"changed": {"fields": ["Last name"]}}]')
    LogEntry.objects.create(user=coordinator, content_type=ContentType.objects.get_for_model(Enrollment),
                            object_id=str(first.pk), object_repr=str(first), action_flag=CHANGE, change_message="")
    return Patient.objects.get(pk=patient.pk)


@pytest.fixture
def edith(make_patient, program):
    """Another patient, who must be left as she is."""
    edith = make_patient(first_name="Edith", last_name="Marsh", mobile="+12025550199")
    inbound_receive(provider_message_id="SM-e1", from_number="+12025550199", body="Edith says thanks")
    return edith


def test_nothing_identifying_is_left_anywhere_and_every_row_stays(zenobia, edith, coordinator, clock):
    stored = everything_stored()
    assert all(secret in stored for secret in SECRETS)  # the test sees them before
    before = counts()
    statuses_before = dict(Message.objects.values_list("pk", "status"))

    with clock.at(utc(2026, 6, 3, 9, 0)):
        patient = patient_forget(patient=zenobia, forgotten_by=coordinator)

    stored = everything_stored()
    assert [secret for secret in SECRETS if secret in stored] == []
    assert counts() == {**before, "ConsentEvent": before["ConsentEvent"] + 2}  # both withdrawals recorded
    assert (patient.first_name, patient.last_name, patient.mobile, patient.email) == ("Forgotten", "Patient", "", "")
    assert patient.forgotten_at == utc(2026, 6, 3, 9, 0)
    assert (patient.sms_consent, patient.email_consent, patient.clinic, patient.language) == (
        False, False, zenobia.clinic, "en")

    # Outcomes kept for statistics; nothing left to send.
    after = dict(Message.objects.values_list("pk", "status"))
    changed = {(statuses_before[pk], after[pk]) for pk in after if after[pk] != statuses_before[pk]}
    assert changed == {("pending", "cancelled"), ("unknown", "failed")}
    assert Message.objects.filter(status="sent").count() == 2
    reasons = {(statuses_before[pk], reason) for pk, reason in Message.objects.values_list("pk", "reason")}
    assert ("pending", "cancelled: patient forgotten") in reasons
    assert ("cancelled", "cancelled: reason removed: patient forgotten") in reasons  # was "... moved to Leeds"
    assert set(Message.objects.filter(enrollment__patient=patient).values_list("body", "subject")) == {("", "")}
    assert set(Enrollment.objects.filter(patient=patient).values_list("status", flat=True)) == {"cancelled"}
    assert CheckInAnswer.objects.get().value == "8"
    assert sorted(Escalation.objects.values_list("kind", flat=True)) == ["check_in", "red_flag"]
    assert Escalation.objects.get(kind="red_flag").summary.startswith("Warning signs in a reply: chest pain")

    # The audit history: every version scrubbed, one entry saying what happened and who did it.
    versions = Patient.history.filter(id=patient.pk).order_by("history_date", "history_id")
    assert set(versions.values_list("first_name", "last_name", "mobile", "email")) == {("Forgotten", "Patient", "", "")}
    latest = versions.last()
    assert (latest.history_change_reason, latest.history_user, latest.history_type) == ("forgotten", coordinator, "~")
    assert versions.count() == 3  # created, edited, forgotten
    assert set(ConsentEvent.objects.filter(patient=patient, source="patient forgotten")
               .values_list("given", "recorded_by")) == {(False, coordinator.pk)}

    # Edith is untouched.
    edith.refresh_from_db()
    assert (edith.first_name, edith.mobile.as_e164) == ("Edith", "+12025550199")
    assert InboundMessage.objects.get(provider_message_id="SM-e1").body == "Edith says thanks"


def test_a_forgotten_patient_gets_nothing_more_and_cannot_be_edited_or_enrolled(zenobia, coordinator, program, clock):
    patient = patient_forget(patient=zenobia, forgotten_by=coordinator)
    with clock.at(utc(2026, 6, 10, 15, 0)):
        assert dispatch_cycle().claimed == 0
    patient.first_name = "Zenobia"
    with pytest.raises(ValidationError, match="forgotten"):
        patient_save(patient=patient, recorded_by=coordinator)
    with pytest.raises(ValidationError, match="forgotten and cannot be enrolled"):
        enrollment_validate(patient=patient, program=program, anchor_event="pvp", anchor_date=timezone.now().date())
    # A text from the old number finds no one.
    assert inbound_receive(provider_message_id="SM-late", from_number=MOBILE, body="hello?").inbound.patient is None


def test_forgetting_twice_changes_nothing_the_second_time(zenobia, coordinator):
    patient_forget(patient=zenobia, forgotten_by=coordinator)
    stored = everything_stored()
    patient_forget(patient=zenobia, forgotten_by=coordinator)
    assert everything_stored() == stored


def test_a_patient_is_not_forgotten_while_a_text_to_them_is_being_sent(zenobia, coordinator):
    sending = Message.objects.filter(enrollment__patient=zenobia, status="pending").order_by("due_at").first()
    Message.objects.filter(pk=sending.pk).update(status=MessageStatus.SENDING,
                                                 lease_expires_at=utc(2026, 6, 3, 9, 5))
    stored = everything_stored()
    with pytest.raises(ValidationError, match="being sent right now"):
        patient_forget(patient=zenobia, forgotten_by=coordinator)
    assert everything_stored() == stored
