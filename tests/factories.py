"""Test data (factory_boy), each row valid and built the way the service builds it.

The defaults are the suite's usual cast: Riverside Spine Clinic in New York and
its patient Margaret Okafor, each patient with a mobile number of their own.
Call a factory to save a row (``PatientFactory(clinic=clinic)``), with any field
set; ``create_batch(n, ...)`` makes several.

Enrollments go through the real service, ``enrollment_create``, which validates
them and writes their planned messages: the messages are the schedule, so no
factory makes Message rows.
"""

from contextlib import nullcontext
from datetime import time, timedelta

import factory
import time_machine
from factory.django import DjangoModelFactory, Password

from reminders.models import (
    AnchorEvent,
    Clinic,
    Coordinator,
    Enrollment,
    Milestone,
    MilestoneKind,
    Patient,
    Program,
    ProgramKind,
    Step,
)
from reminders.services.coordinator_group import coordinator_group_ensure
from reminders.services.enrollments import enrollment_create

from .moments import DAY

COORDINATOR_PASSWORD = "coord-pass-123"


class ClinicFactory(DjangoModelFactory):
    class Meta:
        model = Clinic

    name = "Riverside Spine Clinic"
    phone = "+12025550143"
    time_zone = "America/New_York"


class PatientFactory(DjangoModelFactory):
    """A patient who consents to SMS only. Mobiles come from +12025551000 up, one each."""

    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    first_name = "Margaret"
    last_name = "Okafor"
    mobile = factory.Sequence(lambda n: f"+1202555{1000 + n % 9000:04d}")
    email = factory.Sequence(lambda n: f"patient{n}@example.com")
    sms_consent = True
    email_consent = False


class ProgramFactory(DjangoModelFactory):
    """A program after a procedure; ``steps=[{...}, ...]`` gives its steps (default: one, StepFactory's)."""

    class Meta:
        model = Program
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"test-program-{n}")
    name = factory.LazyAttribute(lambda program: f"Program {program.slug}")
    kind = ProgramKind.AFTER_PROCEDURE

    @factory.post_generation
    def steps(program, create, extracted, **kwargs):
        if not create:
            return
        for index, fields in enumerate([{}] if extracted is None else extracted):
            StepFactory(program=program, **{"key": f"step-{index}", **fields})


class StepFactory(DjangoModelFactory):
    """An SMS on day 0 at 10:00 from the small test template (tests/templates), late after 12 hours."""

    class Meta:
        model = Step

    program = factory.SubFactory(ProgramFactory, steps=[])
    key = factory.Sequence(lambda n: f"step-{n}")
    offset_days = 0
    send_time = time(10, 0)
    channel = "sms"
    topic = "warning_signs"
    template = "test/hello"
    max_lateness = timedelta(hours=12)


class UserFactory(DjangoModelFactory):
    """A staff login, password COORDINATOR_PASSWORD."""

    class Meta:
        model = "auth.User"
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    password = Password(COORDINATOR_PASSWORD)
    is_staff = True


class CoordinatorFactory(DjangoModelFactory):
    """A clinic's coordinator: a staff login in the Coordinator group, working for ``clinic``."""

    class Meta:
        model = Coordinator
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    mobile = ""

    @factory.post_generation
    def in_group(coordinator, create, extracted, **kwargs):
        if create:
            # Ensured, not looked up: a transactional test empties the tables the migration filled.
            coordinator.user.groups.add(coordinator_group_ensure())


class EnrollmentFactory(DjangoModelFactory):
    """An enrollment on the reference day, with its messages planned by ``enrollment_create``.

    ``enrolled_at``: when the enrollment is made (the clock goes there for the
    call and comes back); by default now, as the test's clock has it. The anchor
    event is the first one the program's kind accepts (PVP after a procedure).
    """

    class Meta:
        model = Enrollment

    patient = factory.SubFactory(PatientFactory)
    program = factory.SubFactory(ProgramFactory)
    anchor_event = factory.LazyAttribute(
        lambda enrollment: AnchorEvent.PVP if enrollment.program.kind == ProgramKind.AFTER_PROCEDURE
        else AnchorEvent.DIAGNOSIS)
    anchor_date = DAY
    enrolled_by = None
    enrolled_at = None

    @classmethod
    def _create(cls, model_class, *, enrolled_at=None, **fields):
        with time_machine.travel(enrolled_at, tick=False) if enrolled_at else nullcontext():
            return enrollment_create(**fields)

    @classmethod
    def _build(cls, model_class, *, enrolled_at=None, **fields):
        return model_class(**fields)  # unsaved, without messages


class MilestoneFactory(DjangoModelFactory):
    """A milestone on the patient's road, dated the reference day unless told."""

    class Meta:
        model = Milestone

    patient = factory.SubFactory(PatientFactory)
    kind = MilestoneKind.CONSULTATION_ATTENDED
    date = DAY
    time = None
    detail = ""
    recorded_by = None
