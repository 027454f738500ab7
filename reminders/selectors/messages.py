"""Reading a patient's messages."""

from datetime import date

from ..models import Channel, EnrollmentStatus, Message, MessageStatus, Patient


def patient_next_text_date(*, patient: Patient) -> date | None:
    """The day, in the patient's zone, their next text is due; None when no text is waiting to go out.

    Texts held by a paused enrollment are not waiting: they go only once it is resumed.
    """
    due_at = (
        Message.objects.filter(enrollment__patient=patient, enrollment__status=EnrollmentStatus.ACTIVE,
                               channel=Channel.SMS, status=MessageStatus.PENDING)
        .order_by("due_at").values_list("due_at", flat=True).first()
    )
    return due_at.astimezone(patient.zone).date() if due_at else None
