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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from ..models import AnchorEvent, Clinic, ConsentActor, Enrollment, Language, Patient, Program
from ..selectors.clinics import clinics_by_name_or_id
from ..selectors.patients import MatchKind, PatientMatch, patient_matches, patients_on_file
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
    ("mrn", "Optional: the clinic's medical record number (unique in the clinic)."),
    ("date_of_birth", "Optional: YYYY-MM-DD."),
]
# Columns a file may leave out (files written before they existed still read).
OPTIONAL_COLUMN_NAMES = ["mrn", "date_of_birth"]
COLUMN_NAMES = [name for name, _ in CSV_COLUMNS if name not in OPTIONAL_COLUMN_NAMES]
ALL_COLUMN_NAMES = [name for name, _ in CSV_COLUMNS]

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


class CsvRefused(Exception):
    """A file refused as a whole, or a file whose rows have problems: ``errors`` says each."""

    def __init__(self, errors: list[CsvError]) -> None:
        super().__init__("refused")
        self.errors = errors


def csv_template(*, columns: Sequence[str] = ALL_COLUMN_NAMES) -> str:
    """The header line of a CSV with ``columns`` (by default an enrollment CSV's), to fill in."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(columns)
    return out.getvalue()


def csv_size_problem(*, size: int) -> str:
    """Why a file of ``size`` bytes is refused ("" when it is not); callers may ask before reading it."""
    max_bytes = settings.CSV_IMPORT_MAX_BYTES
    if size <= max_bytes:
        return ""
    return (f"the file is {size / 1024:.0f} KB; at most {max_bytes / 1024:.0f} KB per file "
            "(split it into several files).")


def _csv_text(*, data: bytes) -> str:
    """The file as text. Raises CsvRefused when it is too large, not UTF-8 or empty."""
    if problem := csv_size_problem(size=len(data)):
        raise CsvRefused([CsvError(0, "", problem)])
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, as Excel writes, is dropped
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CsvRefused([CsvError(line, "", (
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be read); "
            "save it as “CSV UTF-8 (comma delimited)”."))]) from exc
    if not text.strip():
        raise CsvRefused([CsvError(0, "", "the file is empty; download the template and fill it in.")])
    return text


def _csv_header(reader, *, required: Sequence[str], optional: Sequence[str]) -> list[str]:
    """The header's column names. Raises CsvRefused with every problem of the header at once."""
    known = [*required, *optional]
    try:
        header = [name.strip().lower() for name in next(reader)]
    except csv.Error as exc:
        raise CsvRefused([CsvError(1, "", f"the header cannot be read: {exc}")]) from exc
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        raise CsvRefused([CsvError(1, "", "columns must be separated by commas, not semicolons or tabs.")])
    errors = [CsvError(1, name, "missing column") for name in required if name not in header]
    errors += [
        CsvError(1, name or f"#{index + 1}", f"unknown column (expected: {', '.join(known)})")
        for index, name in enumerate(header) if name not in known
    ]
    errors += [CsvError(1, name, "column appears twice") for name in sorted(
        {name for name in header if header.count(name) > 1})]
    if errors:
        raise CsvRefused(errors)
    return header


def _csv_data_rows(
    reader, *, header: list[str], optional: Sequence[str], rows_are: str,
) -> tuple[list[tuple[int, dict[str, str]]], list[CsvError]]:
    """The rows after the header, by column name (optional columns left out read as empty),
    blank lines left out, and the problem of each row that cannot be read. Raises CsvRefused
    when there are no rows or too many."""
    rows, errors = [], []
    absent = {name: "" for name in optional if name not in header}
    try:
        for values in reader:
            line = reader.line_num
            if not any(value.strip() for value in values):
                continue  # blank lines, including Excel's trailing ",,,"
            if len(values) != len(header):
                errors.append(CsvError(line, "", f"{len(values)} values, expected {len(header)} (one per column)"))
                continue
            rows.append((line, {**absent, **{name: value.strip() for name, value in zip(header, values, strict=True)}}))
    except csv.Error as exc:
        errors.append(CsvError(reader.line_num, "", f"cannot be read: {exc}"))
    if not rows and not errors:
        raise CsvRefused([CsvError(0, "", f"the file has a header but no {rows_are}.")])
    max_rows = settings.CSV_IMPORT_MAX_ROWS
    if len(rows) + len(errors) > max_rows:
        raise CsvRefused([CsvError(0, "", f"the file has {len(rows) + len(errors)} {rows_are}; "
                                          f"at most {max_rows} per file.")])
    return rows, errors


