"""
Texts patients send: opt-out and opt-in keywords, HELP, check-in answers,
warning signs, and every other reply, stored for the clinic's coordinators.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from ..models import (
    SENT_STATUSES,
    Channel,
    CheckInAnswer,
    Clinic,
    ConsentActor,
    Escalation,
    EscalationKind,
    InboundKind,
    InboundMessage,
    Message,
    Patient,
    Urgency,
)
from ..rendering import render_system_sms
from ..selectors.messages import patient_next_text_date
from ..triage import keyword, keyword_word, parse_answer, rule_matches, warning_signs
from .consent import consent_record
from .milestones import milestone_from_answer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundResult:
    inbound: InboundMessage
    reply: str | None  # the automatic answer to text back, if any
    duplicate: bool = False
    # An urgent escalation this reply opened: its alert email is for the caller to send
    # (a task), once the reply is committed.
    alert_escalation_id: int | None = None


def clinic_for_sender(*, to_number: str) -> Clinic | None:
    """The clinic whose own sender a reply came to; None for the service's default sender."""
    to_number = (to_number or "").strip()
    if not to_number:
        return None
    return Clinic.objects.filter(sms_sender=to_number).first()


def patients_for_number(*, number: str, clinic: Clinic | None = None) -> list[Patient]:
    """Patients with this mobile, the one texted most recently first; only ``clinic``'s when given.

    A reply is attached to the first: a reply to a clinic's own sender is that
    clinic's; to the shared default sender, the text it answers is the last one
    the number got. A patient never texted comes last (PostgreSQL would sort
    NULL first and hand the reply to another clinic).
    """
    patients = Patient.objects.filter(mobile=number)
    if clinic is not None:
        patients = patients.filter(clinic=clinic)
    return list(
        patients
        .select_related("clinic")
        .annotate(last_sms=Max("enrollments__messages__sent_at"))
        .order_by(F("last_sms").desc(nulls_last=True), "-created_at")
    )


def _open_check_in(*, patient: Patient) -> Message | None:
    """The latest check-in SMS sent to the patient within the reply window."""
    since = timezone.now() - timedelta(days=settings.CHECKIN_REPLY_WINDOW_DAYS)
    return (
        Message.objects.filter(
            enrollment__patient=patient, channel=Channel.SMS, sent_at__gte=since,
            status__in=SENT_STATUSES,
        )
        .exclude(step__asks="")
        .select_related("step", "enrollment")
        .order_by("-sent_at")
        .first()
    )


def _escalation_open(*, key: dict, fields: dict) -> tuple[Escalation, bool]:
    """The open escalation with ``key``, or a new one made of ``key`` and ``fields``; True if new.

    The database keeps one open per key (Escalation's constraints). A reply racing
    another past the first look inserts in a savepoint; PostgreSQL makes it wait
    for the other's commit and refuse, and the other's escalation is used.
    """
    open_ = Escalation.objects.filter(acknowledged_at__isnull=True, **key)
    existing = open_.first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Escalation.objects.create(**key, **fields), True
    except IntegrityError:
        existing = open_.first()
        if existing is None:  # some other constraint: not a race this handles
            raise
        logger.info("escalation %s already open; a concurrent reply joins it", existing.pk)
        return existing, False


def _escalate_answer(*, inbound: InboundMessage, check_in: Message, value: str) -> None:
    step = check_in.step
    CheckInAnswer.objects.create(enrollment=check_in.enrollment, step=step, inbound=inbound, value=value)
    milestone_from_answer(inbound=inbound, step=step, value=value)
    if not rule_matches(step.escalate_when, value):
        return
    # One open per check-in step: each asks something else, with its own follow-up.
    _escalation_open(
        key={"enrollment": check_in.enrollment, "step": step, "kind": EscalationKind.CHECK_IN},
        fields={"clinic": inbound.clinic, "patient": inbound.patient, "inbound": inbound, "urgency": Urgency.ROUTINE,
                "summary": f"Answered {value} to “{step.get_topic_display()}” ({step.when.lower()}): "
                           f"{step.escalation_note or 'call the patient'}"[:300]},
    )


