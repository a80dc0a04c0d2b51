"""Opening hours: the published schedule, Norwegian holidays, closures, DST and config validation."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from intake.hours import (
    HoursConfigError,
    OpeningHours,
    Span,
    WeeklySchedule,
    default_hours,
)

OSLO = ZoneInfo("Europe/Oslo")
ALL_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def every_day(*spans: str, public_holidays: str = "", **extra: object) -> OpeningHours:
    return OpeningHours.from_config(
        {"weekly": {day: list(spans) for day in ALL_DAYS}, "public_holidays": public_holidays, **extra}
    )


EXAMPLE_TOML = """
[hours]
timezone = "Europe/Oslo"
public_holidays = "NO"
closures = ["2026-12-24", "2026-12-27..2026-12-31"]
[hours.weekly]
mon = ["09:00-16:00"]
tue = ["09:00-16:00"]
wed = ["09:00-16:00"]
thu = ["09:00-16:00"]
fri = ["09:00-16:00"]
sat = []
sun = []
[hours.channel.webchat.weekly]
mon = ["09:00-15:30"]
fri = ["09:00-15:30"]
"""


# --- the published schedule ---------------------------------------------------------------------------


def test_default_weekday_open_and_weekend_closed() -> None:
    hours = default_hours()
    assert hours.is_open(oslo(2026, 6, 9, 10))  # Tuesday
    assert not hours.is_open(oslo(2026, 6, 13, 10))  # Saturday
    assert not hours.is_open(oslo(2026, 6, 14, 10))  # Sunday


def test_default_span_boundaries() -> None:
    hours = default_hours()
    assert not hours.is_open(oslo(2026, 6, 9, 8, 59, 59))
    assert hours.is_open(oslo(2026, 6, 9, 9))
    assert hours.is_open(oslo(2026, 6, 9, 15, 59, 59))
    assert not hours.is_open(oslo(2026, 6, 9, 16))


def test_default_webchat_only_monday_and_friday_until_1530() -> None:
    hours = default_hours()
    assert not hours.is_open(oslo(2026, 6, 9, 10), "webchat")  # Tuesday
    assert hours.is_open(oslo(2026, 6, 8, 15), "webchat")  # Monday
    assert not hours.is_open(oslo(2026, 6, 8, 15, 45), "webchat")
    assert hours.is_open(oslo(2026, 6, 8, 15, 45))  # the phone line is still open
    assert hours.is_open(oslo(2026, 6, 12, 9, 30), "webchat")  # Friday
    assert hours.closes_at(oslo(2026, 6, 8, 10), "webchat") == oslo(2026, 6, 8, 15, 30)
    assert hours.next_opening(oslo(2026, 6, 9, 10), "webchat") == oslo(2026, 6, 12, 9)


def test_channel_without_override_uses_weekly() -> None:
    hours = default_hours()
    assert hours.is_open(oslo(2026, 6, 9, 10), "telegram")
    assert hours.closes_at(oslo(2026, 6, 9, 10), "telegram") == oslo(2026, 6, 9, 16)


def test_default_values() -> None:
    hours = default_hours()
    assert hours.timezone == OSLO
    assert hours.public_holidays == "NO"
    assert hours.closures == frozenset()
    assert hours.weekly.days[0] == (Span(540, 960),)
    assert hours.weekly.days[5] == ()
    assert set(hours.channel_weekly) == {"webchat"}
    assert hours.channel_weekly["webchat"].days[0] == (Span(540, 930),)
    assert hours.channel_weekly["webchat"].days[1] == ()


def test_from_config_none_empty_and_partial_take_defaults() -> None:
    assert OpeningHours.from_config(None) == default_hours()
    assert OpeningHours.from_config({}) == default_hours()
    partial = OpeningHours.from_config({"closures": ["2026-07-01"]})
    assert partial.weekly == default_hours().weekly
    assert partial.channel_weekly == default_hours().channel_weekly
    assert partial.closures == frozenset({date(2026, 7, 1)})


def test_example_toml_parses() -> None:
    hours = OpeningHours.from_config(tomllib.loads(EXAMPLE_TOML)["hours"])
    assert hours.weekly == default_hours().weekly
    assert hours.channel_weekly == default_hours().channel_weekly
    assert date(2026, 12, 24) in hours.closures
    assert date(2026, 12, 29) in hours.closures
    assert date(2026, 12, 26) not in hours.closures


def test_next_opening_friday_evening_is_monday_morning() -> None:
    result = default_hours().next_opening(oslo(2026, 6, 12, 16, 30))
    assert result == oslo(2026, 6, 15, 9)
    assert result is not None
    assert result.tzinfo is OSLO


def test_next_opening_returns_at_when_open() -> None:
    at = utc(2026, 6, 9, 8)  # 10:00 in Oslo
    result = default_hours().next_opening(at)
    assert result == at
    assert result is not None
    assert result.tzinfo is OSLO


def test_next_opening_before_opening_same_day() -> None:
    assert default_hours().next_opening(oslo(2026, 6, 9, 7, 15)) == oslo(2026, 6, 9, 9)


def test_closes_at() -> None:
    hours = default_hours()
    assert hours.closes_at(oslo(2026, 6, 9, 10)) == oslo(2026, 6, 9, 16)
    assert hours.closes_at(oslo(2026, 6, 9, 17)) is None
    assert hours.closes_at(oslo(2026, 6, 13, 10)) is None


def test_input_in_another_zone_is_evaluated_in_oslo_time() -> None:
    hours = default_hours()
    new_york = ZoneInfo("America/New_York")
    # 03:30 in New York is 09:30 in Oslo (both on summer time).
    assert hours.is_open(datetime(2026, 6, 9, 3, 30, tzinfo=new_york))
    # 10:30 in New York is 16:30 in Oslo.
    assert not hours.is_open(datetime(2026, 6, 9, 10, 30, tzinfo=new_york))


@pytest.mark.parametrize("method", ["is_open", "next_opening", "closes_at"])
def test_naive_datetime_refused(method: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        getattr(default_hours(), method)(datetime(2026, 6, 9, 10))


# --- DST ----------------------------------------------------------------------------------------------


def test_spring_forward_2026_utc_instants() -> None:
    hours = default_hours()
    # Friday 27 March: CET, UTC+1.
    assert not hours.is_open(utc(2026, 3, 27, 7, 30))  # 08:30 local
    assert hours.is_open(utc(2026, 3, 27, 8, 30))  # 09:30 local
    assert hours.is_open(utc(2026, 3, 27, 14, 30))  # 15:30 local
    # Monday 30 March: CEST, UTC+2.
    assert hours.is_open(utc(2026, 3, 30, 7, 30))  # 09:30 local
    assert not hours.is_open(utc(2026, 3, 30, 14, 30))  # 16:30 local
    assert hours.closes_at(utc(2026, 3, 30, 8)) == utc(2026, 3, 30, 14)


def test_spring_forward_2026_next_opening_over_weekend() -> None:
    result = default_hours().next_opening(oslo(2026, 3, 27, 16, 30))
    assert result == oslo(2026, 3, 30, 9)
    assert result is not None
    assert result.utcoffset() == timedelta(hours=2)
    assert result == utc(2026, 3, 30, 7)
    assert result.isoformat() == "2026-03-30T09:00:00+02:00"


def test_fall_back_2026_utc_instants() -> None:
    hours = default_hours()
    # Friday 23 October: CEST, UTC+2.
    assert hours.is_open(utc(2026, 10, 23, 7, 30))  # 09:30 local
    assert not hours.is_open(utc(2026, 10, 23, 14, 30))  # 16:30 local
    # Monday 26 October: CET, UTC+1.
    assert not hours.is_open(utc(2026, 10, 26, 7, 30))  # 08:30 local
    assert hours.is_open(utc(2026, 10, 26, 14, 30))  # 15:30 local
    assert hours.closes_at(utc(2026, 10, 26, 8)) == utc(2026, 10, 26, 15)


def test_fall_back_2026_next_opening_over_weekend() -> None:
    result = default_hours().next_opening(utc(2026, 10, 23, 14, 30))
    assert result == oslo(2026, 10, 26, 9)
    assert result is not None
    assert result.utcoffset() == timedelta(hours=1)
    assert result == utc(2026, 10, 26, 8)
    assert result.isoformat() == "2026-10-26T09:00:00+01:00"


def test_span_inside_spring_gap_does_not_exist_that_day() -> None:
    hours = every_day("02:00-03:00")
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
    assert not hours.is_open(utc(2026, 3, 29, 0, 59))
    assert not hours.is_open(utc(2026, 3, 29, 1, 0))
    result = hours.next_opening(oslo(2026, 3, 28, 12))
    assert result == oslo(2026, 3, 30, 2)
    assert result is not None
    assert result.utcoffset() == timedelta(hours=2)
    # The day before, it did exist.
    assert hours.is_open(utc(2026, 3, 28, 1, 30))


def test_span_starting_in_spring_gap_opens_at_the_transition() -> None:
    hours = every_day("02:30-04:00")
    transition = utc(2026, 3, 29, 1)  # 03:00 CEST, the first moment the clock shows 02:30 or later
    assert not hours.is_open(transition - timedelta(seconds=1))
    assert hours.is_open(transition)
    assert hours.next_opening(utc(2026, 3, 29, 0)) == transition
    assert hours.closes_at(transition) == oslo(2026, 3, 29, 4)


def test_span_ending_in_fall_back_fold_closes_at_first_occurrence() -> None:
    hours = every_day("01:00-02:30")
    # 25 October 2026: 03:00 CEST goes back to 02:00 CET at 01:00 UTC, so 02:00-03:00 happens twice.
    first_0230 = utc(2026, 10, 25, 0, 30)
    closes = hours.closes_at(utc(2026, 10, 24, 23, 30))
    assert closes is not None
    # Inside the fold, == between zones is always False (PEP 495), so compare instants.
    assert closes.timestamp() == first_0230.timestamp()
    assert (closes.hour, closes.minute, closes.fold) == (2, 30, 0)
    assert closes.utcoffset() == timedelta(hours=2)
    assert not hours.is_open(first_0230)
    assert not hours.is_open(utc(2026, 10, 25, 1, 15))  # 02:15 CET, second time round
    assert hours.next_opening(first_0230) == oslo(2026, 10, 26, 1)
    # An Oslo datetime with fold=1 is the second 02:15 and is understood as such.
    assert not hours.is_open(oslo(2026, 10, 25, 2, 15).replace(fold=1))
    assert hours.is_open(oslo(2026, 10, 25, 2, 15))


def test_next_opening_in_fold_hour_is_the_same_instant() -> None:
    hours = every_day("00:00-24:00")
    at = utc(2026, 10, 25, 1, 15)  # 02:15 CET, the second time round
    result = hours.next_opening(at)
    assert result is not None
    assert result.timestamp() == at.timestamp()
    assert (result.hour, result.minute, result.fold) == (2, 15, 1)
    assert result.utcoffset() == timedelta(hours=1)


def test_span_over_fall_back_lasts_an_hour_longer() -> None:
    hours = every_day("00:00-24:00")
    # Open from the start to the end of Sunday 25 October, wall clock 24 h, real time 25 h.
    closes = hours.closes_at(utc(2026, 10, 25, 12))
    assert closes is not None
    # Open around the clock with no closed day: the window runs to the look-ahead horizon.
    assert closes - utc(2026, 10, 25, 12) > timedelta(days=399)


# --- public holidays and closures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "holiday",
    [
        date(2026, 4, 2),  # Maundy Thursday
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),  # Labour Day
        date(2026, 5, 14),  # Ascension Day
        date(2026, 5, 25),  # Whit Monday
        date(2027, 3, 25),  # Maundy Thursday
        date(2027, 3, 26),  # Good Friday
        date(2027, 3, 29),  # Easter Monday
        date(2027, 5, 17),  # Constitution Day and Whit Monday
    ],
)
def test_weekday_public_holidays_are_closed(holiday: date) -> None:
    hours = default_hours()
    assert holiday.weekday() < 5
    assert hours.is_closed_day(holiday)
    assert not hours.is_open(oslo(holiday.year, holiday.month, holiday.day, 10))
    assert not hours.is_open(oslo(holiday.year, holiday.month, holiday.day, 10), "webchat")


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Wednesday before Easter 2026 → Tuesday after Easter Monday.
        (oslo(2026, 4, 1, 16, 30), oslo(2026, 4, 7, 9)),
        # Ascension Day 2026 is Thursday 14 May.
        (oslo(2026, 5, 13, 16, 30), oslo(2026, 5, 15, 9)),
        # Whit Monday 2026 is 25 May.
        (oslo(2026, 5, 22, 16, 30), oslo(2026, 5, 26, 9)),
        # Easter 2027: Maundy Thursday 25 March .. Easter Monday 29 March, DST starts 28 March.
        (oslo(2027, 3, 24, 16, 30), oslo(2027, 3, 30, 9)),
        # 17 May 2027 is a Monday.
        (oslo(2027, 5, 14, 16, 30), oslo(2027, 5, 18, 9)),
        (oslo(2027, 5, 17, 10), oslo(2027, 5, 18, 9)),
    ],
)
def test_next_opening_skips_public_holidays(at: datetime, expected: datetime) -> None:
    assert default_hours().next_opening(at) == expected


def test_webchat_skips_easter_monday() -> None:
    # Easter Monday 2026 would be a webchat day; the next one is Friday 10 April.
    assert default_hours().next_opening(oslo(2026, 4, 3, 10), "webchat") == oslo(2026, 4, 10, 9)


def test_ordinary_weekdays_are_not_closed_days() -> None:
    hours = default_hours()
    assert not hours.is_closed_day(date(2026, 4, 1))
    assert not hours.is_closed_day(date(2026, 4, 7))
    assert not hours.is_closed_day(date(2027, 5, 18))


def test_christmas_eve_is_not_a_public_holiday() -> None:
    # Only the line's own closures close it; without them Thursday 24 December 2026 is an ordinary day.
    hours = default_hours()
    assert not hours.is_closed_day(date(2026, 12, 24))
    assert hours.is_open(oslo(2026, 12, 24, 10))
    assert not hours.is_closed_day(date(2026, 12, 31))


def test_public_holidays_empty_keeps_17_may_open() -> None:
    hours = OpeningHours.from_config({"public_holidays": ""})
    assert not hours.is_closed_day(date(2027, 5, 17))
    assert hours.is_open(oslo(2027, 5, 17, 10))
    assert hours.next_opening(oslo(2027, 5, 14, 16, 30)) == oslo(2027, 5, 17, 9)


def test_closure_single_date() -> None:
    hours = OpeningHours.from_config({"closures": ["2026-06-10"]})
    assert hours.is_closed_day(date(2026, 6, 10))
    assert not hours.is_open(oslo(2026, 6, 10, 10))
    assert hours.is_open(oslo(2026, 6, 11, 10))
    assert hours.next_opening(oslo(2026, 6, 9, 16, 30)) == oslo(2026, 6, 11, 9)


def test_closure_range_is_inclusive() -> None:
    hours = OpeningHours.from_config({"closures": ["2026-07-06..2026-07-10", "2026-07-13..2026-07-13"]})
    assert not hours.is_closed_day(date(2026, 7, 3))
    for day in range(6, 11):
        assert hours.is_closed_day(date(2026, 7, day))
    assert hours.is_closed_day(date(2026, 7, 13))
    assert not hours.is_closed_day(date(2026, 7, 14))
    assert hours.next_opening(oslo(2026, 7, 3, 16, 30)) == oslo(2026, 7, 14, 9)


def test_christmas_2026() -> None:
    hours = OpeningHours.from_config(tomllib.loads(EXAMPLE_TOML)["hours"])
    assert not hours.is_closed_day(date(2026, 12, 23))
    for day in range(24, 32):
        assert hours.is_closed_day(date(2026, 12, day)), day
    assert hours.is_closed_day(date(2027, 1, 1))
    assert not hours.is_closed_day(date(2027, 1, 4))
    result = hours.next_opening(oslo(2026, 12, 23, 16, 30))
    assert result == oslo(2027, 1, 4, 9)
    assert result is not None
    assert result.utcoffset() == timedelta(hours=1)


def test_unquoted_toml_dates_are_accepted() -> None:
    table = tomllib.loads("[hours]\nclosures = [2026-12-24]\n")["hours"]
    assert OpeningHours.from_config(table).closures == frozenset({date(2026, 12, 24)})


# --- spans up to midnight -------------------------------------------------------------------------------


def test_whole_day_open_at_last_second() -> None:
    hours = every_day("00:00-24:00")
    assert hours.weekly.days[0] == (Span(0, 1440),)
    assert hours.is_open(oslo(2026, 6, 9, 23, 59, 59))
    assert hours.is_open(oslo(2026, 6, 10, 0, 0))


def test_whole_day_closes_at_chains_across_midnight_until_closure() -> None:
    hours = every_day("00:00-24:00", closures=["2026-06-10"])
    assert hours.closes_at(oslo(2026, 6, 8, 10)) == oslo(2026, 6, 10)
    assert not hours.is_open(oslo(2026, 6, 10, 12))
    assert hours.next_opening(oslo(2026, 6, 10, 12)) == oslo(2026, 6, 11)


def test_late_span_until_midnight() -> None:
    hours = OpeningHours.from_config({"weekly": {"mon": ["22:00-24:00"]}, "channel": {}})
    monday = (2026, 6, 8)
    assert not hours.is_open(oslo(*monday, 21, 59))
    assert hours.is_open(oslo(*monday, 22))
    assert hours.is_open(oslo(*monday, 23, 59, 59))
    assert not hours.is_open(oslo(2026, 6, 9, 0, 0))
    assert hours.closes_at(oslo(*monday, 23, 30)) == oslo(2026, 6, 9)
    assert hours.next_opening(oslo(*monday, 12)) == oslo(*monday, 22)
    assert hours.next_opening(oslo(2026, 6, 9, 0, 0)) == oslo(2026, 6, 15, 22)


def test_late_span_continues_into_next_morning() -> None:
    hours = OpeningHours.from_config({"weekly": {"mon": ["22:00-24:00"], "tue": ["00:00-02:00"]}})
    assert hours.closes_at(oslo(2026, 6, 8, 23)) == oslo(2026, 6, 9, 2)
    assert hours.is_open(oslo(2026, 6, 9, 1, 59))
    assert not hours.is_open(oslo(2026, 6, 9, 2))


def test_touching_spans_are_one_open_period() -> None:
    hours = OpeningHours.from_config({"weekly": {"mon": ["12:00-16:00", "09:00-12:00"]}})
    assert hours.weekly.days[0] == (Span(540, 720), Span(720, 960))
    assert hours.closes_at(oslo(2026, 6, 8, 10)) == oslo(2026, 6, 8, 16)


def test_lunch_break() -> None:
    hours = OpeningHours.from_config({"weekly": {"mon": ["09:00-11:30", "12:00-16:00"]}})
    assert hours.closes_at(oslo(2026, 6, 8, 10)) == oslo(2026, 6, 8, 11, 30)
    assert not hours.is_open(oslo(2026, 6, 8, 11, 45))
    assert hours.next_opening(oslo(2026, 6, 8, 11, 45)) == oslo(2026, 6, 8, 12)


# --- channel overrides ----------------------------------------------------------------------------------


def test_channel_override_from_config() -> None:
    hours = OpeningHours.from_config(
        {
            "weekly": {"mon": ["09:00-16:00"]},
            "channel": {"sms": {"weekly": {"sat": ["10:00-14:00"]}}},
        }
    )
    saturday = oslo(2026, 6, 13, 11)
    assert hours.is_open(saturday, "sms")
    assert not hours.is_open(saturday)
    assert not hours.is_open(oslo(2026, 6, 8, 10), "sms")  # the override replaces the whole week
    assert hours.is_open(oslo(2026, 6, 8, 10), "webchat")  # no webchat override any more
    assert hours.next_opening(oslo(2026, 6, 8, 10), "sms") == oslo(2026, 6, 13, 10)
    assert hours.closes_at(saturday, "sms") == oslo(2026, 6, 13, 14)


def test_channel_override_still_honours_closures() -> None:
    hours = OpeningHours.from_config(
        {"channel": {"sms": {"weekly": {"sat": ["10:00-14:00"]}}}, "closures": ["2026-06-13"]}
    )
    assert not hours.is_open(oslo(2026, 6, 13, 11), "sms")
    assert hours.next_opening(oslo(2026, 6, 13, 11), "sms") == oslo(2026, 6, 20, 10)


# --- nothing open ---------------------------------------------------------------------------------------


def test_no_opening_at_all() -> None:
    hours = OpeningHours.from_config({"weekly": {day: [] for day in ALL_DAYS}})
    assert not hours.is_open(oslo(2026, 6, 9, 10))
    assert hours.next_opening(oslo(2026, 6, 9, 10)) is None
    assert hours.closes_at(oslo(2026, 6, 9, 10)) is None
    # The default webchat override is kept because `channel` wasn't given.
    assert hours.next_opening(oslo(2026, 6, 9, 10), "webchat") == oslo(2026, 6, 12, 9)


def test_opening_beyond_horizon_is_none() -> None:
    hours = OpeningHours.from_config({"closures": ["2026-06-01..2027-12-31"], "channel": {}})
    assert hours.next_opening(oslo(2026, 6, 1)) is None
    assert hours.next_opening(oslo(2027, 6, 1)) == oslo(2028, 1, 3, 9)


# --- configuration errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "prefix"),
    [
        ({"weekly": {"mon": ["25:00-26:00"]}}, 'hours.weekly.mon[0]: "25:00-26:00" is not a valid time span'),
        ({"weekly": {"tue": ["09:00-16:00", "9:00-10:00"]}}, "hours.weekly.tue[1]: "),
        ({"weekly": {"mon": ["09:60-10:00"]}}, "hours.weekly.mon[0]: "),
        ({"weekly": {"mon": ["24:00-24:00"]}}, "hours.weekly.mon[0]: "),
        ({"weekly": {"mon": ["09:00-24:01"]}}, "hours.weekly.mon[0]: "),
        ({"weekly": {"mon": ["16:00-09:00"]}}, "hours.weekly.mon[0]: "),
        ({"weekly": {"mon": ["09:00-09:00"]}}, "hours.weekly.mon[0]: "),
        ({"weekly": {"mon": ["09:00 - 16:00"]}}, "hours.weekly.mon[0]: "),
        ({"weekly": {"wed": ["09:00-12:00", "11:00-16:00"]}}, 'hours.weekly.wed[1]: "11:00-16:00" overlaps'),
        ({"weekly": {"wed": ["09:00-16:00", "10:00-11:00"]}}, "hours.weekly.wed[1]: "),
        ({"weekly": {"monday": ["09:00-16:00"]}}, "hours.weekly.monday: unknown key"),
        ({"weekly": {"mon": "09:00-16:00"}}, "hours.weekly.mon: expected a list"),
        ({"weekly": {"mon": [900]}}, "hours.weekly.mon[0]: expected a string"),
        ({"weekly": ["09:00-16:00"]}, "hours.weekly: expected a table"),
        ({"closures": ["2026-13-01"]}, 'hours.closures[0]: "2026-13-01" is not a valid date'),
        ({"closures": ["2026-12-24", "24.12.2026"]}, "hours.closures[1]: "),
        ({"closures": ["20261224"]}, "hours.closures[0]: "),
        ({"closures": ["2026-12-31..2026-12-27"]}, 'hours.closures[0]: "2026-12-31..2026-12-27" ends before'),
        ({"closures": ["2026-12-27..2026-02-30"]}, "hours.closures[0]: "),
        ({"closures": ["2026-12-27.."]}, "hours.closures[0]: "),
        ({"closures": [datetime(2026, 12, 24, 9)]}, "hours.closures[0]: expected a date string"),
        ({"closures": "2026-12-24"}, "hours.closures: expected a list"),
        ({"timezone": "Europe/Olso"}, 'hours.timezone: "Europe/Olso" is not a known time zone'),
        ({"timezone": "../etc/passwd"}, "hours.timezone: "),
        ({"timezone": ""}, "hours.timezone: "),
        ({"timezone": 1}, "hours.timezone: expected a string"),
        ({"public_holidays": "XX"}, 'hours.public_holidays: "XX" is not a supported country code'),
        ({"public_holidays": "no"}, "hours.public_holidays: "),
        ({"public_holidays": False}, "hours.public_holidays: expected"),
        ({"opening": {}}, "hours.opening: unknown key"),
        (
            {"channel": {"webchat": {"weekly": {"fri": ["09:00-15:30", "15:00-16:00"]}}}},
            "hours.channel.webchat.weekly.fri[1]: ",
        ),
        (
            {"channel": {"webchat": {"weekly": {"fredag": []}}}},
            "hours.channel.webchat.weekly.fredag: unknown key",
        ),
        ({"channel": {"webchat": {"closures": []}}}, "hours.channel.webchat.closures: unknown key"),
        ({"channel": {"webchat": {}}}, 'hours.channel.webchat: missing the "weekly" table'),
        ({"channel": {"webchat": ["09:00-15:30"]}}, "hours.channel.webchat: expected a table"),
        ({"channel": []}, "hours.channel: expected a table"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, object], prefix: str) -> None:
    with pytest.raises(HoursConfigError) as excinfo:
        OpeningHours.from_config(table)
    assert str(excinfo.value).startswith(prefix), str(excinfo.value)


def test_config_error_is_a_value_error_with_full_message() -> None:
    with pytest.raises(ValueError, match=r"\(HH:MM-HH:MM\)$") as excinfo:
        OpeningHours.from_config({"weekly": {"mon": ["25:00-26:00"]}})
    assert str(excinfo.value) == 'hours.weekly.mon[0]: "25:00-26:00" is not a valid time span (HH:MM-HH:MM)'


def test_hours_table_must_be_a_table() -> None:
    with pytest.raises(HoursConfigError, match=r"^hours: expected a table"):
        OpeningHours.from_config(["weekly"])  # type: ignore[arg-type]


# --- WeeklySchedule.parse directly ----------------------------------------------------------------------


def test_weekly_parse_missing_days_are_closed_and_spans_sorted() -> None:
    schedule = WeeklySchedule.parse({"wed": ["13:00-15:00", "08:00-10:30"]}, "x.weekly")
    assert schedule.days == ((), (), (Span(480, 630), Span(780, 900)), (), (), (), ())
    assert WeeklySchedule.parse({}, "x.weekly") == WeeklySchedule.closed()


def test_weekly_parse_uses_given_path() -> None:
    with pytest.raises(HoursConfigError, match=r"^x\.weekly\.sun\[0\]: "):
        WeeklySchedule.parse({"sun": ["ab:cd-ef:gh"]}, "x.weekly")


def test_weekly_schedule_needs_seven_days() -> None:
    with pytest.raises(ValueError, match="7 days"):
        WeeklySchedule(((),))


# --- the answer per minute ------------------------------------------------------------------------------


def test_the_answer_is_computed_once_a_minute_per_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    hours = default_hours()
    walks: list[str | None] = []
    original = OpeningHours._open_intervals

    def counted(self: OpeningHours, first_day: date, days: int, channel: str | None) -> object:
        walks.append(channel)
        return original(self, first_day, days, channel)

    monkeypatch.setattr(OpeningHours, "_open_intervals", counted)
    tuesday = oslo(2026, 6, 9, 10)
    for second in range(60):
        at = tuesday + timedelta(seconds=second, microseconds=second * 1000)
        assert hours.is_open(at)
        assert not hours.is_open(at, "webchat")  # web chat: Mondays and Fridays only
        assert hours.next_opening(at, "webchat") == oslo(2026, 6, 12, 9)
    # Each channel's minute: open at its first and last instant, and (closed) the next opening.
    assert walks.count(None) == 2
    assert walks.count("webchat") == 3
    hours.is_open(tuesday + timedelta(minutes=1))
    assert walks.count(None) == 4  # a new minute, a new answer


def test_answers_across_minute_boundaries_in_one_sequence() -> None:
    """One object asked one instant after another (as the service asks it, its clock moving on and, in
    tests, back), each answer right for its own instant."""
    hours = default_hours()
    steps = [
        (oslo(2026, 6, 9, 8, 58, 59), False, oslo(2026, 6, 9, 9)),
        (oslo(2026, 6, 9, 8, 59), False, oslo(2026, 6, 9, 9)),
        (oslo(2026, 6, 9, 8, 59, 59) + timedelta(microseconds=999_999), False, oslo(2026, 6, 9, 9)),
        (oslo(2026, 6, 9, 9), True, oslo(2026, 6, 9, 9)),
        (oslo(2026, 6, 9, 9, 0, 1), True, oslo(2026, 6, 9, 9, 0, 1)),
        (oslo(2026, 6, 9, 15, 59, 59), True, oslo(2026, 6, 9, 15, 59, 59)),
        (oslo(2026, 6, 9, 16), False, oslo(2026, 6, 10, 9)),
        (oslo(2026, 6, 9, 16, 0, 30), False, oslo(2026, 6, 10, 9)),
        (oslo(2026, 6, 9, 8, 59, 30), False, oslo(2026, 6, 9, 9)),  # back in time
        (oslo(2026, 6, 9, 9, 0, 0), True, oslo(2026, 6, 9, 9)),
    ]
    for at, open_, next_opening in steps:
        assert hours.is_open(at) is open_, at
        assert hours.next_opening(at) == next_opening, at
        assert hours.is_open(at, "phone") is open_  # a channel without its own hours: the same answer


def test_a_boundary_inside_a_minute_is_answered_for_the_instant() -> None:
    # Africa/Monrovia's clocks went from -0:44:30 to 0:00 on 1972-01-07: every span boundary that day and
    # before sits half a minute off the UTC minute, so no minute of its opening has one answer.
    hours = OpeningHours.from_config(
        {
            "timezone": "Africa/Monrovia",
            "public_holidays": "",
            "weekly": {d: ["09:00-16:00"] for d in ALL_DAYS},
        }
    )
    opens = datetime(1972, 1, 6, 9, 0, tzinfo=ZoneInfo("Africa/Monrovia")).astimezone(UTC)
    assert opens.second == 30
    assert not hours.is_open(opens - timedelta(seconds=1))
    assert hours.is_open(opens)
    assert hours.next_opening(opens - timedelta(seconds=1)) == opens
