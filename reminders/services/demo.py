"""Demo data for a first look at the service (``python manage.py seed_demo``)."""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import (
    AnchorEvent,
    CheckInAnswer,
    Clinic,
    Coordinator,
    Enrollment,
    Escalation,
    EscalationKind,
    InboundKind,
    InboundMessage,
    Message,
    MessageStatus,
    MilestoneKind,
    Patient,
    Program,
    StatusReason,
    Topic,
    Urgency,
)
from .coordinator_group import coordinator_group_ensure
from .enrollments import enrollment_cancel, enrollment_create, enrollment_pause
from .milestones import milestone_record
from .patients import patient_save

# Zones the demo patients may live in; each patient gets one where it is daytime
# now, so the first texts are not held back by quiet hours during a demo.
DEMO_ZONES = [
    "America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London",
    "Europe/Madrid", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
    "America/Sao_Paulo", "Asia/Dubai", "Pacific/Honolulu",
]

CLINICS = [
    {"key": "a", "name": "Riverside Spine and Bone Clinic", "phone": "+12025550143",
     "email": "followup@riverside.example", "time_zone": "America/New_York",
     "address": "1250 Riverside Avenue, Suite 400"},
    {"key": "b", "name": "Hillcrest Fracture Liaison Service", "phone": "+442079460958",
     "email": "followup@hillcrest.example", "time_zone": "Europe/London",
     "address": "Hillcrest Hospital, Outpatients B, Level 2"},
]

# The coordinators' own numbers, for "Send a test SMS to yourself".
COORDINATOR_MOBILES = {"a": "+12025550190", "b": "+447911123400"}

PATIENTS = {
    "a": [("Margaret", "Okafor", "+12025550101", "pvp", "now"),
          ("Walter", "Brennan", "+12025550102", "diagnosis", "now"),
          ("Dolores", "Whitfield", "+12025550103", "pkp", "days_ago"),
          ("Harold", "Nguyen", "+12025550104", "diagnosis", "paused")],
    "b": [("Edith", "Marsh", "+447911123401", "pkp", "now"),
          ("Arthur", "Pembroke", "+447911123402", "diagnosis", "now"),
          ("Irene", "Castillo", "+447911123403", "pvp", "cancelled")],
}

# Replies some demo patients sent: (clinic key, patient index) -> kind, text.
REPLIES = {
    ("a", 0): (InboundKind.RED_FLAG, "The pain moved down my leg and my foot feels numb since this morning"),
    ("a", 2): (InboundKind.ANSWER, "YES"),
    ("b", 1): (InboundKind.REPLY, "Thank you. Who do I call about the bone scan?"),
}
DEMO_REPLY_PREFIX = "demo-"


@dataclass(frozen=True)
class DemoResult:
    clinics: int
    patients: int
    due_soon: int
    replies: int = 0
    open_escalations: int = 0
    # Logins that existed before and kept their own password.
    kept_logins: tuple[str, ...] = ()


def _daytime_zone(*, now: datetime, index: int) -> str:
    """A demo zone where it is between 09:00 and 19:00 now, varied by ``index``."""
    daytime = [
        name for name in DEMO_ZONES
        if time(9) <= now.astimezone(zoneinfo.ZoneInfo(name)).time() < time(19)
    ] or DEMO_ZONES
    return daytime[index % len(daytime)]


def messages_bring_forward(*, enrollment: Enrollment, due_at: datetime) -> int:
    """Demo only: make the enrollment's first pending message due at ``due_at``."""
    first = enrollment.messages.filter(status=MessageStatus.PENDING).order_by("due_at").first()
    if first is None:
        return 0
    return Message.objects.filter(pk=first.pk, status=MessageStatus.PENDING).update(
        due_at=due_at, scheduled_at=due_at, updated_at=timezone.now()
    )


def _user(*, username: str, password: str, superuser: bool = False, kept: list[str]):
    """A demo login. One that already exists is left as it is, password and rights: on a
    real deployment "admin" may be someone's own account."""
    user, created = get_user_model().objects.get_or_create(username=username)
    if not created:
        kept.append(username)
        return user
    user.is_staff = True
    user.is_superuser = superuser
    user.set_password(password)
    user.save()
    if not superuser:
        user.groups.add(coordinator_group_ensure())
    return user