def csv_rows_read(
    *, data: bytes, required: Sequence[str] = COLUMN_NAMES, optional: Sequence[str] = OPTIONAL_COLUMN_NAMES,
    rows_are: str = "patients",
) -> tuple[list[tuple[int, dict[str, str]]], list[CsvError]]:
    """The data rows of a file, with their line numbers, and the rows that cannot be read.

    ``required`` and ``optional`` are the file's columns (by default an enrollment
    CSV's; an optional column left out reads as empty); ``rows_are`` names what a
    row is in the messages ("patients"). Raises CsvRefused on a file-level problem.
    """
    reader = csv.reader(io.StringIO(_csv_text(data=data), newline=""))
    header = _csv_header(reader, required=required, optional=optional)
    return _csv_data_rows(reader, header=header, optional=optional, rows_are=rows_are)


class _Lookups:
    """Clinics and programs by name, read once per file."""

    def __init__(self, clinics: QuerySet[Clinic]) -> None:
        self.clinics = clinics_by_name_or_id(clinics=clinics)
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


def _optional_date(value: str, *, column: str, errors: list[CsvError], line: int) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(CsvError(line, column, f"“{value}” is not a date as YYYY-MM-DD."))
        return None


def _intake(line: int, row: dict[str, str], lookups: _Lookups, errors: list[CsvError]) -> tuple[PatientIntake, set]:
    """The row as an intake, and the columns refused here (their values are None in the intake)."""
    found = len(errors)
    clinic = lookups.clinics.get(row["clinic"].lower())
    if clinic is None:
        errors.append(CsvError(line, "clinic", f"no clinic “{row['clinic']}” that you can enroll for."
                               if row["clinic"] else "required."))
    program = lookups.programs.get(row["program"].lower())
    if program is None:
        errors.append(CsvError(line, "program", f"no program “{row['program']}”."
                               if row["program"] else "required."))
    anchor_event = row["anchor_event"].lower()
    if anchor_event not in AnchorEvent.values:
        errors.append(CsvError(line, "anchor_event", f"must be one of {', '.join(AnchorEvent.values)}."))
        anchor_event = None
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
    date_of_birth = _optional_date(row["date_of_birth"], column="date_of_birth", errors=errors, line=line)
    refused = {error.column for error in errors[found:]}
    return PatientIntake(
        clinic=clinic, first_name=row["first_name"], last_name=row["last_name"], mobile=row["mobile"],
        email=row["email"], sms_consent=sms, email_consent=email, discreet=discreet,
        time_zone=row["time_zone"], language=language, program=program,
        anchor_event=anchor_event, anchor_date=anchor_date, mrn=row["mrn"], date_of_birth=date_of_birth,
    ), refused


# Where an error from the intake's validation belongs in the file.
_ERROR_COLUMNS = {NON_FIELD_ERRORS: "", "patient": "mobile/email"}


def _check(
    rows: list[tuple[int, dict[str, str]]], *, clinics: QuerySet[Clinic], now: datetime,
    progress: Progress | None, errors: list[CsvError],
) -> list[tuple[int, PatientIntake]]:
    """Every row checked, every problem of every row added to ``errors`` (with those of
    rows that could not be read); raises CsvRefused with them all."""
    lookups = _Lookups(clinics)
    checked: list[tuple[int, PatientIntake, Patient]] = []
    for done, (line, row) in enumerate(rows, start=1):
        intake, refused = _intake(line, row, lookups, errors)
        try:
            check = enrollment_intake_check(intake=intake, now=now, unchecked=refused, find_duplicates=False)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                column = _ERROR_COLUMNS.get(key, key)
                errors.extend(CsvError(line, column, message) for message in messages)
        else:
            if not refused:
                checked.append((line, intake, check.patient))
        if progress:
            progress("checking", done, len(rows))
    errors.extend(_duplicates(checked))
    if errors:
        raise CsvRefused(sorted(errors, key=lambda error: error.line))
    return [(line, intake) for line, intake, _ in checked]


