"""Every message of every program, rendered in every variant the rules are checked on."""

from dataclasses import dataclass

import pytest

from reminders.models import Channel, Program, Step
from reminders.selectors.programs import program_preview, programs_from_files
from reminders.services.programs import PROGRAMS_DIR

from .samples import appointments, long_clinic, patient, sparse_clinic

LANGUAGES = ("en", "es")
UNSUBSCRIBE_URL = "https://followup.example/u/0123456789abcdef"


@dataclass(frozen=True)
class Case:
    program: Program
    step: Step
    channel: str
    language: str
    discreet: bool
    first: bool  # rendered as the enrollment's first SMS
    clinic_kind: str  # "long": every setting at its longest; "sparse": optional settings empty
    # A reminder timed from an appointment: "timed" (the appointment has a time) or "untimed"; "" for other steps.
    appointment: str
    clinic_name: str
    clinic_address: str
    emergency_number: str
    clinic_phone: str
    unsubscribe_url: str
    subject: str
    text: str
    html: str

    @property
    def is_intro(self) -> bool:
        """The welcome always carries the intro notice; any other SMS does when it is the first."""
        return self.channel == Channel.SMS and (self.first or self.step.key == "day00-welcome")

    def __str__(self) -> str:
        flags = [self.language, self.channel, self.clinic_kind]
        flags += [f"{self.appointment} appointment"] if self.appointment else []
        flags += ["discreet"] if self.discreet else []
        flags += ["first"] if self.first else []
        return f"{self.program.slug}/{self.step.key} [{' '.join(flags)}]"


def program_files() -> list[tuple[Program, list[Step]]]:
    return programs_from_files(paths=PROGRAMS_DIR.glob("*.toml"))


def _render_all() -> list[Case]:
    cases = []
    for program, steps in program_files():
        sms_keys = [s.key for s in steps if Channel.SMS in s.channels()]
        relative_steps = [s for s in steps if s.relative_to]
        relative_sms_keys = [s.key for s in relative_steps if Channel.SMS in s.channels()]
        for language in LANGUAGES:
            for clinic_kind, make_clinic in (("long", long_clinic), ("sparse", sparse_clinic)):
                for discreet in (False, True):
                    clinic = make_clinic()
                    unsubscribe = UNSUBSCRIBE_URL if clinic_kind == "long" else ""
                    person = patient(clinic=clinic, language=language, discreet=discreet)
                    # Each SMS step once as the enrollment's first text (a late enrollment), and
                    # the whole timeline once as planned (day 0 first). Reminders of an appointment
                    # on the longest date, with its time; and again for one without a time.
                    variants = [(None, True), *((key, True) for key in sms_keys)]
                    variants += [(None, False), *((key, False) for key in relative_sms_keys)]
                    for first_key, timed in variants:
                        rows = program_preview(
                            program=program, language=language, clinic=clinic, patient=person,
                            steps=steps if timed else relative_steps, first_sms_step=first_key or sms_keys[0],
                            unsubscribe_url=unsubscribe, appointments=appointments(timed=timed),
                        )
                        by_key = {s.key: s for s in steps}
                        for row in rows:
                            if first_key is not None and not (row.step == first_key and row.channel == Channel.SMS):
                                continue
                            if first_key is None and row.is_first_message:
                                continue  # rendered in its own first-message variant
                            cases.append(Case(
                                program=program, step=by_key[row.step], channel=row.channel,
                                language=language, discreet=discreet, first=row.is_first_message,
                                clinic_kind=clinic_kind,
                                appointment=("timed" if timed else "untimed") if row.relative_to else "",
                                clinic_name=clinic.name, clinic_address=clinic.address,
                                emergency_number=clinic.emergency_number,
                                clinic_phone=clinic.phone.as_national, unsubscribe_url=unsubscribe,
                                subject=row.subject, text=row.text, html=row.html,
                            ))
    return cases


@pytest.fixture(scope="session")
def cases() -> list[Case]:
    return _render_all()


@pytest.fixture(scope="session")
def sms_cases(cases) -> list[Case]:
    return [c for c in cases if c.channel == Channel.SMS]


@pytest.fixture(scope="session")
def email_cases(cases) -> list[Case]:
    return [c for c in cases if c.channel == Channel.EMAIL]
