"""Recording milestones from a CSV file: the admin upload and ``manage.py milestones_csv`` share this.

Columns ``clinic, mrn, milestone, date, detail``. Every row is checked before any
is recorded: the patient is found by the clinic and its medical record number,
and the milestone, date and detail are checked as a milestone is (an unsaved
Milestone's ``full_clean``: only an appointment has a time, only an appointment
lies in the future). A file with one bad row records nothing and says, for each
problem, the line, the column and the reason, as the enrollment CSV does
(services/csv_import.py reads both files). A good file is recorded in one
transaction, row by row in file order, through ``milestone_record``: each
patient's schedule follows as it does when a coordinator records a milestone.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import APPOINTMENT_KINDS, Clinic, Milestone, MilestoneKind, MilestoneSource, Patient
from ..selectors.clinics import clinics_by_name_or_id
from ..selectors.patient_records import milestones_standing_by_day, patients_by_mrn
from .csv_import import CsvError, CsvRefused, csv_rows_read
from .milestones import milestone_record

logger = logging.getLogger(__name__)

APPOINTMENTS = ", ".join(APPOINTMENT_KINDS)
# name, what goes in it
MILESTONE_CSV_COLUMNS: list[tuple[str, str]] = [
    ("clinic", "The clinic's name as in the admin (or its id); one you work for."),
    ("mrn", "The patient's medical record number in that clinic."),
    ("milestone", f"One of: {', '.join(MilestoneKind.values)}."),
    ("date", "YYYY-MM-DD in the patient's time zone, or YYYY-MM-DD HH:MM for the time of an appointment "
             f"({APPOINTMENTS}). Only an appointment may lie in the future."),
    ("detail", "Optional: e.g. the medicine, the specialist, the place."),
]
MILESTONE_OPTIONAL_COLUMN_NAMES = ["detail"]
MILESTONE_COLUMN_NAMES = [name for name, _ in MILESTONE_CSV_COLUMNS if name not in MILESTONE_OPTIONAL_COLUMN_NAMES]
MILESTONE_ALL_COLUMN_NAMES = [name for name, _ in MILESTONE_CSV_COLUMNS]

DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})(?: (\d{2}):(\d{2}))?")
# Where an error from a milestone's validation belongs in the file.
_ERROR_COLUMNS = {NON_FIELD_ERRORS: "", "kind": "milestone", "time": "date", "patient": "mrn"}


@dataclass(frozen=True)
class MilestoneRow:
    """A checked row, ready to record."""

    line: int
    patient: Patient
    kind: str
    on: date
    at: time | None
    detail: str


@dataclass
class MilestoneImportResult:
    rows: int = 0
    recorded: list[Milestone] = field(default_factory=list)
    errors: list[CsvError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _date_time(value: str) -> tuple[date, time | None] | None:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM`` read, or None when it is neither (or no such day or time)."""
    match = DATE_TIME.fullmatch(value)
    if match is None:
        return None
    try:
        on = date.fromisoformat(match[1])
        at = time(int(match[2]), int(match[3])) if match[2] else None
    except ValueError:
        return None
    return on, at


def _kind(value: str) -> str | None:
    """A milestone kind by its value (``consultation_booked``) or its label, in any case."""
    lowered = value.strip().lower()
    if lowered in MilestoneKind.values:
        return lowered
    return {str(label).lower(): kind for kind, label in MilestoneKind.choices}.get(lowered)


def _row_check(
    line: int, row: dict[str, str], *, clinics: dict[str, Clinic], patients: dict[tuple[int, str], Patient],
    errors: list[CsvError],
) -> MilestoneRow | None:
    """The row checked, each problem added to ``errors``; None when it has any."""
    found = len(errors)
    clinic = clinics.get(row["clinic"].lower())
    if clinic is None:
        errors.append(CsvError(line, "clinic", f"no clinic “{row['clinic']}” that you can record milestones for."
                               if row["clinic"] else "required."))
    patient = None
    if not row["mrn"]:
        errors.append(CsvError(line, "mrn", "required."))
    elif clinic is not None:
        patient = patients.get((clinic.pk, row["mrn"]))
        if patient is None:
            errors.append(CsvError(line, "mrn", f"no patient with medical record number “{row['mrn']}” in "
                                                 f"{clinic.name}."))
    kind = _kind(row["milestone"])
    if kind is None:
        errors.append(CsvError(line, "milestone", (
            f"“{row['milestone']}” is not a milestone; one of: {', '.join(MilestoneKind.values)}."
            if row["milestone"] else "required.")))
    when = _date_time(row["date"])
    if when is None:
        errors.append(CsvError(line, "date", (
            f"“{row['date']}” is not a date as YYYY-MM-DD (or YYYY-MM-DD HH:MM for an appointment)."
            if row["date"] else "required.")))
    on, at = when or (None, None)
    # The rest as a milestone is checked (only an appointment has a time or a future date; the detail's
    # length and characters), leaving out what was refused above.
    milestone = Milestone(kind=kind or "", date=on, time=at, detail=row["detail"], source=MilestoneSource.IMPORT)
    exclude = ["patient", "recorded_by", "inbound", "withdrawn_by"]
    exclude += [name for name, refused in (("kind", kind is None), ("date", when is None)) if refused]
    try:
        milestone.full_clean(exclude=exclude)
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            column = _ERROR_COLUMNS.get(key, key)
            errors.extend(CsvError(line, column, message) for message in messages)
    if len(errors) > found or patient is None or kind is None or on is None:
        return None
    return MilestoneRow(line=line, patient=patient, kind=kind, on=on, at=at, detail=milestone.detail)


