from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reminders.models import Clinic
from reminders.services.csv_import import COLUMN_NAMES, enrollment_csv_import


class Command(BaseCommand):
    help = (
        "Enroll the patients of a CSV file (the admin's upload columns: "
        + ", ".join(COLUMN_NAMES)
        + "). Every row is checked first; one bad row enrolls nobody."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, comma separated, with a header).")
        parser.add_argument("--check", action="store_true", help="Only check the file; enroll nobody.")
        parser.add_argument("--user", help="User name recorded as having enrolled the patients.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, file: Path, check=False, user=None, no_progress=False, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        imported_by = None
        if user:
            imported_by = get_user_model().objects.filter(username=user).first()
            if imported_by is None:
                raise CommandError(f"No user named {user!r}.")

        bars: dict[str, tqdm] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if no_progress:
                return
            bar = bars.get(phase)
            if bar is None:
                # tqdm draws with carriage returns: give it the raw stream, not
                # Django's wrapper, which would end every update with a newline.
                bar = bars[phase] = tqdm(total=total, desc=phase.capitalize(), unit="row",
                                         file=self.stderr._out, leave=True)
            bar.update(done - bar.n)

        try:
            result = enrollment_csv_import(
                data=data, clinics=Clinic.objects.all(), imported_by=imported_by,
                check_only=check, progress=progress,
            )
        finally:
            for bar in bars.values():
                bar.close()
        if not result.ok:
            for error in result.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(result.errors)} problem(s) in {file.name}; nobody was enrolled.")
        if check:
            self.stdout.write(f"{result.rows} rows checked: all can be enrolled.")
        else:
            self.stdout.write(f"Enrolled {len(result.enrolled)} patients from {file.name}.")
