import json
import shlex
import sys

from django.core.management.base import BaseCommand, CommandError

from harness.bench.environment import BenchRefused
from harness.bench.report import markdown, table
from harness.bench.runner import benchmarks_run


class Command(BaseCommand):
    help = (
        "Run the benchmarks (issues 6 and 15) on PostgreSQL, Redis, real Celery worker and beat processes and "
        "the Twilio fake; print a table, or JSON with --json. Needs DATABASE_URL naming a database with "
        "a name starting with 'bench' (made anew for each run, wiped between figures) and REDIS_URL with a db "
        "of its own."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the figures as JSON.")
        parser.add_argument("--quick", action="store_true", help="Smoke mode for CI: sizes cut about 100 times.")
        parser.add_argument("--markdown", dest="markdown_path", metavar="PATH",
                            help="Also write the report as Markdown to this file.")
        parser.add_argument("--only", metavar="N,N", help="Run only these figures, e.g. 3,6.")

    def handle(self, *args, as_json=False, quick=False, markdown_path=None, only=None, **options):
        wanted = {int(n) for n in only.split(",")} if only else None
        # With --json the progress goes to stderr, so that stdout is only the JSON.
        out = self.stderr if as_json else self.stdout
        try:
            report = benchmarks_run(quick=quick, only=wanted, progress=out.write)
        except BenchRefused as exc:
            raise CommandError(str(exc)) from exc
        if markdown_path:
            command = shlex.join(["python", "manage.py", "bench", *sys.argv[2:]])
            with open(markdown_path, "w") as file:
                file.write(markdown(report, command=command))
            out.write(f"wrote {markdown_path}")
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        else:
            self.stdout.write("\n" + table(report))
        if failure := report.failure():
            raise CommandError(failure)