def _duplicates(checked: list[MilestoneRow]) -> list[CsvError]:
    """The same patient, milestone and date twice in the file (the later line is refused), or already on file:
    an appointment recorded twice would remind the patient twice."""
    errors, first = [], {}
    on_file = milestones_standing_by_day(patients={row.patient.pk: row.patient for row in checked}.values())
    for row in checked:
        key = (row.patient.pk, row.kind, row.on)
        if key in first:
            errors.append(CsvError(row.line, "", f"the same patient, milestone and date as line {first[key]}."))
            continue
        first[key] = row.line
        if key in on_file:
            errors.append(CsvError(row.line, "", (
                f"{row.kind} on {row.on:%Y-%m-%d} is already recorded for this patient; "
                "correct or withdraw it on the patient's page instead.")))
    return errors


def _check(rows: list[tuple[int, dict[str, str]]], *, clinics: QuerySet[Clinic],
           errors: list[CsvError]) -> list[MilestoneRow]:
    """Every row checked, every problem of every row added to ``errors`` (with those of rows that
    could not be read); raises CsvRefused with them all."""
    by_name = clinics_by_name_or_id(clinics=clinics)
    patients = patients_by_mrn(keys=[(by_name[row["clinic"].lower()], row["mrn"]) for _, row in rows
                                     if row["clinic"].lower() in by_name])
    checked = [found for line, row in rows
               if (found := _row_check(line, row, clinics=by_name, patients=patients, errors=errors))]
    errors.extend(_duplicates(checked))
    if errors:
        raise CsvRefused(sorted(errors, key=lambda error: error.line))
    return checked


def _record(checked: list[MilestoneRow], *, recorded_by: AbstractBaseUser | None, now: datetime) -> list[Milestone]:
    """Every row recorded in file order, in one transaction; raises CsvRefused (and records nothing) when
    one is refused after all (the patient forgotten since the check)."""
    recorded = []
    with transaction.atomic():
        for row in checked:
            try:
                recorded.append(milestone_record(
                    patient=row.patient, kind=row.kind, on=row.on, at=row.at, detail=row.detail,
                    recorded_by=recorded_by, source=MilestoneSource.IMPORT, now=now))
            except ValidationError as exc:
                raise CsvRefused([CsvError(row.line, _ERROR_COLUMNS.get(key, key), message)
                                  for key, messages in exc.message_dict.items() for message in messages]) from exc
    return recorded


def milestone_csv_import(
    *,
    data: bytes,
    clinics: QuerySet[Clinic],
    recorded_by: AbstractBaseUser | None = None,
    check_only: bool = False,
    now: datetime | None = None,
) -> MilestoneImportResult:
    """Check every row of ``data``, then (unless ``check_only``) record them all in one transaction.

    ``clinics`` are those whose patients the importer may record milestones for;
    a row naming another clinic is refused. Nothing is written when any row has a
    problem; ``result.errors`` lists them all.
    """
    now = now or timezone.now()
    result = MilestoneImportResult()
    try:
        rows, unreadable = csv_rows_read(data=data, required=MILESTONE_COLUMN_NAMES,
                                         optional=MILESTONE_OPTIONAL_COLUMN_NAMES, rows_are="milestones")
        result.rows = len(rows) + len(unreadable)
        checked = _check(rows, clinics=clinics, errors=unreadable)
        if check_only:
            return result
        result.recorded = _record(checked, recorded_by=recorded_by, now=now)
    except CsvRefused as refused:
        result.recorded, result.errors = [], refused.errors
        logger.info("milestone csv import refused: rows=%d errors=%d", result.rows, len(result.errors))
        return result
    logger.info("milestone csv import recorded %d milestones (user %s)", len(result.recorded),
                recorded_by.pk if recorded_by else "-")
    return result
