import json
import os
import signal
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from harness.processes import RunLocked
from harness.faults.database import DEFAULT_URL, ChaosDatabaseError, database_config, database_version
from harness.faults.runner import FULL, QUICK, chaos_run
from harness.faults.report import report_write, results_markdown, results_table
from harness.faults.scenarios import SCENARIOS, SCENARIOS_BY_NAME


def _terminate(signum, frame):
    # Unwind through the harness's finally blocks, which stop every process it started.
    sys.exit(128 + signum)


class Command(BaseCommand):
    help = (
        "Run the fault scenarios on real processes (Celery worker and beat, a Redis server of their "
        "own, PostgreSQL, the fake Twilio server, a web server for status callbacks) and check the "
        "invariants. Needs PostgreSQL and redis-server. Exits 1 when an invariant fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true",
                            help="A few hundred messages per scenario and short leases (CI).")
        parser.add_argument("--scenario", action="append", choices=list(SCENARIOS_BY_NAME), metavar="NAME",
                            help=f"Only this scenario; may be repeated. One of: {', '.join(SCENARIOS_BY_NAME)}.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the results as JSON.")
        parser.add_argument("--report", type=Path, metavar="FILE",
                            help="Write the results into this Markdown file (e.g. RELIABILITY.md).")
        parser.add_argument("--database-url", default=os.environ.get("CHAOS_DATABASE_URL", DEFAULT_URL),
                            help="PostgreSQL database to drop and recreate for each scenario; its name must "
                                 f"begin with 'chaos' (default: CHAOS_DATABASE_URL or {DEFAULT_URL}).")

    def handle(self, *args, quick=False, scenario=None, as_json=False, report=None, database_url=DEFAULT_URL,
               **options):
        signal.signal(signal.SIGTERM, _terminate)
        chosen = [SCENARIOS_BY_NAME[name] for name in scenario] if scenario else SCENARIOS
        try:
            config = database_config(url=database_url)
            results = chaos_run(scenarios=chosen, sizes=QUICK if quick else FULL, url=database_url,
                                say=lambda text: self.stderr.write(text))
        except (ChaosDatabaseError, RunLocked) as exc:
            raise CommandError(str(exc)) from exc
        if report:
            report_write(path=report, markdown=results_markdown(
                results=results, sizes=QUICK if quick else FULL, quick=quick,
                postgres=database_version(config=config)))
        if as_json:
            self.stdout.write(json.dumps([result.as_dict() for result in results], indent=2, default=str))
        else:
            self.stdout.write(results_table(results))
            for result in results:
                for check in result.checks:
                    if not check.ok:
                        self.stdout.write(f"{result.name}: {check.name}: {check.detail}")
                if result.error:
                    self.stdout.write(f"{result.name}: harness error: {result.error}")
        failed = [result.name for result in results if not result.ok]
        if failed:
            raise CommandError(f"invariants not met in: {', '.join(failed)}")
