"""
Reading care programs from their definition files (reminders/programs/*.toml).

The files are the source of a program's steps: loading them (services/programs.py)
writes what they say, and a preview reads them without saving anything.
"""

import hashlib
import tomllib
from datetime import time, timedelta
from pathlib import Path

from django.core.exceptions import ValidationError

PROGRAMS_DIR = Path(__file__).resolve().parent / "programs"


def program_file_read(*, path: Path) -> tuple[dict, str]:
    """A program file's definition and the hash of its bytes (an unchanged file loads as a no-op)."""
    content = path.read_bytes()
    return tomllib.loads(content.decode("utf-8")), hashlib.sha256(content).hexdigest()


def step_fields(raw: dict, *, where: str) -> dict:
    """A step's fields as the Step model takes them, from its table in a program file.

    Raises ValidationError naming ``where`` (the file and step) when the table is incomplete or wrong.
    """
    try:
        # A step some hours from an appointment has no day or time of its own.
        by_hours = raw.get("hours") is not None
        hours, minutes = (int(part) for part in (raw.get("time", "00:00") if by_hours else raw["time"]).split(":"))
        lateness = raw.get("max_lateness_hours", 12)
        return {
            "offset_days": int(raw.get("day", 0) if by_hours else raw["day"]),
            "send_time": time(hours, minutes),
            "channel": raw["channel"],
            "topic": raw["topic"],
            "template": raw["template"],
            "max_lateness": None if lateness is None else timedelta(hours=lateness),
            "asks": raw.get("asks", ""),
            "escalate_when": raw.get("escalate_when", ""),
            "escalation_note": raw.get("escalation_note", ""),
            "relative_to": raw.get("relative_to", ""),
            "offset_hours": None if raw.get("hours") is None else int(raw["hours"]),
            "until": list(raw.get("until", [])),
            "answer_milestones": {str(answer): kind for answer, kind in raw.get("records", {}).items()},
        }
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ValidationError(f"{where}: {type(exc).__name__} {exc}") from exc
