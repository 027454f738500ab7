import csv
import json
import re
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from reminders.models import Clinic
from reminders.selectors.clinics import clinic_by_name_or_id
from reminders.selectors.fls_audit import fls_audit, fls_audit_problems

# The selector's names for the arguments, as typed.
OPTIONS = {"date_from": "--from", "date_to": "--to", "as_of": "--as-of"}
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Command(BaseCommand):
    help = (
        "The fracture liaison audit of a clinic: of the patients whose anchor date lies in the period "
        "(the earliest enrollment of each), the share with a consultation within the clinic's target, "
        "a bone density scan within 12 weeks, bone medicine started and a monitoring contact within 16 "
        "weeks, and still on medicine at 52 weeks, graded red, amber or green. Counts only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clinic", required=True, help="The clinic's name or id, as in enroll_csv.")
        parser.add_argument("--from", dest="date_from", required=True, help="First anchor date, YYYY-MM-DD.")
        parser.add_argument("--to", dest="date_to", required=True, help="Last anchor date, YYYY-MM-DD (included).")
        parser.add_argument(
            "--as-of", dest="as_of", help="Windows closed by this day, YYYY-MM-DD (default: today, clinic's zone)."
        )
        output = parser.add_mutually_exclusive_group()
        output.add_argument("--json", dest="as_json", action="store_true", help="Print JSON, not a table.")
        output.add_argument("--csv", dest="as_csv", action="store_true", help="Print CSV, not a table.")

    def handle(self, *args, clinic, date_from, date_to, as_of=None, as_json=False, as_csv=False, **options):
        found = clinic_by_name_or_id(text=clinic, clinics=Clinic.objects.all())
        if found is None:
            raise CommandError(f"--clinic: no clinic named {clinic!r} or with that id.")
        days = {
            "date_from": _parse_day(date_from, option="--from"),
            "date_to": _parse_day(date_to, option="--to"),
            "as_of": None if as_of is None else _parse_day(as_of, option="--as-of"),
        }
        problems = fls_audit_problems(clinic=found, **days)
        if problems:
            raise CommandError(" ".join(f"{OPTIONS[name]}: {problem}" for name, problem in problems.items()))
        audit = fls_audit(clinic=found, **days)
        if as_json:
            self.stdout.write(json.dumps(audit.as_dict(), indent=2))
        elif as_csv:
            csv.writer(self.stdout, lineterminator="\n").writerows(audit.csv_rows())
        else:
            self.stdout.write(audit.as_table())


def _parse_day(value: str, *, option: str) -> date:
    try:
        if DAY.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise CommandError(f"{option} must be a date as YYYY-MM-DD, not {value!r}.")
