from django.core.management.base import BaseCommand

from reminders.services.programs import programs_load


class Command(BaseCommand):
    help = "Create or update the care programs from reminders/programs/*.toml (idempotent)."

    def handle(self, *args, **options):
        for result in programs_load():
            state = "updated" if result.changed else "unchanged"
            self.stdout.write(
                f"{result.program.slug}: version {result.program.version}, "
                f"{result.program.steps.count()} steps, {state}"
            )
