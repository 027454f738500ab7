"""The moments the suite is set at, in one place.

The tests live on one reference day, Tuesday 2 June 2026, in the fixture clinic's
zone, New York (EDT, UTC-4). The fixture program (tests/conftest.py) plans its
texts for day 0 at 10:00, day 1 at 09:30 and day 7 at 11:00, local time.

A test sets the time with the ``clock`` fixture (tests/conftest.py), or for a
whole module with time-machine's mark: ``pytestmark = pytest.mark.time_machine(NOW, tick=False)``.
"""

from datetime import UTC, date, datetime

__all__ = ["DAY", "DAY0_DUE", "ENROLLED_AT", "NOW", "REPLIES_AT", "UTC", "utc"]


def utc(*args: int) -> datetime:
    """``utc(2026, 6, 2, 14, 0)``: a moment in UTC."""
    return datetime(*args, tzinfo=UTC)


DAY = date(2026, 6, 2)  # the reference day: the anchor date (diagnosis or procedure) of enrollments
ENROLLED_AT = utc(2026, 6, 2, 13, 0)  # 09:00 in New York: enrolled before the day-0 text
DAY0_DUE = utc(2026, 6, 2, 14, 0)  # 10:00 in New York: the fixture program's day-0 text is due
REPLIES_AT = utc(2026, 6, 2, 16, 0)  # 12:00 in New York: replies to the day-0 text come in
NOW = utc(2026, 6, 2, 18, 0)  # 14:00 in New York: the afternoon of the reference day, in the admin