def _reply(*, enrollment: Enrollment, kind: str, body: str, coordinator) -> int:
    """A reply from the patient, as the inbound webhook would record it; an urgent one escalates."""
    patient = enrollment.patient
    inbound = InboundMessage.objects.create(
        provider_message_id=f"{DEMO_REPLY_PREFIX}{enrollment.pk}", from_number=patient.mobile, to_number="",
        body=body, kind=kind, clinic=patient.clinic, patient=patient, enrollment=enrollment,
    )
    if kind == InboundKind.ANSWER:
        step = (enrollment.program.steps.filter(topic=Topic.SPECIALIST_CONSULTATION).first()
                or enrollment.program.steps.first())
        CheckInAnswer.objects.create(enrollment=enrollment, step=step, inbound=inbound, value="yes")
    if kind == InboundKind.RED_FLAG:
        Escalation.objects.create(
            clinic=patient.clinic, patient=patient, enrollment=enrollment, inbound=inbound,
            kind=EscalationKind.RED_FLAG, urgency=Urgency.URGENT,
            summary="Warning sign in a reply: new numbness; call the patient today",
        )
        return 1
    if kind == InboundKind.REPLY:
        # An older, routine one, already taken care of by the clinic's coordinator.
        Escalation.objects.create(
            clinic=patient.clinic, patient=patient, enrollment=enrollment, inbound=inbound,
            kind=EscalationKind.CHECK_IN, urgency=Urgency.ROUTINE, summary="Question about the bone scan",
            acknowledged_at=timezone.now(), acknowledged_by=coordinator,
        )
    return 0


@transaction.atomic
def demo_seed(*, password: str, now: datetime | None = None) -> DemoResult:
    """Two clinics, an admin and a coordinator for each clinic, and patients in several states,
    some with replies and an open escalation.

    Running it again resets the demo patients, so their first texts fall due again. Logins
    are only ever created: an existing user keeps their password.
    """
    now = now or timezone.now()
    programs = {p.kind: p for p in Program.objects.filter(is_active=True)}
    missing = {"after_procedure", "after_diagnosis"} - set(programs)
    if missing:
        raise ValidationError(
            f"No active program of kind {', '.join(sorted(missing))}: run `python manage.py load_programs` first."
        )
    kept: list[str] = []
    admin = _user(username="admin", password=password, superuser=True, kept=kept)
    InboundMessage.objects.filter(provider_message_id__startswith=DEMO_REPLY_PREFIX).delete()

    patients = due_soon = replies = open_escalations = 0
    for clinic_data in CLINICS:
        key = clinic_data["key"]
        clinic, _ = Clinic.objects.update_or_create(
            name=clinic_data["name"],
            defaults={k: v for k, v in clinic_data.items() if k not in ("key", "name")},
        )
        coordinator = _user(username=f"coord-{key}", password=password, kept=kept)
        Coordinator.objects.update_or_create(
            user=coordinator, clinic=clinic, defaults={"mobile": COORDINATOR_MOBILES[key]})
        for index, (first, last, mobile, event, state) in enumerate(PATIENTS[key]):
            Patient.objects.filter(clinic=clinic, mobile=mobile).delete()
            patient = patient_save(patient=Patient(
                clinic=clinic, first_name=first, last_name=last, mobile=mobile, sms_consent=True,
                email=f"{first.lower()}.{last.lower()}@example.com", email_consent=True,
                time_zone=_daytime_zone(now=now, index=index + patients),
            ), recorded_by=admin, source="demo data")
            kind = "after_diagnosis" if event == AnchorEvent.DIAGNOSIS else "after_procedure"
            today = now.astimezone(patient.zone).date()
            anchor = today - timedelta(days=3) if state == "days_ago" else today
            enrollment = enrollment_create(
                patient=patient, program=programs[kind], anchor_event=event,
                anchor_date=anchor, enrolled_by=admin, now=now,
            )
            if state == "now":
                due_soon += messages_bring_forward(
                    enrollment=enrollment, due_at=now + timedelta(seconds=20 + 5 * index)
                )
            elif state == "days_ago":
                # A consultation booked for next week: the booking texts stop, an evening-before reminder waits.
                milestone_record(patient=patient, kind=MilestoneKind.CONSULTATION_BOOKED, on=today + timedelta(days=5),
                                 at=time(10, 30), detail="spine clinic", recorded_by=coordinator, now=now)
            elif state == "paused":
                enrollment_pause(enrollment=enrollment, reason=StatusReason.ADMITTED_TO_HOSPITAL.label)
            elif state == "cancelled":
                enrollment_cancel(enrollment=enrollment, reason=StatusReason.MOVED_AWAY.label)
            if (key, index) in REPLIES:
                kind, body = REPLIES[(key, index)]
                open_escalations += _reply(enrollment=enrollment, kind=kind, body=body, coordinator=coordinator)
                replies += 1
            patients += 1
    return DemoResult(clinics=len(CLINICS), patients=patients, due_soon=due_soon, replies=replies,
                      open_escalations=open_escalations, kept_logins=tuple(kept))
