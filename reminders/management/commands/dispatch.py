import json

from django.core.management.base import BaseCommand

from reminders.services.dispatch import dispatch_cycle


class Command(BaseCommand):
    help = (
        "Run one dispatch cycle in the foreground: recover expired claims, claim due "
        "messages, send them, record the outcome. The last line is a JSON summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="Claim at most this many.")

    def handle(self, *args, limit=None, **options):
        summary = dispatch_cycle(limit=limit)
        self.stdout.write(json.dumps(summary.as_dict()))
