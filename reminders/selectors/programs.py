"""
A program's timeline as its patients would read it, rendered without touching the database.

``program_preview`` builds unsaved Clinic, Patient, Enrollment and Message
objects in memory and renders every step and channel through
``reminders.rendering``, the code that renders real messages at send time.
The ``render_programs`` command prints it for a physician's review; the admin
can show the same rows for a program or for one patient's enrollment.

A step timed from an appointment (a reminder the evening before a booked
consultation or bone density scan) is rendered for a sample appointment: the
consultation on the clinic's target day, the scan at 6 weeks, both at 10:30.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.utils import timezone

from .. import rendering
from ..sms_encoding import sms_cost
from ..program_files import program_file_read, step_fields
from ..models import (
    ANCHOR_EVENTS_BY_KIND,
    AnswerKind,
    Channel,
    Clinic,
    Enrollment,
    Message,
    Milestone,
    MilestoneKind,
    Patient,
    Program,
    Step,
    step_title,
)
from ..planning import appointment_moment
from ..scheduling import local_send_time

SAMPLE_UNSUBSCRIBE_URL = "https://followup.example/u/sample-token"
# The sample appointments a reminder is previewed for: a consultation on the clinic's target day
# (clinic.consultation_target_days), a bone density scan at 6 weeks (due within 12), at this time.
SAMPLE_DXA_DAYS = 42
SAMPLE_APPOINTMENT_TIME = time(10, 30)


@dataclass(frozen=True)
class PreviewRow:
    """One message of a program's timeline, rendered."""

    program: str  # the program's slug
    step: str  # the step's key
    day: int
    time: str  # local send time, "HH:MM"
    topic: str
    channel: str  # "sms" or "email"
    language: str
    is_first_message: bool  # the first SMS of the enrollment: it carries the intro notice
    asks: str  # the answer a check-in asks for ("" when none)
    subject: str  # email only
    text: str  # the SMS as sent, or the email's plain-text body
    html: str  # email only
    encoding: str | None  # SMS only: "GSM-7" or "UCS-2"
    segments: int | None  # SMS only
    characters: int
    send_at: datetime | None = None  # local time in the patient's zone, when an anchor date is given
    # When the step goes out in words: "Day 7", or "1 day before consultation booked" for a step
    # timed from an appointment (relative_to: the milestone; appointment: the sample one, "YYYY-MM-DD HH:MM").
    when: str = ""
    relative_to: str = ""
    appointment: str = ""
    # The milestones that stop the step, and the milestones its answers record ({"1": "dxa_done"}).
    until: list[str] = field(default_factory=list)
    records: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The step in words ("Welcome / warning signs"), not its internal names."""
        return step_title(key=self.step, topic=self.topic)

    @property
    def asks_label(self) -> str:
        return str(AnswerKind(self.asks).label) if self.asks in AnswerKind.values and self.asks else self.asks

    @property
    def until_label(self) -> str:
        """What stops the step, in words: "consultation booked, consultation attended"."""
        return ", ".join(_kind_words(kind) for kind in self.until)

    @property
    def records_label(self) -> str:
        """What its answers record, in words: "1: consultation attended"."""
        return "; ".join(f"{answer}: {_kind_words(kind)}" for answer, kind in sorted(self.records.items()))

    def as_dict(self, *, html: bool = False) -> dict:
        row = asdict(self)
        if not html:
            row.pop("html")
        row["send_at"] = self.send_at.isoformat() if self.send_at else None
        return row


def sample_clinic() -> Clinic:
    """An unsaved clinic with every setting the templates quote filled in."""
    return Clinic(
        name="Riverside Spine and Bone Clinic",
        phone="+12025550143",
        time_zone="America/New_York",
        emergency_number="911",
        after_hours_phone="+12025550199",
        lifting_limit="nothing heavier than a gallon of milk for 6 weeks",
        driving_advice="no driving for 2 weeks, and never while you take opioid pain medicine",
        consultation_target_days=14,
        address="1250 Riverside Avenue, Suite 400",
    )


def sample_patient(*, clinic: Clinic, language: str, discreet: bool = False) -> Patient:
    """An unsaved patient of ``clinic`` who reads ``language``."""
    first, last = ("Dolores", "Ramírez") if language == "es" else ("Margaret", "Okafor")
    return Patient(
        clinic=clinic, first_name=first, last_name=last, mobile="+12025550101",
        email="patient@example.com", language=language, discreet=discreet,
        sms_consent=True, email_consent=True,
    )


def sample_appointments(*, clinic: Clinic, anchor_date: date) -> dict[str, Milestone]:
    """The appointments a preview times and renders reminders for (unsaved), by milestone kind."""
    return {
        MilestoneKind.CONSULTATION_BOOKED: Milestone(
            kind=MilestoneKind.CONSULTATION_BOOKED, time=SAMPLE_APPOINTMENT_TIME,
            date=anchor_date + timedelta(days=clinic.consultation_target_days)),
        MilestoneKind.DXA_BOOKED: Milestone(
            kind=MilestoneKind.DXA_BOOKED, time=SAMPLE_APPOINTMENT_TIME,
            date=anchor_date + timedelta(days=SAMPLE_DXA_DAYS)),
    }


def _send_moment(*, step: Step, anchor_date: date, appointment: Milestone | None, zone) -> datetime:
    """When ``step`` goes out (UTC), before quiet hours: from the anchor, or from its appointment."""
    if appointment is None:
        return local_send_time(anchor_date=anchor_date, offset_days=step.offset_days, send_time=step.send_time,
                               zone=zone)
    moment = appointment_moment(milestone=appointment, step=step, zone=zone)
    if moment is None:  # "2 hours before" an appointment without a time: placed on its day
        moment = local_send_time(anchor_date=appointment.date, offset_days=0, send_time=time(0), zone=zone)
    return moment


def render_preview_message(
    *, message: Message, is_first_message: bool, unsubscribe_url: str = ""
) -> rendering.RenderedMessage:
    """Render an unsaved ``message`` as ``render_message`` would, with the context facts
    that depend on the enrollment's history given here: whether it is the first SMS, and
    the unsubscribe link (a preview never carries a patient's working link, so that staff
    looking at a timeline cannot unsubscribe the patient by a click).
    Raises ``rendering.RenderError``."""
    return rendering.render_message(message=message, context_overrides={
        "is_first_message": is_first_message,
        "unsubscribe_url": unsubscribe_url if message.channel == Channel.EMAIL else "",
    })


def program_preview(
    *,
    program: Program,
    language: str,
    clinic: Clinic | None = None,
    patient: Patient | None = None,
    discreet: bool = False,
    steps: Sequence[Step] | None = None,
    first_sms_step: str | None = None,
    unsubscribe_url: str = SAMPLE_UNSUBSCRIBE_URL,
    anchor_date: date | None = None,
    appointments: Mapping[str, Milestone | None] | None = None,
) -> list[PreviewRow]:
    """Every message of ``program``, in timeline order, rendered for one patient.

    ``patient`` defaults to a sample patient of ``clinic`` (itself a sample
    clinic by default) who reads ``language`` and has ``discreet`` SMS;
    ``language`` always wins, so one real patient can be previewed in both
    languages. ``steps`` defaults to the program's saved steps. The first SMS of
    the timeline is rendered as the enrollment's first message (with the intro
    notice) unless ``first_sms_step`` names another step, as when a late
    enrollment skips day 0. With ``anchor_date`` (the diagnosis or procedure
    day) each row also says when it goes out, in the patient's zone, before
    quiet hours. A step timed from an appointment is rendered for
    ``appointments[kind]`` (by default ``sample_appointments``: a consultation
    on the clinic's target day, a scan at 6 weeks) and takes its place in the
    timeline from it; one whose kind has no appointment there is left out.
    Nothing is saved.
    """
    clinic = clinic or (patient.clinic if patient else sample_clinic())
    if patient is None:
        patient = sample_patient(clinic=clinic, language=language, discreet=discreet)
    else:
        # A copy in memory: the preview's language and clinic, the real row untouched.
        patient = Patient(**{f.attname: getattr(patient, f.attname) for f in Patient._meta.concrete_fields})
        patient.clinic = clinic
        patient.language = language
    anchor_event = sorted(ANCHOR_EVENTS_BY_KIND.get(program.kind, {""}))[0]
    day0 = anchor_date or timezone.now().astimezone(patient.zone).date()
    enrollment = Enrollment(patient=patient, program=program, anchor_event=anchor_event, anchor_date=day0)
    zone = patient.zone
    if appointments is None:
        appointments = sample_appointments(clinic=clinic, anchor_date=day0)
    timed = []
    for step in steps if steps is not None else program.steps.all():
        appointment = appointments.get(step.relative_to) if step.relative_to else None
        if step.relative_to and appointment is None:
            continue  # no appointment to remind of
        moment = _send_moment(step=step, anchor_date=day0, appointment=appointment, zone=zone)
        timed.append((moment, step, appointment))
    # In the order they go out: a reminder takes its place from its (sample) appointment.
    timed.sort(key=lambda item: (item[0], item[1].key))
    if first_sms_step is None:
        first_sms_step = next((s.key for _, s, _ in timed if Channel.SMS in s.channels()), None)
    rows = []
    for moment, step, appointment in timed:
        local = moment.astimezone(zone)
        for channel in step.channels():
            message = Message(enrollment=enrollment, step=step, channel=channel, milestone=appointment)
            first = channel == Channel.SMS and step.key == first_sms_step
            rendered = render_preview_message(
                message=message, is_first_message=first, unsubscribe_url=unsubscribe_url
            )
            cost = sms_cost(rendered.text) if channel == Channel.SMS else None
            rows.append(PreviewRow(
                program=program.slug, step=step.key, day=(local.date() - day0).days,
                time=local.strftime("%H:%M"), topic=step.topic, channel=channel,
                language=language, is_first_message=first, asks=step.asks or "",
                subject=rendered.subject, text=rendered.text, html=rendered.html,
                encoding=cost.encoding if cost else None, segments=cost.segments if cost else None,
                characters=len(rendered.text),
                send_at=local if anchor_date else None,
                when=step.when, relative_to=step.relative_to,
                appointment=_appointment_words(appointment),
                until=list(step.until or []), records=dict(step.answer_milestones or {}),
            ))
    return rows


def _appointment_words(appointment: Milestone | None) -> str:
    if appointment is None:
        return ""
    return f"{appointment.date:%Y-%m-%d}" + (f" {appointment.time:%H:%M}" if appointment.time else "")


def programs_from_files(*, paths: Iterable[Path]) -> list[tuple[Program, list[Step]]]:
    """Programs and their steps read from definition files into unsaved objects, for a
    preview of what loading them would give. Nothing is saved."""
    found = []
    for path in sorted(paths):
        data, _ = program_file_read(path=path)
        program = Program(slug=data["slug"], name=data["name"], kind=data["kind"],
                          description=data.get("description", ""))
        steps = []
        for index, raw in enumerate(data.get("steps", []), start=1):
            steps.append(Step(program=program, key=raw.get("key", ""),
                              **step_fields(raw, where=f"{path.name} step {index}")))
        found.append((program, steps))
    return found


def _kind_words(kind: str) -> str:
    return str(MilestoneKind(kind).label).lower() if kind in MilestoneKind.values else kind