ENROLL_EXISTING = "to enroll a patient on file in a program, use “Enroll in a program” on their page"


def _duplicates(checked: Iterable[tuple[int, PatientIntake, Patient]]) -> list[CsvError]:
    """The same person, mobile or record number twice in the file, or already on file in the
    clinic. A file cannot confirm a shared family phone: such a patient is enrolled on the
    enroll page, which asks."""
    def person(patient: Patient) -> tuple:
        contact = patient.mobile.as_e164 if patient.mobile else patient.email.lower()
        return (patient.clinic_id, patient.first_name.lower(), patient.last_name.lower(), contact)

    checked = list(checked)
    errors: list[CsvError] = []
    first_person, first_mobile, first_mrn = {}, {}, {}
    for line, intake, patient in checked:
        key = (*person(patient), intake.program.pk)
        mobile = (patient.clinic_id, patient.mobile.as_e164) if patient.mobile else None
        mrn = (patient.clinic_id, patient.mrn) if patient.mrn else None
        if key in first_person:
            errors.append(CsvError(line, "", f"the same patient and program as line {first_person[key]}."))
        elif mobile in first_mobile:
            errors.append(CsvError(line, "mobile", (
                f"the same mobile as line {first_mobile[mobile]}: each patient would get every text twice. "
                "For a shared family phone, enroll the second patient on the “Enroll a new patient” page.")))
        if mrn in first_mrn:
            errors.append(CsvError(line, "mrn", f"the same medical record number as line {first_mrn[mrn]}."))
        first_person.setdefault(key, line)
        if mobile:
            first_mobile.setdefault(mobile, line)
        if mrn:
            first_mrn.setdefault(mrn, line)
    on_file = patients_on_file(candidates=[patient for _, _, patient in checked])
    for line, _, patient in checked:
        for match in patient_matches(candidate=patient, on_file=on_file):
            errors.append(_on_file_error(line, match))
    return errors


def _on_file_error(line: int, match: PatientMatch) -> CsvError:
    pk = match.patient.pk
    if match.kind == MatchKind.MRN:
        return CsvError(line, "mrn", f"medical record number already on file for patient {pk} of this clinic; "
                                     f"{ENROLL_EXISTING}.")
    if match.kind == MatchKind.SAME_PERSON:
        return CsvError(line, "", f"already a patient of this clinic (same name and contact); patient {pk}: "
                                  f"{ENROLL_EXISTING}.")
    return CsvError(line, "mobile", (
        f"already on file for patient {pk} of this clinic, under another name: each would get every text. "
        f"If it is the same person, {ENROLL_EXISTING}; for a shared family phone, enroll this patient on "
        "the “Enroll a new patient” page, which asks to confirm."))


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
        rows, unreadable = csv_rows_read(data=data)
        result.rows = len(rows) + len(unreadable)
        intakes = _check(rows, clinics=clinics, now=now, progress=progress, errors=unreadable)
        if check_only:
            return result
        # Checked above, row by row; written together (one transaction, in batches).
        result.enrolled = enrollments_bulk_write(
            intakes=[intake for _, intake in intakes], enrolled_by=imported_by, actor=ConsentActor.IMPORT,
            source="CSV import", now=now,
        ).enrollments
        if progress:
            progress("enrolling", len(intakes), len(intakes))
    except CsvRefused as refused:
        result.enrolled, result.errors = [], refused.errors
        logger.info("csv import refused: rows=%d errors=%d", result.rows, len(result.errors))
        return result
    logger.info("csv import enrolled %d patients (user %s)", len(result.enrolled),
                imported_by.pk if imported_by else "-")
    return result