def _escalate_warning_signs(*, inbound: InboundMessage, signs: list[str]) -> Escalation | None:
    """Open one urgent escalation per patient until a coordinator acknowledges it; the one opened now, if any."""
    escalation, opened = _escalation_open(
        key={"patient": inbound.patient, "kind": EscalationKind.RED_FLAG},
        fields={"clinic": inbound.clinic, "enrollment": inbound.enrollment, "inbound": inbound,
                "urgency": Urgency.URGENT,
                "summary": f"Warning signs in a reply: {', '.join(signs)}. Call the patient now."[:300]},
    )
    # Not opened now: the open one had its alert and its reply.
    return escalation if opened else None


def _consent_keyword(*, inbound: InboundMessage, patients: list[Patient], kind: str, body: str,
                     opt_out_type: str) -> None:
    """STOP or START (or Twilio's opt-out type): the number asked, so every patient texted at it is covered."""
    given = kind == "opt_in"
    inbound.kind = InboundKind.OPT_IN if given else InboundKind.OPT_OUT
    # The ledger is kept for good: it names the keyword, never copies the text.
    word = keyword_word(body)
    source = f"{word} keyword" if keyword(word) == kind else f"Twilio OptOutType {opt_out_type.upper()[:16]}"
    for each in patients:
        consent_record(patient=each, channel=Channel.SMS, given=given,
                       actor=ConsentActor.PATIENT_KEYWORD, source=source)


def _patient_reply(*, inbound: InboundMessage, patient: Patient, body: str) -> tuple[str | None, int | None]:
    """A patient's reply: a check-in answer, warning signs, or words for the coordinators.

    Returns the automatic answer to text back, if any, and the urgent escalation
    opened now, if any, whose alert the caller sends.
    """
    reply = None
    check_in = _open_check_in(patient=patient)
    value = parse_answer(body, asks=check_in.step.asks) if check_in else None
    if value is not None:
        inbound.kind = InboundKind.ANSWER
        inbound.in_reply_to, inbound.enrollment = check_in, check_in.enrollment
    signs = warning_signs(body)
    if signs:
        inbound.kind = InboundKind.RED_FLAG
    if value is not None:
        _escalate_answer(inbound=inbound, check_in=check_in, value=value)
        reply = "answer_thanks"
    opened = _escalate_warning_signs(inbound=inbound, signs=signs) if signs else None
    if opened:
        return "red_flag", opened.pk  # once per open escalation, not once per repeat
    return reply, None


@transaction.atomic
def inbound_receive(*, provider_message_id: str, from_number: str, to_number: str = "",
                    body: str = "", opt_out_type: str = "") -> InboundResult:
    """Record an incoming text and act on it; the same provider id twice changes nothing."""
    inbound, created = InboundMessage.objects.get_or_create(
        provider_message_id=provider_message_id,
        defaults={"from_number": from_number, "to_number": to_number[:32], "body": body},
    )
    if not created:
        return InboundResult(inbound=inbound, reply=None, duplicate=True)

    sender_clinic = clinic_for_sender(to_number=to_number)
    patients = patients_for_number(number=from_number, clinic=sender_clinic)
    patient = patients[0] if patients else None
    # A reply from an unknown number to a clinic's own sender is that clinic's to read.
    inbound.clinic = sender_clinic
    if patient is not None:
        inbound.patient, inbound.clinic = patient, patient.clinic
        inbound.enrollment = patient.enrollments.filter(status__in=["active", "paused"]).first()

    kind = keyword(body, opt_out_type=opt_out_type)
    reply, alert_escalation_id = None, None
    if kind in ("opt_out", "opt_in"):
        _consent_keyword(inbound=inbound, patients=patients, kind=kind, body=body, opt_out_type=opt_out_type)
        reply = kind
    elif kind == "help":
        inbound.kind = InboundKind.HELP
        reply = "help"
    elif patient is not None:
        reply, alert_escalation_id = _patient_reply(inbound=inbound, patient=patient, body=body)
    inbound.save()
    logger.info("inbound %s recorded as %s", inbound.pk, inbound.kind)
    text = None
    if reply and patient is not None:
        # START says when the texts it brought back start again, or that none are waiting.
        context = {"next_text": patient_next_text_date(patient=patient)} if reply == "opt_in" else {}
        text = render_system_sms(name=reply, patient=patient, clinic=patient.clinic, context=context)
    return InboundResult(inbound=inbound, reply=text, alert_escalation_id=alert_escalation_id)
