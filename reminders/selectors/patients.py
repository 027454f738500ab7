"""Reading patients: who of a clinic is already on file with the same record number or contact,
and a search term read as a phone number.

The enroll page and the CSV import both ask here before a new patient is
written, so the same person never gets every text twice by mistake.
"""

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.db.models import Q

from ..models import Patient


class MatchKind(enum.StrEnum):
    MRN = "mrn"  # the same medical record number: the same person
    SAME_PERSON = "same_person"  # the same names and the same mobile or email
    MOBILE = "mobile"  # the same mobile, another name: a shared phone, or the same person misspelt


@dataclass(frozen=True)
class PatientMatch:
    patient: Patient  # the one on file
    kind: MatchKind

    @property
    def field(self) -> str:
        """The field of the new patient the match is about."""
        return "mrn" if self.kind == MatchKind.MRN else "mobile" if self.patient.mobile else "email"


def _mobile(patient: Patient) -> str:
    # Compared, not tested for truth: a PhoneNumber's truth formats and validates it.
    if patient.mobile in (None, ""):
        return ""
    return getattr(patient.mobile, "as_e164", None) or str(patient.mobile)


def _names(patient: Patient) -> tuple[str, str]:
    return " ".join(patient.first_name.split()).casefold(), " ".join(patient.last_name.split()).casefold()


def patients_on_file(*, candidates: Iterable[Patient]) -> list[Patient]:
    """The patients (not forgotten) of the candidates' clinics who share a record number,
    a mobile or an email address with one of ``candidates`` (unsaved patients), in one query."""
    candidates = [c for c in candidates if c.clinic_id]
    mrns = {c.mrn.strip() for c in candidates if c.mrn and c.mrn.strip()}
    mobiles = {m for c in candidates if (m := _mobile(c))}
    emails = {c.email for c in candidates if c.email}
    if not (mrns or mobiles or emails):
        return []
    return list(
        Patient.objects.filter(Q(mrn__in=mrns) | Q(mobile__in=mobiles) | Q(email__in=emails),
                               clinic_id__in={c.clinic_id for c in candidates}, forgotten_at__isnull=True)
        .order_by("pk")
    )


def patient_matches(*, candidate: Patient, on_file: Iterable[Patient]) -> list[PatientMatch]:
    """Who of ``on_file`` ``candidate`` may be: a record number matches first; then the same
    names with the same mobile or email; then the same mobile alone."""
    matches = []
    mrn, mobile, email = (candidate.mrn or "").strip(), _mobile(candidate), (candidate.email or "").casefold()
    for patient in on_file:
        if patient.clinic_id != candidate.clinic_id or (candidate.pk and patient.pk == candidate.pk):
            continue
        same_contact = (mobile and _mobile(patient) == mobile) or (
            not mobile and email and patient.email.casefold() == email)
        if mrn and patient.mrn == mrn:
            matches.append(PatientMatch(patient, MatchKind.MRN))
        elif same_contact and _names(patient) == _names(candidate):
            matches.append(PatientMatch(patient, MatchKind.SAME_PERSON))
        elif mobile and _mobile(patient) == mobile:
            matches.append(PatientMatch(patient, MatchKind.MOBILE))
    return sorted(matches, key=lambda match: list(MatchKind).index(match.kind))


def patient_duplicates_find(*, candidate: Patient) -> list[PatientMatch]:
    """``patient_matches`` for one candidate, against the database."""
    return patient_matches(candidate=candidate, on_file=patients_on_file(candidates=[candidate]))


# A search term that may be a phone number: digits with the punctuation people type around them.
_PHONE_TERM = re.compile(r"\+?[\d\s().\-/]+")


def patient_search_mobile(*, term: str) -> str:
    """A search term typed as a phone number in any common format ("(305) 555-0102",
    "305.555.0102", "+1 305 555 0102"), read in the default region, as stored (E.164);
    "" when the term is no phone number."""
    term = term.strip()
    if not _PHONE_TERM.fullmatch(term) or sum(char.isdigit() for char in term) < 7:
        return ""
    try:
        number = phonenumbers.parse(term, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
