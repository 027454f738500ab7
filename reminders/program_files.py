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
        hours, minutes = (int(part) for part in raw["time"].split(":"))
        lateness = raw.get("max_lateness_hours", 12)
        return {
            "offset_days": int(raw["day"]),
            "send_time": time(hours, minutes),
            "channel": raw["channel"],
            "topic": raw["topic"],
            "template": raw["template"],
            "max_lateness": None if lateness is None else timedelta(hours=lateness),
            "asks": raw.get("asks", ""),
            "escalate_when": raw.get("escalate_when", ""),
            "escalation_note": raw.get("escalation_note", ""),
        }
    except (KeyError, ValueError) as exc:
        raise ValidationError(f"{where}: {type(exc).__name__} {exc}") from exc
