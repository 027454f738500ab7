"""Enrolling patients and planning their messages: the schedule is written here."""

from collections.abc import Collection
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import (
    UNSENT_STATUSES,
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    Patient,
    Program,
)
from ..planning import anchor_date_validate, enrollment_mutes, enrollment_plan
from .message_states import message_transition

# The patient's fields the channel rule and the anchor date rule read.
CHANNEL_FIELDS = {"mobile", "email", "sms_consent", "email_consent"}
ZONE_FIELDS = {"clinic", "time_zone"}


def enrollment_validate(
    *, patient: Patient, program: Program | None, anchor_event: str | None, anchor_date: date | None,
    now: datetime | None = None, unchecked: Collection[str] = (),
) -> Enrollment:
    """An unsaved, validated enrollment. Raises ValidationError naming every field with a problem.

    ``patient`` may be unsaved: everything but the one-open-enrollment rule is checked.
    ``unchecked`` names fields (of the patient or the enrollment) already refused
    elsewhere: the rules that need them are left out rather than reported twice.
    """
    now = now or timezone.now()
    unchecked = set(unchecked)
    errors: dict = {}
    if program is not None and not program.is_active:
        errors["program"] = [f"The program “{program.name}” is retired."]
    if patient.forgotten_at:
        errors.setdefault("patient", []).append("This patient was forgotten and cannot be enrolled.")
    if not unchecked & CHANNEL_FIELDS and not patient.channels():
        errors.setdefault("patient", []).append(
            "The patient has no channel to send to: add a mobile number or an email "
            "address and choose how they want to be reached.")
    if anchor_date is not None and patient.clinic_id and not unchecked & ZONE_FIELDS:
        try:
            anchor_date_validate(patient=patient, anchor_date=anchor_date, now=now)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    enrollment = Enrollment(
        patient=patient, program=program, anchor_event=anchor_event, anchor_date=anchor_date
    )
    # A patient not saved yet (an intake being previewed or a CSV row being
    # checked) has no enrollment to clash with, and no id to validate.
    exclude = {"enrolled_by"} if patient.pk else {"enrolled_by", "patient"}
    try:
        enrollment.full_clean(exclude=exclude | unchecked)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    errors = {key: value for key, value in errors.items() if key not in unchecked}
    if errors:
        raise ValidationError(errors)
    return enrollment


@transaction.atomic
def enrollment_create(
    *,
    patient: Patient,
    program: Program,
    anchor_event: str,
    anchor_date: date,
    enrolled_by: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> Enrollment:
    """Enroll a patient and write all of the enrollment's messages, in one transaction."""
    now = now or timezone.now()
    enrollment = enrollment_validate(
        patient=patient, program=program, anchor_event=anchor_event, anchor_date=anchor_date, now=now
    )
    enrollment.enrolled_by = enrolled_by
    if enrolled_by is not None:
        enrollment._history_user = enrolled_by  # the audit history's "who", also outside a request
    enrollment.save()
    Message.objects.bulk_create(
        p.unsaved_message(enrollment=enrollment)
        for p in enrollment_plan(patient=patient, program=program, anchor_date=anchor_date, now=now)
    )
    return enrollment


def enrollment_messages_plan_again(
    *, enrollment: Enrollment, messages: QuerySet[Message], reason: str, now: datetime
) -> int:
    """Bring cancelled ``messages`` of an open enrollment back, planned as a new enrollment would plan them now.

    Each gets the time ``enrollment_plan`` gives its step and channel today (the
    patient's zone and the clinic's quiet hours as they are now); one the late
    policy would skip, or no longer planned for the patient, stays cancelled.
    They come back pending with ``reason``, or held like the rest of a paused
    enrollment. Each row is moved by a guarded UPDATE (still cancelled and still
    in ``messages``): the row itself comes back, as (enrollment, step, channel)
    is unique. Returns how many came back.

    The caller holds ``enrollment`` locked (select_for_update) in a transaction,
    so that it cannot be cancelled or paused half-way.
    """
    if enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED):
        return 0
    cancelled = messages.filter(enrollment=enrollment, status=MessageStatus.CANCELLED)
    wanted = set(cancelled.values_list("step_id", "channel", "milestone_id"))
    if not wanted:
        return 0
    if enrollment.status == EnrollmentStatus.PAUSED:
        status, reason = MessageStatus.PAUSED, _paused_reason(enrollment.status_reason)
    else:
        status = MessageStatus.PENDING
    planned_again = 0
    for plan in enrollment_plan(patient=enrollment.patient, program=enrollment.program,
                                anchor_date=enrollment.anchor_date, now=now,
                                mutes=enrollment_mutes(enrollment=enrollment)):
        if plan.key not in wanted or plan.status != MessageStatus.PENDING:
            continue
        planned_again += message_transition(
            messages=cancelled.filter(step=plan.step, channel=plan.channel, milestone=plan.milestone),
            from_statuses=[MessageStatus.CANCELLED],
            to=status, now=now, scheduled_at=plan.scheduled_at, due_at=plan.due_at, reason=reason, claim_token=None,
        )
    return planned_again


def _paused_reason(reason: str) -> str:
    return f"paused: {reason}"


def _require_status(enrollment: Enrollment, *allowed: str, action: str) -> None:
    if enrollment.status not in allowed:
        raise ValidationError(
            {"status": f"Cannot {action} an enrollment that is {enrollment.get_status_display().lower()}."}
        )


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason."})
    return reason


@transaction.atomic
def enrollment_pause(*, enrollment: Enrollment, reason: str) -> Enrollment:
    """Hold every pending message until the enrollment is resumed."""
    reason = _require_reason(reason)
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    _require_status(enrollment, EnrollmentStatus.ACTIVE, action="pause")
    enrollment.status, enrollment.status_reason = EnrollmentStatus.PAUSED, reason
    enrollment.save(update_fields=["status", "status_reason"])
    message_transition(messages=enrollment.messages.all(), from_statuses=[MessageStatus.PENDING],
                       to=MessageStatus.PAUSED, reason=_paused_reason(reason))
    return enrollment


@transaction.atomic
def enrollment_resume(*, enrollment: Enrollment, reason: str = "resumed") -> Enrollment:
    """Release held messages; those now too late are skipped by the late policy when due."""
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    _require_status(enrollment, EnrollmentStatus.PAUSED, action="resume")
    enrollment.status, enrollment.status_reason = EnrollmentStatus.ACTIVE, reason
    enrollment.save(update_fields=["status", "status_reason"])
    message_transition(messages=enrollment.messages.all(), from_statuses=[MessageStatus.PAUSED],
                       to=MessageStatus.PENDING, reason="")
    return enrollment


@transaction.atomic
def enrollment_cancel(*, enrollment: Enrollment, reason: str) -> Enrollment:
    """Stop the enrollment: every message not yet handed to the provider is cancelled."""
    reason = _require_reason(reason)
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    _require_status(enrollment, EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED, action="cancel")
    enrollment.status, enrollment.status_reason = EnrollmentStatus.CANCELLED, reason
    enrollment.save(update_fields=["status", "status_reason"])
    # A queued message's task finds it cancelled and does nothing; one already
    # sending cannot be called back.
    message_transition(messages=enrollment.messages.all(), from_statuses=UNSENT_STATUSES,
                       to=MessageStatus.CANCELLED, reason=f"cancelled: {reason}")
    return enrollment
