"""
The time zones a clinic or a patient may have: the tz database's names of
places, from the lists it keeps for choosing a zone (zone1970.tab, zone.tab),
and UTC.

zoneinfo loads more names than that, and these are refused: ``localtime`` (each
machine's own zone, so web and worker could plan differently), ``Factory``,
``posixrules``, rules such as ``EST5EDT``, offsets such as ``Etc/GMT+5``, and
the old names kept for compatibility (``US/Eastern``, ``Asia/Calcutta``), for
which the refusal names the current one.

Everything is read once per process: ``available_timezones()`` alone walks the
whole database (8 ms a call, measured), and forms and the CSV import check a
zone per row.
"""

import zoneinfo
from functools import cache
from importlib import resources
from pathlib import Path

# Where the tz database lists its zones for people to choose from.
TABLES = ("zone1970.tab", "zone.tab")
# Without those tables (an unusual install): zones named after a place in these areas.
AREAS = {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
# Rules named after US zones; the tz database links them to these places only in some builds.
RULES = {"EST5EDT": "America/New_York", "CST6CDT": "America/Chicago", "MST7MDT": "America/Denver",
         "PST8PDT": "America/Los_Angeles"}
UTC = "UTC"


def _tz_file(name: str) -> str:
    """A file of the tz database, from where zoneinfo reads the zones (the system's, else the tzdata package)."""
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    try:
        return resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return ""


@cache
def _available() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every accepted zone, sorted."""
    places = set()
    for table in TABLES:
        for line in _tz_file(table).splitlines():
            fields = line.split("\t")
            if not line.startswith("#") and len(fields) >= 3:
                places.add(fields[2])
    if not places:
        places = {name for name in _available() if name.split("/")[0] in AREAS and "/" in name}
    return tuple(sorted((places | {UTC}) & _available()))


@cache
def _accepted() -> frozenset[str]:
    return frozenset(time_zone_names())


@cache
def _links() -> dict[str, str]:
    """Old name -> the zone it stands for, from tzdata.zi's link lines ("L America/New_York US/Eastern")."""
    links = {}
    for line in _tz_file("tzdata.zi").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L":
            links[parts[2]] = parts[1]
    return links


def time_zone_accepted(name: str) -> bool:
    return name in _accepted()


def time_zone_known(name: str) -> bool:
    """A name zoneinfo loads, accepted or not."""
    return name in _available()


def time_zone_current_name(name: str) -> str:
    """The accepted name for an old name or a rule ("US/Eastern" -> "America/New_York"); "" when there is none."""
    target = _links().get(name) or RULES.get(name) or name
    if target == "Etc/UTC":
        target = UTC
    return target if target != name and target in _accepted() else ""
