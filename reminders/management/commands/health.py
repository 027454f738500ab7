import json
import sys

from django.core.management.base import BaseCommand

from reminders.selectors.health import health_report
from reminders.services.health import ops_alerts_check


class Command(BaseCommand):
    help = (
        "Check the database, Redis, the last dispatch cycle beat started and the oldest due "
        "message not yet sent. Prints the report as JSON; exits 1 when anything is unhealthy."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--alert", action="store_true",
            help="Also email OPS_ALERT_EMAIL about new and recovered incidents (run it from cron, "
                 "so a stopped beat is noticed by something other than beat).",
        )

    def handle(self, *args, alert=False, **options):
        report = health_report()
        if alert:
            ops_alerts_check(report=report)
        self.stdout.write(json.dumps(report.as_dict(), indent=2))
        if not report.ok:
            sys.exit(1)
