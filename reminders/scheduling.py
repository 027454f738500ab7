"""
Time arithmetic for the schedule: pure functions, no database.

A step says "day N at HH:MM in the patient's zone". The wall-clock time is
turned into an aware instant with zoneinfo, so daylight-saving changes between
the anchor and day N move the UTC instant, not the local time.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_send_time(*, anchor_date: date, offset_days: int, send_time: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of "day ``offset_days`` after ``anchor_date`` at ``send_time``" in ``zone``.

    A wall time that does not exist (the hour skipped in spring) is read with the
    offset before the change, so it lands just after the gap; a wall time that
    happens twice (the hour repeated in autumn) is the first of the two.
    """
    day = anchor_date + timedelta(days=offset_days)
    local = datetime.combine(day, send_time, tzinfo=zone)
    # Round-trip through UTC to normalise a wall time inside a spring-forward gap.
    return local.astimezone(UTC)


def in_quiet_hours(*, moment: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    """Whether ``moment`` falls inside the quiet window [start, end) in ``zone``."""
    local = moment.astimezone(zone).time()
    if start < end:  # a window within one day, e.g. 13:00-14:00
        return start <= local < end
    return local >= start or local < end  # a window over midnight, e.g. 21:00-08:00


def local_day_bounds(*, first: date, zone: ZoneInfo, days: int = 1) -> tuple[datetime, datetime]:
    """From midnight of ``first`` to midnight ``days`` later, in ``zone`` (a DST day is 23 or 25 hours)."""
    return (datetime.combine(first, time(0), tzinfo=zone),
            datetime.combine(first + timedelta(days=days), time(0), tzinfo=zone))


def next_allowed_time(*, moment: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """``moment`` itself if it is outside quiet hours, else the end of the quiet window, in UTC."""
    if not in_quiet_hours(moment=moment, zone=zone, start=start, end=end):
        return moment.astimezone(UTC)
    local = moment.astimezone(zone)
    end_day = local.date()
    if start >= end and local.time() >= start:
        end_day += timedelta(days=1)  # the window started this evening and ends tomorrow
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def duration_words(delta: timedelta) -> str:
    """A duration as people say it: "8 hours", "1 day 12 hours", "90 minutes" -> "1 hour 30 minutes"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
             if n]
    return " ".join(parts) or "0 minutes"


def moment_words(moment: datetime, zone: ZoneInfo) -> str:
    """A moment in ``zone`` with the zone's abbreviation, e.g. "30 Nov 10:00 EST"."""
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %H:%M} {local.tzname()}"


def lateness_reason(
    *, max_lateness: timedelta | None, due_at: datetime, now: datetime, zone: ZoneInfo
) -> str | None:
    """Why a message due at ``due_at`` is too late to send at ``now`` (the late policy), or None.

    In words and in ``zone`` (the patient's), e.g. "too late: due 30 Nov 10:00 EST, allowed 8 hours".
    """
    if max_lateness is None or now <= due_at + max_lateness:
        return None
    return f"too late: due {moment_words(due_at, zone)}, allowed {duration_words(max_lateness)}"
