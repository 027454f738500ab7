"""Finding patients by the clinic's own medical record number, and the milestones already on their file.

The milestones CSV and ``manage.py patient_timeline`` name a patient as a clinic
names them: the clinic and the record number (unique in the clinic when set).
"""

from collections.abc import Iterable
from datetime import date

from django.db.models import Q

from ..models import Clinic, Milestone, Patient


def patient_by_mrn(*, clinic: Clinic, mrn: str) -> Patient | None:
    """The clinic's patient with this medical record number (as typed, spaces around it left out)."""
    mrn = (mrn or "").strip()
    if not mrn:
        return None
    return Patient.objects.select_related("clinic").filter(clinic=clinic, mrn=mrn).first()


def patients_by_mrn(*, keys: Iterable[tuple[Clinic, str]]) -> dict[tuple[int, str], Patient]:
    """The patients named by (clinic, record number) pairs, in one query, keyed by (clinic id, record number)."""
    by_clinic: dict[int, set[str]] = {}
    for clinic, mrn in keys:
        if mrn := (mrn or "").strip():
            by_clinic.setdefault(clinic.pk, set()).add(mrn)
    if not by_clinic:
        return {}
    query = Q()
    for clinic_id, mrns in by_clinic.items():
        query |= Q(clinic_id=clinic_id, mrn__in=sorted(mrns))
    return {(patient.clinic_id, patient.mrn): patient
            for patient in Patient.objects.select_related("clinic").filter(query)}


def milestones_standing_by_day(*, patients: Iterable[Patient]) -> dict[tuple[int, str, date], Milestone]:
    """The patients' milestones that stand (not withdrawn), keyed by (patient id, kind, date)."""
    found = {}
    for milestone in Milestone.objects.filter(patient__in=list(patients), withdrawn_at__isnull=True).order_by("pk"):
        found.setdefault((milestone.patient_id, milestone.kind, milestone.date), milestone)
    return found
