"""Opening hours: weekdays, special days, and the right instants on daylight-saving days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from exhibit_engine.config import ScheduleConfig
from exhibit_engine.show import Schedule
from exhibit_engine.show.schedule import elapsed_s

BERLIN = ZoneInfo("Europe/Berlin")
DAY = (600, 1080)  # 10:00-18:00

SCHEDULE = Schedule(ScheduleConfig(
    timezone="Europe/Berlin",
    # Monday closed, Tuesday-Saturday 10-18, Sunday 10-18 too (the DST days are Sundays)
    weekly=(None, DAY, DAY, DAY, DAY, DAY, DAY),
    special={date(2026, 12, 24): (600, 840), date(2026, 12, 25): None,
             date(2026, 11, 23): (660, 900)},  # a Monday opened specially 11:00-15:00
))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("day, open_utc, close_utc", [
    (date(2026, 3, 28), utc(2026, 3, 28, 9), utc(2026, 3, 28, 17)),    # CET, +01:00
    (date(2026, 3, 29), utc(2026, 3, 29, 8), utc(2026, 3, 29, 16)),    # spring forward
    (date(2026, 10, 24), utc(2026, 10, 24, 8), utc(2026, 10, 24, 16)),  # CEST, +02:00
    (date(2026, 10, 25), utc(2026, 10, 25, 9), utc(2026, 10, 25, 17)),  # fall back
])
def test_dst_days_open_and_close_at_local_ten_and_six(day: date, open_utc: datetime,
                                                      close_utc: datetime) -> None:
    hours = SCHEDULE.opening_and_closing(day)
    assert hours is not None
    assert hours.opening == open_utc and hours.closing == close_utc
    assert hours.opening.astimezone(BERLIN).hour == 10
    assert hours.closing.astimezone(BERLIN).hour == 18
    assert hours.seconds == 8 * 3600


def test_a_whole_dst_day_is_23_or_25_hours() -> None:
    always = Schedule(ScheduleConfig("Europe/Berlin", ((0, 1440),) * 7))
    assert always.opening_and_closing(date(2026, 3, 29)).seconds == 23 * 3600
    assert always.opening_and_closing(date(2026, 10, 25)).seconds == 25 * 3600
    assert always.opening_and_closing(date(2026, 10, 26)).seconds == 24 * 3600
    # back-to-back days are one open stretch: midnight is not a change
    assert always.next_change(utc(2026, 10, 25, 12)) is None
    assert always.is_open(utc(2026, 10, 25, 22, 59, 59)) and always.is_open(utc(2026, 10, 25, 23))


def test_opening_is_open_closing_is_closed_compared_as_instants() -> None:
    opening = utc(2026, 3, 29, 8)      # 10:00 CEST
    assert SCHEDULE.is_open(opening)
    assert not SCHEDULE.is_open(opening - timedelta(microseconds=1))
    assert SCHEDULE.is_open(utc(2026, 3, 29, 15, 59, 59))
    assert not SCHEDULE.is_open(utc(2026, 3, 29, 16))
    # the same instant given in another zone gives the same answer
    assert SCHEDULE.is_open(opening.astimezone(ZoneInfo("Asia/Shanghai")))
    # 09:30 UTC is 10:30 local on the CET day before, but 11:30 on the DST day
    assert SCHEDULE.is_open(utc(2026, 3, 28, 9, 30)) and SCHEDULE.is_open(utc(2026, 3, 29, 9, 30))
    # 16:30 UTC: 17:30 local (open) the day before, 18:30 local (closed) on the DST day
    assert SCHEDULE.is_open(utc(2026, 3, 28, 16, 30))
    assert not SCHEDULE.is_open(utc(2026, 3, 29, 16, 30))


def test_special_days_override_the_weekday() -> None:
    christmas_eve = SCHEDULE.opening_and_closing(date(2026, 12, 24))    # a Thursday
    assert christmas_eve.closing == datetime(2026, 12, 24, 14, tzinfo=BERLIN)
    assert not SCHEDULE.is_open(datetime(2026, 12, 24, 15, tzinfo=BERLIN))
    assert SCHEDULE.opening_and_closing(date(2026, 12, 25)) is None     # Friday, closed
    assert not SCHEDULE.is_open(datetime(2026, 12, 25, 12, tzinfo=BERLIN))
    assert SCHEDULE.opening_and_closing(date(2026, 11, 30)) is None     # a plain Monday
    assert SCHEDULE.is_open(datetime(2026, 11, 23, 11, tzinfo=BERLIN))  # a special Monday
    assert SCHEDULE.hours(date(2026, 12, 23)) == DAY


def test_next_change() -> None:
    tue_morning = datetime(2026, 12, 1, 8, tzinfo=BERLIN)
    assert SCHEDULE.next_change(tue_morning) == datetime(2026, 12, 1, 10, tzinfo=BERLIN)
    assert SCHEDULE.next_change(datetime(2026, 12, 1, 10, tzinfo=BERLIN)) == \
        datetime(2026, 12, 1, 18, tzinfo=BERLIN)
    # Sunday evening -> Monday is closed -> Tuesday 10:00
    assert SCHEDULE.next_change(datetime(2026, 11, 29, 19, tzinfo=BERLIN)) == \
        datetime(2026, 12, 1, 10, tzinfo=BERLIN)
    # Christmas Eve closes at 14:00; Christmas Day is closed; the 26th (Saturday) opens
    assert SCHEDULE.next_change(datetime(2026, 12, 24, 12, tzinfo=BERLIN)) == \
        datetime(2026, 12, 24, 14, tzinfo=BERLIN)
    assert SCHEDULE.next_change(datetime(2026, 12, 24, 14, tzinfo=BERLIN)) == \
        datetime(2026, 12, 26, 10, tzinfo=BERLIN)
    # across the autumn change: Saturday 18:00 CEST -> Sunday 10:00 CET is 17 h, not 16
    sat_close = datetime(2026, 10, 24, 18, tzinfo=BERLIN)
    assert elapsed_s(sat_close, SCHEDULE.next_change(sat_close)) == 17 * 3600
    assert SCHEDULE.next_change(sat_close) == utc(2026, 10, 25, 9)
    assert Schedule(None).next_change(tue_morning) is None


def test_no_schedule_is_always_open_and_naive_times_are_refused() -> None:
    assert Schedule(None).is_open(utc(2026, 1, 1, 3))
    with pytest.raises(ValueError, match="aware"):
        SCHEDULE.is_open(datetime(2026, 12, 1, 12))
    with pytest.raises(ValueError, match="aware"):
        Schedule(None).is_open(datetime(2026, 12, 1, 12))


def test_a_time_in_the_spring_gap_is_a_real_instant() -> None:
    gap = Schedule(ScheduleConfig("Europe/Berlin", ((150, 1080),) * 7))  # opens "02:30"
    hours = gap.opening_and_closing(date(2026, 3, 29))
    # 02:30 does not exist that night: read with the offset before the change (+01:00)
    assert hours.opening == utc(2026, 3, 29, 1, 30)
    assert hours.opening.astimezone(BERLIN).hour == 3


def test_catch_up_is_the_time_since_opening_wrapped_or_held_by_the_show() -> None:
    at_1403 = datetime(2026, 12, 1, 14, 3, tzinfo=BERLIN)         # a Tuesday, open 10-18
    assert SCHEDULE.catch_up(at_1403, 1800.0, True) == pytest.approx(14580.0 % 1800.0)
    assert SCHEDULE.catch_up(at_1403, 1800.0, False) == 1800.0    # a finite show holds
    assert SCHEDULE.catch_up(datetime(2026, 11, 30, 14, tzinfo=BERLIN), 1800.0, True) == 0.0
    assert Schedule(None).catch_up(at_1403, 1800.0, True) == 0.0  # always open: from 0
