"""Bulk enrollment from a CSV file: the admin upload and ``manage.py enroll_csv`` share this.

Every row is checked before any is enrolled, by the same intake check as the
admin's enrollment page; a file with one bad row enrolls nobody and says, for
each problem, the line, the column and the reason. A good file is written in
one transaction, in batches (services/bulk.py), consent reaching the ledger as
an import.
"""

import csv
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import AnchorEvent, Clinic, ConsentActor, Enrollment, Language, Patient, Program
from .bulk import enrollments_bulk_write
from .enrollment_intake import PatientIntake, enrollment_intake_check

logger = logging.getLogger(__name__)

# name, what goes in it
CSV_COLUMNS: list[tuple[str, str]] = [
    ("clinic", "The clinic's name as in the admin (or its id); one you work for."),
    ("first_name", "Required."),
    ("last_name", "Required."),
    ("mobile", "Mobile number; without a country code it is read in the default region. Needed for SMS."),
    ("email", "Email address. Needed for email."),
    ("sms_consent", "yes or no: the patient agreed to texts."),
    ("email_consent", "yes or no: the patient agreed to emails."),
    ("discreet", "yes or no (empty: no): no diagnosis or procedure words in texts."),
    ("language", "en or es (empty: en)."),
    ("time_zone", "A place's zone from the tz database, e.g. America/New_York (empty: the clinic's)."),
    ("program", "The program's slug or name."),
    ("anchor_event", "diagnosis, pvp or pkp."),
    ("anchor_date", "Date of the diagnosis or procedure, YYYY-MM-DD."),
]
COLUMN_NAMES = [name for name, _ in CSV_COLUMNS]

YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}

Progress = Callable[[str, int, int], None]  # phase ("checking" or "enrolling"), done, total


