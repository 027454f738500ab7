import json

from django.core.management.base import BaseCommand, CommandError

from reminders.models import Clinic
from reminders.selectors.clinics import clinic_by_name_or_id
from reminders.selectors.patient_records import patient_by_mrn
from reminders.selectors.patient_timeline import ANCHOR, PatientTimeline, patient_timeline


def _table(rows: list[list[str]]) -> list[str]:
    """Rows as aligned columns, two spaces apart (the last column as it is)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
            for row in rows]


class Command(BaseCommand):
    help = ("A patient's milestones and each enrollment's messages, with times in the patient's zone; "
            "--json for scripts.")

    def add_arguments(self, parser):
        parser.add_argument("--clinic", required=True, help="The clinic's name or id.")
        parser.add_argument("--mrn", required=True, help="The patient's medical record number in that clinic.")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a readable timeline.")

    def handle(self, *args, clinic: str, mrn: str, **options):
        found = clinic_by_name_or_id(text=clinic, clinics=Clinic.objects.all())
        if found is None:
            raise CommandError(f"No clinic named {clinic!r} or with that id.")
        patient = patient_by_mrn(clinic=found, mrn=mrn)
        if patient is None:
            raise CommandError(f"No patient with medical record number {mrn!r} in {found.name}.")
        timeline = patient_timeline(patient=patient)
        if options["json"]:
            self.stdout.write(json.dumps(timeline.as_dict(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write("\n".join(self._readable(timeline)))

    @staticmethod
    def _readable(timeline: PatientTimeline) -> list[str]:
        patient = timeline.patient
        lines = [f"Patient {patient.pk} of {patient.clinic.name}; times in {timeline.zone.key}.", "", "Milestones:"]
        milestones = [[
            f"{m.date:%Y-%m-%d}" + (f" {m.time:%H:%M}" if m.time else ""), m.kind,
            f"recorded by {m.recorded_by}" if m.recorded_by else f"from {m.milestone.get_source_display().lower()}",
        ] for m in timeline.milestones]
        lines += [f"  {line}" for line in _table(milestones)] or ["  none recorded"]
        for entry in timeline.enrollments:
            enrollment = entry.enrollment
            lines += ["", f"{entry.program}: {enrollment.get_status_display().lower()}, "
                          f"anchor {enrollment.anchor_event} on {enrollment.anchor_date:%Y-%m-%d}"]
            messages = [[
                f"{m.scheduled_local:%Y-%m-%d %H:%M %Z}", m.step, m.channel, m.topic,
                "" if m.relative_to == ANCHOR else f"from {m.relative_to}",
                m.status + (f": {m.reason}" if m.reason else ""),
            ] for m in entry.messages]
            lines += [f"  {line}" for line in _table(messages)] or ["  no messages"]
        if not timeline.enrollments:
            lines += ["", "Not enrolled in any program."]
        return lines
