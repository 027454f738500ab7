"""Demo data for a first look at the service (``python manage.py seed_demo``)."""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import AnchorEvent, Clinic, Enrollment, Message, MessageStatus, Patient, Program
from .enrollments import enrollment_cancel, enrollment_create, enrollment_pause

# Zones the demo patients may live in; each patient gets one where it is daytime
# now, so the first texts are not held back by quiet hours during a demo.
DEMO_ZONES = [
    "America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London",
    "Europe/Madrid", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
    "America/Sao_Paulo", "Asia/Dubai", "Pacific/Honolulu",
]

CLINICS = [
    {"key": "a", "name": "Riverside Spine and Bone Clinic", "phone": "+12025550143",
     "email": "followup@riverside.example", "time_zone": "America/New_York"},
    {"key": "b", "name": "Hillcrest Fracture Liaison Service", "phone": "+442079460958",
     "email": "followup@hillcrest.example", "time_zone": "Europe/London"},
]

PATIENTS = {
    "a": [("Margaret", "Okafor", "+12025550101", "pvp", "now"),
          ("Walter", "Brennan", "+12025550102", "diagnosis", "now"),
          ("Dolores", "Whitfield", "+12025550103", "pkp", "days_ago"),
          ("Harold", "Nguyen", "+12025550104", "diagnosis", "paused")],
    "b": [("Edith", "Marsh", "+447700900101", "pkp", "now"),
          ("Arthur", "Pembroke", "+447700900102", "diagnosis", "now"),
          ("Irene", "Castillo", "+447700900103", "pvp", "cancelled")],
}


@dataclass(frozen=True)
class DemoResult:
    clinics: int
    patients: int
    due_soon: int


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


def _user(*, username: str, password: str, superuser: bool = False):
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = True
    user.is_superuser = superuser
    user.set_password(password)
    user.save()
    if not superuser:
        group, _ = Group.objects.get_or_create(name="Coordinator")
        user.groups.add(group)
    return user


@transaction.atomic
def demo_seed(*, password: str, now: datetime | None = None) -> DemoResult:
    """Two clinics, an admin and two coordinators, and patients in several states.

    Running it again resets the demo patients, so their first texts fall due again.
    """
    now = now or timezone.now()
    programs = {p.kind: p for p in Program.objects.filter(is_active=True)}
    missing = {"after_procedure", "after_diagnosis"} - set(programs)
    if missing:
        raise ValidationError(
            f"No active program of kind {', '.join(sorted(missing))}: run `python manage.py load_programs` first."
        )
    admin = _user(username="admin", password=password, superuser=True)
    for clinic_data in CLINICS:
        _user(username=f"coord-{clinic_data['key']}", password=password)

    patients = due_soon = 0
    for clinic_data in CLINICS:
        key = clinic_data["key"]
        clinic, _ = Clinic.objects.update_or_create(
            name=clinic_data["name"],
            defaults={k: v for k, v in clinic_data.items() if k not in ("key", "name")},
        )
        for index, (first, last, mobile, event, state) in enumerate(PATIENTS[key]):
            Patient.objects.filter(clinic=clinic, mobile=mobile).delete()
            patient = Patient.objects.create(
                clinic=clinic, first_name=first, last_name=last, mobile=mobile,
                email=f"{first.lower()}.{last.lower()}@example.com", email_consent=True,
                time_zone=_daytime_zone(now=now, index=index + patients),
            )
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
            elif state == "paused":
                enrollment_pause(enrollment=enrollment, reason="admitted to hospital")
            elif state == "cancelled":
                enrollment_cancel(enrollment=enrollment, reason="moved away")
            patients += 1
    return DemoResult(clinics=len(CLINICS), patients=patients, due_soon=due_soon)
