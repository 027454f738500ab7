"""Reading the replies and escalations inbox."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from ..models import Escalation, Urgency
from .clinic_scoping import queryset_for_user


@dataclass(frozen=True)
class OpenEscalations:
    total: int
    urgent: int


def escalations_open_count(*, user: AbstractBaseUser) -> OpenEscalations:
    """How many escalations of ``user``'s clinics wait for someone, in one query."""
    counts = queryset_for_user(
        queryset=Escalation.objects.filter(acknowledged_at__isnull=True), user=user, clinic_path="clinic"
    ).aggregate(total=Count("pk"), urgent=Count("pk", filter=Q(urgency=Urgency.URGENT)))
    return OpenEscalations(total=counts["total"], urgent=counts["urgent"])
