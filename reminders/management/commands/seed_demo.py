from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from reminders.selectors.clinic_scoping import demo_has_data
from reminders.services.demo import demo_seed


class Command(BaseCommand):
    help = "Create demo clinics, logins and patients whose first messages fall due within a minute."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DJANGO_DEBUG off.")
        parser.add_argument("--if-empty", action="store_true",
                            help="Only into a database without clinics (make run: a restart keeps the demo as it was).")

    def handle(self, *args, force=False, if_empty=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to create demo logins with DJANGO_DEBUG off; pass --force if you mean it."
            )
        password = settings.DEMO_PASSWORD
        if if_empty and demo_has_data():
            self.stdout.write(
                "The database has data already, so the demo was left as it is (make demo-reset starts it anew).\n"
                f"Admin: {settings.PUBLIC_BASE_URL}/admin/\n"
                f"Demo logins (password {password}, unless changed): admin, coord-a, coord-b"
            )
            return
        try:
            result = demo_seed(password=password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"Demo ready: {result.clinics} clinics, {result.patients} patients, "
            f"{result.due_soon} messages due within a minute, {result.replies} replies, "
            f"{result.open_escalations} open escalation(s).\n"
            f"Admin: {settings.PUBLIC_BASE_URL}/admin/\n"
            f"Logins (password {password}): admin (superuser, every clinic), "
            f"coord-a (clinic A only), coord-b (clinic B only)"
        )
        if result.kept_logins:
            self.stdout.write(
                f"Already there, so left as they were (their own password): {', '.join(result.kept_logins)}"
            )
