"""Backpressure: a cycle claims only what the workers and each sender can send within the lease."""

from datetime import time, timedelta

import pytest

from reminders.models import Message, MessageStatus, SenderKind
from reminders.services.claims import claim_room, dispatch_tick, messages_claim
from tests.factories import ClinicFactory, EnrollmentFactory, PatientFactory
from tests.moments import DAY0_DUE, ENROLLED_AT

pytestmark = pytest.mark.time_machine(DAY0_DUE + timedelta(minutes=1), tick=False)


@pytest.fixture
def due_for(program):
    """``due_for(clinic, n)``: n patients of ``clinic`` with their day-0 text due now."""

    def make(clinic, n):
        return [EnrollmentFactory(patient=PatientFactory(clinic=clinic), program=program, enrolled_at=ENROLLED_AT)
                for _ in range(n)]

    return make


def queued() -> int:
    return Message.objects.filter(status=MessageStatus.QUEUED).count()


def test_a_cycle_claims_only_the_room_left_for_waiting_messages(clinic, due_for, settings):
    settings.DISPATCH_MAX_QUEUED = 3
    due_for(clinic, 5)

    assert len(messages_claim()) == 3
    assert messages_claim() == []  # the workers have not taken the first three yet
    Message.objects.filter(status=MessageStatus.QUEUED).update(status=MessageStatus.SENDING)
    assert len(messages_claim()) == 2
    assert Message.objects.filter(status=MessageStatus.PENDING, due_at__lte=DAY0_DUE).count() == 0


def test_a_slow_senders_backlog_waits_in_the_database_and_never_holds_up_another(clinic, due_for, settings):
    # 0.02 segments a second: room for one two-segment text (the least a sender is given).
    slow = ClinicFactory(name="Slow Sender Clinic", sms_sender="+12025550100", sms_sender_kind=SenderKind.LONG_CODE,
                         sms_segments_per_second=0.02)
    slow_ones = due_for(slow, 4)
    fast_ones = due_for(clinic, 2)  # the service's sender, no limit
    Message.objects.filter(enrollment__in=fast_ones).update(due_at=DAY0_DUE + timedelta(seconds=30))

    claimed = set(messages_claim())
    slow_messages = set(Message.objects.filter(enrollment__in=slow_ones).values_list("id", flat=True))
    fast_messages = set(Message.objects.filter(enrollment__in=fast_ones, channel="sms",
                                               step__send_time=time(10)).values_list("id", flat=True))
    assert len(claimed & slow_messages) == 1
    assert fast_messages <= claimed  # due later than the slow ones, claimed all the same
    assert messages_claim() == []  # the slow sender has one in flight: no room until it is sent
    assert claim_room(limit=500).by_sender == {"+12025550100": 0}


def test_beat_stops_claiming_when_backpressure_says_wait(clinic, due_for, settings):
    settings.DISPATCH_MAX_QUEUED, settings.DISPATCH_BATCH_SIZE, settings.DISPATCH_CHUNK_SIZE = 4, 2, 2
    due_for(clinic, 9)
    handed = []

    assert dispatch_tick(hand_over=handed.append) == 4
    assert [len(chunk) for chunk in handed] == [2, 2]
    assert queued() == 4


def test_a_burst_takes_two_beat_intervals_of_its_senders_sending_and_the_others_texts_go_with_it(
        clinic, due_for, settings):
    settings.DISPATCH_INTERVAL_SECONDS = 5
    # 2 segments a second for 2 intervals (10 s), about 2 segments a text: room for 10 texts.
    burst = ClinicFactory(name="Burst Clinic", sms_sender="+12025550100", sms_sender_kind=SenderKind.LONG_CODE,
                          sms_segments_per_second=2)
    burst_ones = due_for(burst, 30)
    trickle_ones = due_for(clinic, 2)
    Message.objects.filter(enrollment__in=trickle_ones, step__key="day0").update(
        due_at=DAY0_DUE + timedelta(seconds=50))

    claimed = set(messages_claim())
    trickle = set(Message.objects.filter(enrollment__in=trickle_ones, channel="sms",
                                         step__send_time=time(10)).values_list("id", flat=True))
    assert len(claimed - trickle) == 10 and trickle <= claimed  # behind 10 of the burst, not 30
    assert Message.objects.filter(enrollment__in=burst_ones, step__key="day0",
                                  status=MessageStatus.PENDING).count() == 20  # waiting in the database
