import json
import textwrap

from django.core.management.base import BaseCommand, CommandError

from reminders.models import Language, MilestoneKind, Program
from reminders.selectors.programs import program_preview, programs_from_files
from reminders.program_files import PROGRAMS_DIR


class Command(BaseCommand):
    help = (
        "Print every message of every program, in every language and channel, rendered for a "
        "sample clinic and patient (in memory: nothing is written), a reminder timed from an appointment "
        "for a sample one (a consultation on the clinic's target day, a bone density scan at 6 weeks, at "
        "10:30), with what stops each step and what a check-in's answer records. For a physician's review."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="One JSON array of messages.")
        parser.add_argument("--program", action="append", metavar="SLUG",
                            help="Only this program (repeatable).")
        parser.add_argument("--language", action="append", choices=Language.values,
                            help="Only this language (repeatable).")
        parser.add_argument("--discreet", action="store_true",
                            help="Render for a patient who asked for discreet SMS.")
        parser.add_argument("--files", action="store_true",
                            help=f"Read the programs from {PROGRAMS_DIR.name}/*.toml instead of the "
                                 "database, to review them before loading.")
        parser.add_argument("--html", action="store_true", help="Include the emails' HTML (JSON only).")

    def handle(self, *args, **options):
        programs = self._programs(files=options["files"], wanted=set(options["program"] or []))
        if not programs and not options["json"]:
            self.stderr.write("No programs: run `manage.py load_programs`, or pass --files.")
        languages = options["language"] or list(Language.values)
        rows = [
            row
            for program, steps in programs
            for language in languages
            for row in program_preview(program=program, language=language,
                                       discreet=options["discreet"], steps=steps)
        ]
        if options["json"]:
            self.stdout.write(json.dumps([row.as_dict(html=options["html"]) for row in rows],
                                         ensure_ascii=False, indent=2))
            return
        heading = None
        for row in rows:
            if (row.program, row.language) != heading:
                heading = (row.program, row.language)
                self.stdout.write(self.style.MIGRATE_HEADING(f"\n== {row.program} · {row.language} =="))
            self._write_row(row)

    @staticmethod
    def _programs(*, files: bool, wanted: set[str]) -> list:
        """(program, steps read from its file or None) for the programs asked for."""
        if files:
            programs = programs_from_files(paths=PROGRAMS_DIR.glob("*.toml"))
        else:
            programs = [(p, None) for p in Program.objects.filter(is_active=True).order_by("slug")]
        if wanted:
            programs = [(p, steps) for p, steps in programs if p.slug in wanted]
            missing = wanted - {p.slug for p, _ in programs}
            if missing:
                raise CommandError(f"no such program: {', '.join(sorted(missing))}")
        return programs

    def _write_row(self, row) -> None:
        """One message as a reviewer reads it: its facts on a line, then its text, wrapped. A reminder
        says when it goes from its appointment (a sample one); a step that listens to the patient's road
        says what stops it and what its answers record."""
        facts = [f"day {row.day}", row.time, row.channel, row.topic]
        if row.relative_to:
            facts.insert(0, f"{row.when} (sample appointment {row.appointment})")
        if row.asks:
            facts.append(f"asks {row.asks}")
        if row.until:
            facts.append(f"stops at: {', '.join(_kind_words(kind) for kind in row.until)}")
        for answer, kind in sorted(row.records.items()):
            facts.append(f"answer {answer} records: {_kind_words(kind)}")
        if row.channel == "sms":
            facts.append(f"{row.encoding}, {row.segments} segment(s), {row.characters} chars")
        if row.is_first_message:
            facts.append("first SMS")
        self.stdout.write("\n" + " · ".join(facts))
        if row.subject:
            self.stdout.write(f"  Subject: {row.subject}")
        for line in row.text.splitlines() or [""]:
            for part in textwrap.wrap(line, width=96) or [""]:
                self.stdout.write(f"  {part}")


def _kind_words(kind: str) -> str:
    """A milestone kind as people say it: "consultation booked"."""
    return str(MilestoneKind(kind).label).lower() if kind in MilestoneKind.values else kind
