from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.scheduling import in_quiet_hours, lateness_reason, local_send_time, next_allowed_time
from tests.moments import UTC, utc

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.mark.parametrize(
    ("zone", "anchor", "offset", "expected"),
    [
        # New York springs forward on 2026-03-08: 09:00 is 14:00 UTC before, 13:00 UTC after.
        (NEW_YORK, date(2026, 3, 6), 0, utc(2026, 3, 6, 14, 0)),
        (NEW_YORK, date(2026, 3, 6), 3, utc(2026, 3, 9, 13, 0)),
        # ...and falls back on 2026-11-01.
        (NEW_YORK, date(2026, 10, 30), 0, utc(2026, 10, 30, 13, 0)),
        (NEW_YORK, date(2026, 10, 30), 4, utc(2026, 11, 3, 14, 0)),
        # London springs forward on 2026-03-29 and falls back on 2026-10-25.
        (LONDON, date(2026, 3, 27), 0, utc(2026, 3, 27, 9, 0)),
        (LONDON, date(2026, 3, 27), 2, utc(2026, 3, 29, 8, 0)),
        (LONDON, date(2026, 10, 23), 7, utc(2026, 10, 30, 9, 0)),
        # Sydney goes the other way: summer time starts on 2026-10-04.
        (SYDNEY, date(2026, 10, 2), 0, utc(2026, 10, 1, 23, 0)),
        (SYDNEY, date(2026, 10, 2), 5, utc(2026, 10, 6, 22, 0)),
    ],
)
def test_day_n_at_local_time_follows_daylight_saving(zone, anchor, offset, expected):
    sent = local_send_time(anchor_date=anchor, offset_days=offset, send_time=time(9, 0), zone=zone)
    assert sent == expected
    assert sent.tzinfo == UTC
    assert sent.astimezone(zone).time() == time(9, 0)


def test_a_time_skipped_by_spring_forward_lands_just_after_the_gap():
    # 02:30 does not exist in New York on 2026-03-08.
    sent = local_send_time(anchor_date=date(2026, 3, 8), offset_days=0, send_time=time(2, 30), zone=NEW_YORK)
    assert sent == utc(2026, 3, 8, 7, 30)
    assert sent.astimezone(NEW_YORK).time() == time(3, 30)


def test_a_time_repeated_by_fall_back_is_the_first_of_the_two():
    # 01:30 happens twice in New York on 2026-11-01; the first is EDT (UTC-4).
    sent = local_send_time(anchor_date=date(2026, 11, 1), offset_days=0, send_time=time(1, 30), zone=NEW_YORK)
    assert sent == utc(2026, 11, 1, 5, 30)


def test_a_year_of_daily_steps_keeps_local_time_in_every_zone():
    for zone in (NEW_YORK, LONDON, SYDNEY, ZoneInfo("Asia/Kolkata")):
        for offset in range(0, 366):
            sent = local_send_time(anchor_date=date(2026, 1, 1), offset_days=offset,
                                   send_time=time(18, 0), zone=zone)
            local = sent.astimezone(zone)
            assert (local.date(), local.time()) == (date(2026, 1, 1) + timedelta(days=offset), time(18, 0))


QUIET = {"start": time(21, 0), "end": time(8, 0)}


@pytest.mark.parametrize(
    ("local", "quiet"),
    [(time(20, 59), False), (time(21, 0), True), (time(23, 30), True), (time(3, 0), True),
     (time(7, 59), True), (time(8, 0), False), (time(12, 0), False)],
)
def test_quiet_hours_over_midnight(local, quiet):
    moment = datetime.combine(date(2026, 6, 1), local, tzinfo=LONDON)
    assert in_quiet_hours(moment=moment, zone=LONDON, **QUIET) is quiet


def test_quiet_hours_within_a_day():
    zone = NEW_YORK
    noon = datetime(2026, 6, 1, 12, 30, tzinfo=zone)
    assert in_quiet_hours(moment=noon, zone=zone, start=time(12), end=time(13))
    assert next_allowed_time(moment=noon, zone=zone, start=time(12), end=time(13)) == datetime(
        2026, 6, 1, 13, 0, tzinfo=zone)


def test_evening_quiet_hours_defer_to_next_morning():
    evening = datetime(2026, 6, 1, 22, 15, tzinfo=LONDON)
    assert next_allowed_time(moment=evening, zone=LONDON, **QUIET) == datetime(2026, 6, 2, 8, 0, tzinfo=LONDON)


def test_early_morning_quiet_hours_defer_to_same_morning():
    early = datetime(2026, 6, 2, 5, 0, tzinfo=LONDON)
    assert next_allowed_time(moment=early, zone=LONDON, **QUIET) == datetime(2026, 6, 2, 8, 0, tzinfo=LONDON)


def test_quiet_hours_end_across_a_daylight_saving_change():
    # The night London springs forward: 08:00 BST is 07:00 UTC.
    night = datetime(2026, 3, 28, 23, 0, tzinfo=LONDON)
    assert next_allowed_time(moment=night, zone=LONDON, **QUIET) == utc(2026, 3, 29, 7, 0)


def test_allowed_time_is_left_alone():
    noon = utc(2026, 6, 1, 12, 0)
    assert next_allowed_time(moment=noon, zone=LONDON, **QUIET) == noon


def test_late_policy():
    due = utc(2026, 6, 1, 9, 0)
    assert lateness_reason(max_lateness=timedelta(hours=2), due_at=due, now=due + timedelta(hours=2),
                           zone=LONDON) is None
    reason = lateness_reason(max_lateness=timedelta(hours=2), due_at=due, now=due + timedelta(hours=2, seconds=1),
                             zone=LONDON)
    assert reason.startswith("too late")
    assert lateness_reason(max_lateness=None, due_at=due, now=due + timedelta(days=300), zone=LONDON) is None
