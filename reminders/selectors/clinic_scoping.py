"""Which clinics a staff user works for, and their rows only."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from ..models import Clinic, Coordinator


def clinics_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Clinic]:
    """The clinics ``user`` may see: every clinic for a superuser, else their Coordinator rows'."""
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    if user.is_superuser:
        return Clinic.objects.all()
    return Clinic.objects.filter(coordinators__user=user).distinct()


def queryset_for_user(*, queryset: QuerySet, user: AbstractBaseUser | AnonymousUser, clinic_path: str) -> QuerySet:
    """``queryset`` narrowed to the rows of ``user``'s clinics.

    ``clinic_path`` is the lookup from the model to its clinic ("clinic",
    "patient__clinic", ...; "pk" for Clinic itself). Rows without a clinic (a
    reply from an unknown number) are for superusers only.
    """
    if user.is_authenticated and user.is_active and user.is_superuser:
        return queryset
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    clinic_ids = Coordinator.objects.filter(user=user).values("clinic_id")
    return queryset.filter(**{f"{clinic_path}__in": clinic_ids})


def coordinator_roles_for_user(*, user: AbstractBaseUser) -> QuerySet[Coordinator]:
    return Coordinator.objects.filter(user=user).select_related("clinic").order_by("clinic__name")


def _clinic_paths() -> dict[type, str]:
    from ..models import (
        CheckInAnswer,
        ConsentEvent,
        Enrollment,
        Escalation,
        InboundMessage,
        Message,
        Patient,
    )

    return {
        Clinic: "pk",
        Coordinator: "clinic",
        Patient: "clinic",
        Enrollment: "patient__clinic",
        Message: "enrollment__patient__clinic",
        ConsentEvent: "patient__clinic",
        InboundMessage: "clinic",
        CheckInAnswer: "enrollment__patient__clinic",
        Escalation: "clinic",
    }


def clinic_path_for(model: type) -> str | None:
    """The lookup from ``model`` to its clinic, or None for shared data (programs, steps)."""
    return _clinic_paths().get(model)


def choices_for_user(*, model: type, user: AbstractBaseUser) -> QuerySet | None:
    """The rows of ``model`` that ``user`` may pick in a form, or None if ``model`` is not per clinic."""
    path = clinic_path_for(model)
    if path is None:
        return None
    return queryset_for_user(queryset=model._default_manager.all(), user=user, clinic_path=path)


def clinic_zone_for_user(*, user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The time zone of ``user``'s clinics when they share one (the zone their pages are read in), else None."""
    if not user.is_authenticated:
        return None
    zones = set(clinics_for_user(user=user).values_list("time_zone", flat=True).distinct()[:2])
    return zones.pop() if len(zones) == 1 else None


def demo_has_data() -> bool:
    """Whether any clinic exists: the demo is seeded only into an empty database."""
    return Clinic.objects.exists()
