"""The message state machine: the table of moves and the guarded transition every service uses."""

import ast
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from reminders.models import Message, MessageStatus
from reminders.services.dispatch import messages_claim, messages_send
from reminders.services.message_states import (
    TRANSITIONS,
    TransitionNotAllowed,
    message_transition,
    messages_transition_each,
)
from tests.moments import DAY0_DUE

S = MessageStatus


@pytest.fixture
def message(enrollment):
    return enrollment.messages.get(step__key="day0")


def test_every_status_has_its_moves_and_the_final_ones_none():
    assert set(TRANSITIONS) == set(MessageStatus.values)
    assert all(set(targets) <= set(MessageStatus.values) for targets in TRANSITIONS.values())
    assert [s for s, targets in TRANSITIONS.items() if not targets] == [S.DELIVERED, S.FAILED, S.SKIPPED]


def test_a_move_the_table_does_not_have_is_refused_and_changes_nothing(message):
    with pytest.raises(TransitionNotAllowed, match="from pending to sent"):
        message_transition(messages=Message.objects.filter(pk=message.pk), from_statuses=[S.PENDING], to=S.SENT)
    with pytest.raises(TransitionNotAllowed, match="from delivered to pending"):
        message_transition(messages=Message.objects.all(), from_statuses=[S.DELIVERED], to=S.PENDING)
    message.refresh_from_db()
    assert message.status == S.PENDING


def test_a_move_out_of_sending_must_name_the_claim(message):
    with pytest.raises(TransitionNotAllowed, match="holding the claim"):
        message_transition(messages=Message.objects.filter(pk=message.pk), from_statuses=[S.SENDING], to=S.SENT)
    with pytest.raises(TransitionNotAllowed, match="holding the claim"):
        messages_transition_each(rows=[(message.pk, "SMx")], columns=["provider_message_id"],
                                 from_statuses=[S.SENDING], to=S.SENT)


def test_only_the_claim_holding_a_sending_message_moves_it(message):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    Message.objects.filter(pk=message.pk).update(status=S.SENDING, claim_token=mine,
                                                 lease_expires_at=DAY0_DUE + timedelta(minutes=5))
    scope = Message.objects.filter(pk=message.pk)
    assert message_transition(messages=scope, from_statuses=[S.SENDING], to=S.FAILED, token=theirs) == 0
    assert messages_transition_each(rows=[(message.pk, "SMx")], columns=["provider_message_id"],
                                    from_statuses=[S.SENDING], to=S.SENT, token=theirs) == 0
    assert Message.objects.get(pk=message.pk).status == S.SENDING
    assert messages_transition_each(rows=[(message.pk, "SMx")], columns=["provider_message_id"],
                                    from_statuses=[S.SENDING], to=S.SENT, token=mine) == 1
    message.refresh_from_db()
    # Leaving a leased status gives up the lease, in every move.
    assert (message.status, message.provider_message_id, message.lease_expires_at) == (S.SENT, "SMx", None)


def test_going_back_to_pending_gives_up_the_claim(message):
    token = uuid.uuid4()
    Message.objects.filter(pk=message.pk).update(status=S.SENDING, claim_token=token, lease_expires_at=DAY0_DUE)
    assert message_transition(messages=Message.objects.filter(pk=message.pk), from_statuses=[S.SENDING],
                              to=S.PENDING, token=token, reason="deferred") == 1
    message.refresh_from_db()
    assert (message.status, message.claim_token, message.lease_expires_at) == (S.PENDING, None, None)


def test_a_stale_worker_records_nothing_over_the_claim_that_took_its_message(enrollment, sms_outbox, clock):
    """Worker A's lease ran out, the message was sent again by worker B: A's late outcome writes nothing."""
    with clock.at(DAY0_DUE):
        [message_id] = messages_claim()
        messages_send(message_ids=[message_id])
    stale = Message.objects.get(pk=message_id)  # as worker A read it, with A's claim
    Message.objects.filter(pk=message_id).update(status=S.SENDING, claim_token=uuid.uuid4())  # B holds it now
    from reminders.services.send_outcomes import held_record

    assert held_record(stale, status=S.FAILED, now=DAY0_DUE, reason="A's outcome") is False
    assert Message.objects.get(pk=message_id).status == S.SENDING


# One module performs every move (issue 11, item 5).

SERVICES = Path(__file__).resolve().parents[2] / "reminders" / "services"


def test_no_service_writes_a_message_status_but_through_the_state_machine():
    offenders = []
    for path in SERVICES.glob("*.py"):
        if path.name == "message_states.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"update", "bulk_update"}
                    and (any(k.arg == "status" for k in node.keywords)
                         or any(isinstance(c, ast.Constant) and c.value == "status"
                                for arg in node.args for c in ast.walk(arg)))):
                source = ast.get_source_segment(path.read_text(), node.func.value) or ""
                if "Message" in source or "messages" in source:
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
