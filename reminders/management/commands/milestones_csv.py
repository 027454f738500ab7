from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from reminders.models import Clinic
from reminders.services.milestones_import import MILESTONE_ALL_COLUMN_NAMES, milestone_csv_import


class Command(BaseCommand):
    help = (
        "Record the milestones of a CSV file (the admin's upload columns: "
        + ", ".join(MILESTONE_ALL_COLUMN_NAMES)
        + "). Every row is checked first; one bad row records nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, comma separated, with a header).")
        parser.add_argument("--check", action="store_true", help="Only check the file; record nothing.")
        parser.add_argument("--user", help="User name recorded as having recorded the milestones.")

    def handle(self, *args, file: Path, check=False, user=None, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        recorded_by = None
        if user:
            recorded_by = get_user_model().objects.filter(username=user).first()
            if recorded_by is None:
                raise CommandError(f"No user named {user!r}.")
        result = milestone_csv_import(data=data, clinics=Clinic.objects.all(), recorded_by=recorded_by,
                                      check_only=check)
        if not result.ok:
            for error in result.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(result.errors)} problem(s) in {file.name}; nothing was recorded.")
        if check:
            self.stdout.write(f"{result.rows} rows checked: all can be recorded.")
        else:
            count = len(result.recorded)
            self.stdout.write(f"Recorded {count} milestone{'' if count == 1 else 's'} from {file.name}.")
