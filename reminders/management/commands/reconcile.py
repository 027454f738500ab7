import json
import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from reminders.selectors.reconciliation import default_reconciliation_day, reconciliation_for_day


class Command(BaseCommand):
    help = (
        "Per clinic and channel, the messages planned for a day (each clinic's local day) and what "
        "became of them: sent, delivered, failed, skipped, cancelled, still pending or unknown; "
        "flags what does not add up or is stuck. Counts only. Exits 1 when anything is flagged."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="day", help="The day, YYYY-MM-DD (default: yesterday, UTC).")
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print JSON, not a table.")

    def handle(self, *args, day=None, as_json=False, **options):
        result = reconciliation_for_day(day=_parse_day(day) if day else default_reconciliation_day())
        self.stdout.write(json.dumps(result.as_dict(), indent=2) if as_json else result.as_table())
        if result.flagged:
            sys.exit(1)


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}.") from None
