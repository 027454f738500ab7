"""
Figure 5, bulk enrollment: 10,000 patients from a CSV file, with all their
messages planned, through the bulk enrollment service.

The CSV is read here with the standard library; the admin's CSV importer
(another branch) is to feed the same service.
"""

import csv
import io
import time
from datetime import date, timedelta

from django.db import connection
from django.utils import timezone

from ..models import Program
from ..services.bulk import BulkEnrollmentRow, enrollments_bulk_create
from .environment import BenchTarget, bench_clinic, data_wipe
from .report import Figure

COLUMNS = ["first_name", "last_name", "mobile", "email", "sms_consent", "email_consent", "language", "program",
           "anchor_event", "anchor_date"]


def letters(number: int) -> str:
    """A distinct name part per number, in letters only (names hold no digits)."""
    word = ""
    while True:
        number, rest = divmod(number, 26)
        word = "abcdefghijklmnopqrstuvwxyz"[rest] + word
        if not number:
            return word.capitalize()


def csv_text(*, patients: int, today: date) -> str:
    """A clinic network's list: half after a procedure, half after a diagnosis; a third also by email."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for i in range(patients):
        procedure = i % 2 == 0
        writer.writerow([
            "Pat", f"Bench {letters(i)}", f"+1202{2000000 + i:07d}", f"pat{i}@example.org" if i % 3 == 0 else "",
            "yes", "yes" if i % 3 == 0 else "no", "es" if i % 5 == 0 else "en",
            "after-procedure" if procedure else "after-diagnosis", "pvp" if procedure else "diagnosis",
            (today - timedelta(days=i % 7)).isoformat(),
        ])
    return out.getvalue()


def rows_read(*, text: str) -> list[BulkEnrollmentRow]:
    programs = {p.slug: p for p in Program.objects.all()}
    return [
        BulkEnrollmentRow(
            first_name=r["first_name"], last_name=r["last_name"], mobile=r["mobile"], email=r["email"],
            sms_consent=r["sms_consent"] == "yes", email_consent=r["email_consent"] == "yes",
            language=r["language"], program=programs[r["program"]], anchor_event=r["anchor_event"],
            anchor_date=date.fromisoformat(r["anchor_date"]),
        )
        for r in csv.DictReader(io.StringIO(text))
    ]


def figure_enrollment(*, target: BenchTarget, fake, sizes: dict) -> Figure:
    data_wipe(target=target)
    clinic = bench_clinic()
    n = sizes["enrollment_patients"]
    text = csv_text(patients=n, today=timezone.now().date())
    started = time.perf_counter()
    rows = rows_read(text=text)
    read = time.perf_counter() - started
    result = enrollments_bulk_create(clinic=clinic, rows=rows)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM reminders_message")
        messages, pending = cursor.fetchone()
    ok = result.ok and result.enrollments == n and messages == result.messages
    return Figure(
        number=5, name="Bulk enrollment",
        result=f"{n:,} patients, {result.messages:,} messages planned in {elapsed:.1f} s "
               f"({n / elapsed:,.0f} patients/s)",
        goal="<= 30 s on PostgreSQL",
        met=ok and elapsed <= 30,
        details={
            "CSV rows read": f"{n:,} in {read:.2f} s",
            "checked, then written in one transaction": f"{elapsed - read:.1f} s",
            "patients / enrollments / messages written": f"{result.patients:,} / {result.enrollments:,} / "
                                                        f"{messages:,} ({pending:,} pending)",
            "path": "reminders.services.bulk.enrollments_bulk_create: every row checked like one enrollment, "
                    "then bulk inserts in batches of 2,000 with audit history and the consent ledger",
            "row errors": len(result.errors),
        },
    )
