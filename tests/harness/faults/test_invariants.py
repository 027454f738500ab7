"""The fault scenarios' verdict on what the provider got against what the database says."""

from django.utils import timezone

from harness.faults.invariants import _provider_agrees
from reminders.models import Message, MessageStatus
from reminders.services.enrollments import enrollment_create


def test_every_sent_message_without_or_sharing_a_provider_id_is_counted(make_patient, program):
    for mobile in ["+12025550101", "+12025550102"]:
        enrollment_create(patient=make_patient(mobile=mobile), program=program, anchor_event="pvp",
                          anchor_date=timezone.now().date())
    ids = list(Message.objects.order_by("pk").values_list("pk", flat=True))[:4]
    assert len(ids) == 4
    Message.objects.filter(pk__in=ids[:2]).update(status=MessageStatus.SENT, provider_message_id="")
    Message.objects.filter(pk__in=ids[2:]).update(status=MessageStatus.SENT, provider_message_id="SM1")

    check = _provider_agrees(recorded=[{"sid": "SM1", "to": "+12025550101", "body": "x"}])
    assert not check.ok
    assert "2 sent without the provider's id" in check.detail
    assert "2 sent under a provider id another message has too" in check.detail
