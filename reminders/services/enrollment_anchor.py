"""Correcting an enrollment's anchor date (the procedure moved, the diagnosis date was wrong)."""

import logging
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..models import Enrollment, Message, MessageStatus
from ..selectors.enrollments import (
    MOVABLE_STATUSES,
    AnchorChange,
    AnchorChangePreview,
    enrollment_anchor_change_preview,
)
from .message_states import messages_transition_each

logger = logging.getLogger(__name__)


@transaction.atomic
def enrollment_change_anchor(
    *, enrollment: Enrollment, anchor_date: date, changed_by: AbstractBaseUser | None,
    now: datetime | None = None,
) -> AnchorChangePreview:
    """Move the anchor date and every waiting message with it, in one transaction.

    Applies exactly what ``enrollment_anchor_change_preview`` shows. The
    enrollment's audit history records the old and new date and who changed it.
    """
    now = now or timezone.now()
    enrollment = (
        Enrollment.objects.select_for_update()
        .select_related("patient__clinic", "program")
        .get(pk=enrollment.pk)
    )
    # Hold the waiting messages so a dispatch cycle cannot claim one half-moved
    # (PostgreSQL skips locked rows; SQLite serialises writers anyway).
    list(Message.objects.select_for_update().filter(
        enrollment=enrollment, status__in=MOVABLE_STATUSES).values_list("pk", flat=True))
    preview = enrollment_anchor_change_preview(enrollment=enrollment, anchor_date=anchor_date, now=now)

    moved = []
    for row in preview.rows:
        if row.change == AnchorChange.MOVES:
            message = row.message
            message.scheduled_at, message.due_at, message.updated_at = row.new_scheduled_at, row.new_due_at, now
            moved.append(message)
    Message.objects.bulk_update(moved, ["scheduled_at", "due_at", "updated_at"])
    for status in MOVABLE_STATUSES:
        messages_transition_each(
            rows=[(row.message.pk, row.new_scheduled_at, row.new_due_at, row.reason) for row in preview.rows
                  if row.change == AnchorChange.SKIPPED and row.message.status == status],
            columns=["scheduled_at", "due_at", "reason"], from_statuses=[status], to=MessageStatus.SKIPPED, now=now,
        )

    enrollment.anchor_date = anchor_date
    if changed_by is not None:
        enrollment._history_user = changed_by
    enrollment._change_reason = (
        f"anchor date corrected from {preview.old_anchor_date:%Y-%m-%d} to {anchor_date:%Y-%m-%d}"
    )
    enrollment.save(update_fields=["anchor_date"])
    logger.info(
        "enrollment %s anchor date corrected: moved=%d skipped=%d",
        enrollment.pk, preview.count(AnchorChange.MOVES), preview.count(AnchorChange.SKIPPED),
    )
    return preview