@dataclass(frozen=True)
class CsvError:
    line: int  # 1 is the header; 0 means the file as a whole
    column: str  # "" when it is about the row or the file
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}, column {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass
class CsvImportResult:
    rows: int = 0
    enrolled: list[Enrollment] = field(default_factory=list)
    errors: list[CsvError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Refused(Exception):
    def __init__(self, errors: list[CsvError]) -> None:
        super().__init__("refused")
        self.errors = errors


def csv_template() -> str:
    """The header line of an enrollment CSV, to fill in."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(COLUMN_NAMES)
    return out.getvalue()


def csv_size_problem(*, size: int) -> str:
    """Why a file of ``size`` bytes is refused ("" when it is not); callers may ask before reading it."""
    max_bytes = settings.CSV_IMPORT_MAX_BYTES
    if size <= max_bytes:
        return ""
    return (f"the file is {size / 1024:.0f} KB; at most {max_bytes / 1024:.0f} KB per file "
            "(split it into several files).")


def _csv_text(*, data: bytes) -> str:
    """The file as text. Raises _Refused when it is too large, not UTF-8 or empty."""
    if problem := csv_size_problem(size=len(data)):
        raise _Refused([CsvError(0, "", problem)])
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, as Excel writes, is dropped
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _Refused([CsvError(line, "", (
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be read); "
            "save it as “CSV UTF-8 (comma delimited)”."))]) from exc
    if not text.strip():
        raise _Refused([CsvError(0, "", "the file is empty; download the template and fill it in.")])
    return text


def _csv_header(reader) -> list[str]:
    """The header's column names. Raises _Refused with every problem of the header at once."""
    try:
        header = [name.strip().lower() for name in next(reader)]
    except csv.Error as exc:
        raise _Refused([CsvError(1, "", f"the header cannot be read: {exc}")]) from exc
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        raise _Refused([CsvError(1, "", "columns must be separated by commas, not semicolons or tabs.")])
    errors = [CsvError(1, name, "missing column") for name in COLUMN_NAMES if name not in header]
    errors += [
        CsvError(1, name or f"#{index + 1}", f"unknown column (expected: {', '.join(COLUMN_NAMES)})")
        for index, name in enumerate(header) if name not in COLUMN_NAMES
    ]
    errors += [CsvError(1, name, "column appears twice") for name in sorted(
        {name for name in header if header.count(name) > 1})]
    if errors:
        raise _Refused(errors)
    return header


def _csv_data_rows(reader, *, header: list[str]) -> list[tuple[int, dict[str, str]]]:
    """The rows after the header, by column name, blank lines left out. Raises _Refused
    with every row that cannot be read, or when there are none or too many."""
    rows, errors = [], []
    try:
        for values in reader:
            line = reader.line_num
            if not any(value.strip() for value in values):
                continue  # blank lines, including Excel's trailing ",,,"
            if len(values) != len(header):
                errors.append(CsvError(line, "", f"{len(values)} values, expected {len(header)} (one per column)"))
                continue
            rows.append((line, {name: value.strip() for name, value in zip(header, values, strict=True)}))
    except csv.Error as exc:
        errors.append(CsvError(reader.line_num, "", f"cannot be read: {exc}"))
    if errors:
        raise _Refused(errors)
    if not rows:
        raise _Refused([CsvError(0, "", "the file has a header but no patients.")])
    max_rows = settings.CSV_IMPORT_MAX_ROWS
    if len(rows) > max_rows:
        raise _Refused([CsvError(0, "", f"the file has {len(rows)} patients; at most {max_rows} per file.")])
    return rows


def csv_rows_read(*, data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a file, with their line numbers. Raises _Refused on a file-level problem."""
    reader = csv.reader(io.StringIO(_csv_text(data=data), newline=""))
    return _csv_data_rows(reader, header=_csv_header(reader))


class _Lookups:
    """Clinics and programs by name, read once per file."""

    def __init__(self, clinics: QuerySet[Clinic]) -> None:
        self.clinics = {}
        for clinic in clinics:
            self.clinics[str(clinic.pk)] = clinic
            self.clinics[clinic.name.strip().lower()] = clinic
        self.programs = {}
        # With their steps: every row's plan reads them, twice.
        for program in Program.objects.prefetch_related("steps"):
            self.programs[program.slug.lower()] = program
            self.programs[program.name.strip().lower()] = program


def _yes_no(value: str, *, column: str, errors: list[CsvError], line: int, default: bool | None = None) -> bool:
    lowered = value.lower()
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    if not value and default is not None:
        return default
    errors.append(CsvError(line, column, f"“{value}” is not yes or no." if value else "say yes or no."))
    return False


def _intake(line: int, row: dict[str, str], lookups: _Lookups, errors: list[CsvError]) -> PatientIntake | None:
    found = len(errors)
    clinic = lookups.clinics.get(row["clinic"].lower())
    if clinic is None:
        errors.append(CsvError(line, "clinic", f"no clinic “{row['clinic']}” that you can enroll for."
                               if row["clinic"] else "required."))
    program = lookups.programs.get(row["program"].lower())
    if program is None:
        errors.append(CsvError(line, "program", f"no program “{row['program']}”."
                               if row["program"] else "required."))
    if row["anchor_event"].lower() not in AnchorEvent.values:
        errors.append(CsvError(line, "anchor_event", f"must be one of {', '.join(AnchorEvent.values)}."))
    language = row["language"].lower() or Language.ENGLISH
    labels = {label.lower(): value for value, label in Language.choices}
    language = labels.get(language, language)
    if language not in Language.values:
        errors.append(CsvError(line, "language", f"must be one of {', '.join(Language.values)}."))
    try:
        anchor_date = date.fromisoformat(row["anchor_date"])
    except ValueError:
        anchor_date = None
        errors.append(CsvError(line, "anchor_date", (
            f"“{row['anchor_date']}” is not a date as YYYY-MM-DD." if row["anchor_date"] else "required.")))
    sms = _yes_no(row["sms_consent"], column="sms_consent", errors=errors, line=line)
    email = _yes_no(row["email_consent"], column="email_consent", errors=errors, line=line)
    discreet = _yes_no(row["discreet"], column="discreet", errors=errors, line=line, default=False)
    if len(errors) > found:
        return None
    return PatientIntake(
        clinic=clinic, first_name=row["first_name"], last_name=row["last_name"], mobile=row["mobile"],
        email=row["email"], sms_consent=sms, email_consent=email, discreet=discreet,
        time_zone=row["time_zone"], language=language, program=program,
        anchor_event=row["anchor_event"].lower(), anchor_date=anchor_date,
    )


# Where an error from the intake's validation belongs in the file.
_ERROR_COLUMNS = {NON_FIELD_ERRORS: "", "patient": "mobile/email"}


def _check(
    rows: list[tuple[int, dict[str, str]]], *, clinics: QuerySet[Clinic], now: datetime,
    progress: Progress | None,
) -> list[tuple[int, PatientIntake]]:
    lookups = _Lookups(clinics)
    errors: list[CsvError] = []
    checked: list[tuple[int, PatientIntake, Patient]] = []
    for done, (line, row) in enumerate(rows, start=1):
        intake = _intake(line, row, lookups, errors)
        if intake is not None:
            try:
                check = enrollment_intake_check(intake=intake, now=now)
            except ValidationError as exc:
                for key, messages in exc.message_dict.items():
                    column = _ERROR_COLUMNS.get(key, key)
                    errors.extend(CsvError(line, column, message) for message in messages)
            else:
                checked.append((line, intake, check.patient))
        if progress:
            progress("checking", done, len(rows))
    errors.extend(_duplicates(checked))
    if errors:
        raise _Refused(sorted(errors, key=lambda error: error.line))
    return [(line, intake) for line, intake, _ in checked]


def _duplicates(checked: Iterable[tuple[int, PatientIntake, Patient]]) -> list[CsvError]:
    """The same person twice in the file, or someone already a patient of the clinic."""
    def person(patient: Patient) -> tuple:
        contact = patient.mobile.as_e164 if patient.mobile else patient.email.lower()
        return (patient.clinic_id, patient.first_name.lower(), patient.last_name.lower(), contact)

    checked = list(checked)
    errors, first_line = [], {}
    for line, intake, patient in checked:
        key = (*person(patient), intake.program.pk)
        if key in first_line:
            errors.append(CsvError(line, "", f"the same patient and program as line {first_line[key]}."))
        first_line.setdefault(key, line)
    mobiles = {p.mobile.as_e164 for _, _, p in checked if p.mobile}
    emails = {p.email.lower() for _, _, p in checked if not p.mobile and p.email}
    clinic_ids = {p.clinic_id for _, _, p in checked}
    existing = {
        person(p) for p in Patient.objects.filter(
            Q(mobile__in=mobiles) | Q(email__in=emails), clinic_id__in=clinic_ids)
    } if checked else set()
    errors += [
        CsvError(line, "", "already a patient of this clinic (same name and contact); "
                           "enroll them with “Enroll in a program” on their page instead.")
        for line, _, patient in checked if person(patient) in existing
    ]
    return errors


def enrollment_csv_import(
    *,
    data: bytes,
    clinics: QuerySet[Clinic],
    imported_by: AbstractBaseUser | None = None,
    check_only: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> CsvImportResult:
    """Check every row of ``data``, then (unless ``check_only``) enroll them all in one transaction.

    ``clinics`` are those the importer may enroll for. Nothing is written when
    any row has a problem; ``result.errors`` lists them all.
    """
    now = now or timezone.now()
    result = CsvImportResult()
    try:
        rows = csv_rows_read(data=data)
        result.rows = len(rows)
        intakes = _check(rows, clinics=clinics, now=now, progress=progress)
        if check_only:
            return result
        # Checked above, row by row; written together (one transaction, in batches).
        result.enrolled = enrollments_bulk_write(
            intakes=[intake for _, intake in intakes], enrolled_by=imported_by, actor=ConsentActor.IMPORT,
            source="CSV import", now=now,
        ).enrollments
        if progress:
            progress("enrolling", len(intakes), len(intakes))
    except _Refused as refused:
        result.enrolled, result.errors = [], refused.errors
        logger.info("csv import refused: rows=%d errors=%d", result.rows, len(result.errors))
        return result
    logger.info("csv import enrolled %d patients (user %s)", len(result.enrolled),
                imported_by.pk if imported_by else "-")
    return result
