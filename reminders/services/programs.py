"""Loading care programs from their definition files under reminders/programs/."""

import logging
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Program, Step
from ..program_files import PROGRAMS_DIR, program_file_read, step_fields

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class ProgramLoadResult:
    program: Program
    changed: bool


@transaction.atomic
def program_load(*, path: Path) -> ProgramLoadResult:
    """Create or update one program from its file; a file that has not changed changes nothing.

    A changed file bumps the program's version. Messages already planned keep their
    rows and times; they render from the current templates when they are sent.
    """
    data, digest = program_file_read(path=path)
    program = Program.objects.filter(slug=data["slug"]).first()
    if program and program.definition_hash == digest:
        return ProgramLoadResult(program=program, changed=False)
    if program is None:
        program = Program(slug=data["slug"], version=1)
    else:
        program.version += 1
    program.name = data["name"]
    program.kind = data["kind"]
    program.description = data.get("description", "")
    program.definition_hash = digest
    program.full_clean()
    program.save()

    keys = []
    for index, raw in enumerate(data.get("steps", []), start=1):
        key = raw.get("key", "")
        fields = step_fields(raw, where=f"{path.name} step {index} ({key or 'no key'})")
        step = Step.objects.filter(program=program, key=key).first() or Step(program=program, key=key)
        for name, value in fields.items():
            setattr(step, name, value)
        step.full_clean()
        step.save()
        keys.append(key)
    removed = program.steps.exclude(key__in=keys)
    if removed.filter(messages__isnull=False).exists():
        raise ValidationError(
            f"{path.name}: steps {sorted(set(removed.values_list('key', flat=True)))} have messages "
            "and cannot be removed; keep them in the file."
        )
    removed.delete()
    return ProgramLoadResult(program=program, changed=True)


def programs_load(*, directory: Path = PROGRAMS_DIR) -> list[ProgramLoadResult]:
    return [program_load(path=path) for path in sorted(directory.glob("*.toml"))]
