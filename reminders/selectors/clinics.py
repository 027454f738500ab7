"""Finding a clinic as people name it in files and commands: by its name or its id."""

from django.db.models import QuerySet

from ..models import Clinic


def clinics_by_name_or_id(*, clinics: QuerySet[Clinic]) -> dict[str, Clinic]:
    """``clinics`` keyed by id (as text) and by name (trimmed, lower case); look a typed value up lower-cased."""
    found = {}
    for clinic in clinics:
        found[str(clinic.pk)] = clinic
        found[clinic.name.strip().lower()] = clinic
    return found


def clinic_by_name_or_id(*, text: str, clinics: QuerySet[Clinic]) -> Clinic | None:
    """The clinic of ``clinics`` named ``text`` (any case) or with that id, as the CSV import reads its column."""
    return clinics_by_name_or_id(clinics=clinics).get(text.strip().lower())
