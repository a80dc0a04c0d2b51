"""Opening hours of the helpline, from the `[hours]` table of the configuration.

The bot tells people outside opening hours that nobody is reading right now and when someone will be, so
"open" must match what counsellors see on the wall clock in the office, including on DST days, public
holidays and the line's own closures (Christmas Eve and New Year's Eve are not public holidays in Norway).

Pure code on purpose: the bot and the staff UI both ask these questions, and tests can pin any instant.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "HoursConfigError",
    "OpeningHours",
    "Span",
    "WeeklySchedule",
    "default_hours",
]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# Far enough to cover a year's worth of closures plus a long summer break; "never opens" beyond that is
# treated as a configuration that nobody should rely on, not as an instant to compute.
HORIZON_DAYS = 400

_HOURS_KEYS: tuple[str, ...] = ("timezone", "public_holidays", "closures", "weekly", "channel")
_CHANNEL_KEYS: tuple[str, ...] = ("weekly",)
_SPAN_RE = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_FORMS = "YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"


class HoursConfigError(ValueError):
    """The message starts with the dotted key path so an operator can find the line in the TOML file."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


def _type_name(value: object) -> str:
    return type(value).__name__


def _table(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise HoursConfigError(path, f"expected a table, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise HoursConfigError(path, f"expected string keys, got {_type_name(key)}")
    return value


def _list(value: object, path: str, what: str) -> list[object]:
    # A bare string is a Sequence too; accepting it would iterate its characters.
    if not isinstance(value, list | tuple):
        raise HoursConfigError(path, f"expected a list of {what}, got {_type_name(value)}")
    return list(value)


def _reject_unknown_keys(table: Mapping[str, object], path: str, known: tuple[str, ...]) -> None:
    for key in table:
        if key not in known:
            raise HoursConfigError(f"{path}.{key}", f"unknown key (expected one of {', '.join(known)})")


@dataclass(frozen=True)
class Span:
    """Minutes after local midnight; `end` may be 1440 ("24:00") so a span can run up to midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(f"invalid span {self.start}..{self.end} (minutes after midnight)")

    @classmethod
    def parse(cls, text: object, path: str) -> Span:
        if not isinstance(text, str):
            raise HoursConfigError(path, f'expected a string "HH:MM-HH:MM", got {_type_name(text)}')
        match = _SPAN_RE.fullmatch(text)
        if match is None:
            raise HoursConfigError(path, f'"{text}" is not a valid time span (HH:MM-HH:MM)')
        start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
        valid_start = start_h <= 23 and start_m <= 59
        # 24:00 is only meaningful as an end: "until midnight".
        valid_end = (end_h <= 23 and end_m <= 59) or (end_h == 24 and end_m == 0)
        if not (valid_start and valid_end):
            raise HoursConfigError(path, f'"{text}" is not a valid time span (HH:MM-HH:MM)')
        start, end = start_h * 60 + start_m, end_h * 60 + end_m
        if start >= end:
            # Spans over midnight are written as two spans ("22:00-24:00" and "00:00-02:00" next day),
            # which keeps every span inside one calendar day and so under that day's closures/holidays.
            raise HoursConfigError(path, f'"{text}" does not end after it starts')
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


@dataclass(frozen=True)
class WeeklySchedule:
    """Open spans per weekday, Monday first, each day's spans sorted and not overlapping."""

    days: tuple[tuple[Span, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != len(WEEKDAYS):
            raise ValueError(f"a weekly schedule has {len(WEEKDAYS)} days, got {len(self.days)}")

    @classmethod
    def parse(cls, table: Mapping[str, object], path: str) -> WeeklySchedule:
        table = _table(table, path)
        _reject_unknown_keys(table, path, WEEKDAYS)
        days: list[tuple[Span, ...]] = []
        for weekday in WEEKDAYS:
            day_path = f"{path}.{weekday}"
            items = _list(table.get(weekday, []), day_path, 'strings "HH:MM-HH:MM"')
            spans: list[Span] = []
            for index, item in enumerate(items):
                span = Span.parse(item, f"{day_path}[{index}]")
                for earlier in spans:
                    if span.start < earlier.end and earlier.start < span.end:
                        raise HoursConfigError(f"{day_path}[{index}]", f'"{span}" overlaps "{earlier}"')
                spans.append(span)
            days.append(tuple(sorted(spans, key=lambda s: s.start)))
        return cls(tuple(days))

    @classmethod
    def closed(cls) -> WeeklySchedule:
        return cls(tuple(() for _ in WEEKDAYS))


def _parse_date(text: str, path: str, original: str) -> date:
    if _DATE_RE.fullmatch(text) is None:
        raise HoursConfigError(path, f'"{original}" is not a valid date ({_DATE_FORMS})')
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HoursConfigError(path, f'"{original}" is not a valid date ({_DATE_FORMS})') from None


def _parse_closures(value: object, path: str) -> frozenset[date]:
    days: set[date] = set()
    for index, item in enumerate(_list(value, path, f"dates ({_DATE_FORMS})")):
        item_path = f"{path}[{index}]"
        # tomllib turns an unquoted 2026-12-24 into a date; a datetime (also a date subclass) is a mistake.
        if isinstance(item, date) and not isinstance(item, datetime):
            days.add(item)
            continue
        if not isinstance(item, str):
            raise HoursConfigError(
                item_path, f"expected a date string ({_DATE_FORMS}), got {_type_name(item)}"
            )
        first_text, sep, last_text = item.partition("..")
        first = _parse_date(first_text, item_path, item)
        if not sep:
            days.add(first)
            continue
        last = _parse_date(last_text, item_path, item)
        if last < first:
            raise HoursConfigError(item_path, f'"{item}" ends before it starts')
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return frozenset(days)


def _parse_timezone(value: object, path: str) -> ZoneInfo:
    if not isinstance(value, str):
        raise HoursConfigError(path, f"expected a string (IANA time zone), got {_type_name(value)}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise HoursConfigError(path, f'"{value}" is not a known time zone') from None


def _parse_country(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise HoursConfigError(path, f'expected a country code string or "", got {_type_name(value)}')
    if value and value not in holidays.list_supported_countries():
        raise HoursConfigError(path, f'"{value}" is not a supported country code for public holidays')
    return value


def _parse_channels(value: object, path: str) -> Mapping[str, WeeklySchedule]:
    channels: dict[str, WeeklySchedule] = {}
    for name, channel_table in _table(value, path).items():
        channel_path = f"{path}.{name}"
        table = _table(channel_table, channel_path)
        _reject_unknown_keys(table, channel_path, _CHANNEL_KEYS)
        if "weekly" not in table:
            # An empty override would silently mean "as the main schedule"; say so instead of guessing.
            raise HoursConfigError(channel_path, 'missing the "weekly" table')
        channels[name] = WeeklySchedule.parse(
            _table(table["weekly"], f"{channel_path}.weekly"), f"{channel_path}.weekly"
        )
    return MappingProxyType(channels)


@functools.cache
def _public_holidays(country: str, year: int) -> frozenset[date]:
    # Building a holidays calendar is slow compared with a set lookup, and the answers for a year never
    # change within a process, so one calendar per (country, year) is enough.
    return frozenset(holidays.country_holidays(country, years=year).keys())


def _as_utc(at: datetime) -> datetime:
    """Work in UTC: comparing aware datetimes of different zones with == is always False when one of
    them is in a DST fold (PEP 495), so mixing the caller's zone with ours would be a trap."""
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        raise ValueError(f"{at.isoformat()} has no time zone; opening hours need an aware datetime")
    return at.astimezone(UTC)


def _first_instant_at_or_after(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in `tz` shows `minute` of `day` or later.

    Spans are wall-clock times, and DST makes some wall times ambiguous or nonexistent:
    - In the autumn fold (02:00-03:00 happens twice in Europe/Oslo), fold=0 is the first occurrence,
      so a span opens/closes the first time the clock reaches its boundary and doesn't reopen when
      the clock is set back.
    - In the spring gap (02:00-03:00 never happens), neither fold is right: fold=0 lands after the
      gap by its full length, fold=1 lands before the gap. The clock first reaches the wall time at
      the transition itself, found by bisection between the two (tzdata transitions are on whole
      seconds). A span lying wholly in the gap therefore opens and closes at the same instant: it
      doesn't exist that day.
    """
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first <= second:
        return first
    before, after = second, first
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) // 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return after


@dataclass(frozen=True)
class OpeningHours:
    timezone: ZoneInfo
    weekly: WeeklySchedule
    # hash=False: a mapping isn't hashable, and two configs differing only there are rare enough.
    channel_weekly: Mapping[str, WeeklySchedule] = field(hash=False)
    closures: frozenset[date]
    public_holidays: str
    # Per channel, the last minute asked about: (minute since the epoch, open, next opening when closed).
    # Every message asks is_open and often next_opening, and each answer walks days of spans through
    # DST-safe conversions; within one minute the answer cannot change (spans are whole minutes), so it
    # is computed once a minute per channel. Keyed by the instant asked, never by the wall clock, so a
    # test's clock (or one going back) gets the answer for its own instant.
    _minute: dict[str | None, tuple[int, bool, datetime | None]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @classmethod
    def from_config(cls, hours_table: Mapping[str, object] | None) -> OpeningHours:
        """Missing keys keep the published defaults, so a config may override only what differs.

        That includes `channel`: leaving it out keeps the default webchat hours; `channel = {}` removes
        all channel overrides.
        """
        default = default_hours()
        if hours_table is None:
            return default
        table = _table(hours_table, "hours")
        _reject_unknown_keys(table, "hours", _HOURS_KEYS)
        timezone = default.timezone
        if "timezone" in table:
            timezone = _parse_timezone(table["timezone"], "hours.timezone")
        public_holidays = default.public_holidays
        if "public_holidays" in table:
            public_holidays = _parse_country(table["public_holidays"], "hours.public_holidays")
        closures = default.closures
        if "closures" in table:
            closures = _parse_closures(table["closures"], "hours.closures")
        weekly = default.weekly
        if "weekly" in table:
            weekly = WeeklySchedule.parse(_table(table["weekly"], "hours.weekly"), "hours.weekly")
        channel_weekly = default.channel_weekly
        if "channel" in table:
            channel_weekly = _parse_channels(table["channel"], "hours.channel")
        return cls(
            timezone=timezone,
            weekly=weekly,
            channel_weekly=channel_weekly,
            closures=closures,
            public_holidays=public_holidays,
        )

    def schedule_for(self, channel: str | None) -> WeeklySchedule:
        if channel is None:
            return self.weekly
        return self.channel_weekly.get(channel, self.weekly)

    def is_closed_day(self, d: date) -> bool:
        if d in self.closures:
            return True
        return bool(self.public_holidays) and d in _public_holidays(self.public_holidays, d.year)

    def _open_intervals(
        self, first_day: date, days: int, channel: str | None
    ) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals [opens, closes) in UTC, in time order, for `days` local days from `first_day`.

        Working with instants rather than comparing wall times keeps is_open, next_opening and closes_at
        consistent with each other on DST days (see _first_instant_at_or_after).
        """
        schedule = self.schedule_for(channel)
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            if self.is_closed_day(day):
                continue
            for span in schedule.days[day.weekday()]:
                opens = _first_instant_at_or_after(day, span.start, self.timezone)
                closes = _first_instant_at_or_after(day, span.end, self.timezone)
                if opens < closes:
                    yield opens, closes

    def _local_day(self, at: datetime) -> date:
        return at.astimezone(self.timezone).date()

    def is_open(self, at: datetime, channel: str | None = None) -> bool:
        return self._this_minute(_as_utc(at), channel)[0]

    def _this_minute(self, at: datetime, channel: str | None) -> tuple[bool, datetime | None]:
        """(open at `at`, the next opening when closed), from the answer for `at`'s whole minute."""
        minute = int(at.timestamp() // 60)
        known = self._minute.get(channel)
        if known is not None and known[0] == minute:
            return known[1], known[2]
        first = datetime.fromtimestamp(minute * 60, UTC)
        last = first + timedelta(seconds=59, microseconds=999_999)
        open_ = self._is_open(first, channel)
        opens = None if open_ else self._next_opening(first, channel)
        if open_ != self._is_open(last, channel) or (opens is not None and opens <= last):
            # A boundary inside the minute (a time zone whose DST change is not on a whole minute): the
            # minute has no one answer, so this instant gets its own.
            open_ = self._is_open(at, channel)
            return open_, None if open_ else self._next_opening(at, channel)
        self._minute[channel] = (minute, open_, opens)
        return open_, opens

    def _is_open(self, at: datetime, channel: str | None) -> bool:
        # The neighbouring days are included because a DST change at midnight (some zones have them)
        # can put an instant under the previous or next day's date.
        first_day = self._local_day(at) - timedelta(days=1)
        return any(opens <= at < closes for opens, closes in self._open_intervals(first_day, 3, channel))

    def next_opening(self, at: datetime, channel: str | None = None) -> datetime | None:
        """The earliest moment >= `at` when the line is open, in the line's time zone.

        When open now that is `at` itself, converted to the line's time zone: the same instant, though
        during the autumn fold hour `==` against an `at` from another zone is False (PEP 495); compare
        `.timestamp()` there. None when nothing opens within HORIZON_DAYS.
        """
        at = _as_utc(at)
        open_, opens = self._this_minute(at, channel)
        return at.astimezone(self.timezone) if open_ else opens

    def _next_opening(self, at: datetime, channel: str | None) -> datetime | None:
        first_day = self._local_day(at) - timedelta(days=1)
        for opens, closes in self._open_intervals(first_day, HORIZON_DAYS + 2, channel):
            if closes <= at:
                continue
            return max(opens, at).astimezone(self.timezone)
        return None

    def closes_at(self, at: datetime, channel: str | None = None) -> datetime | None:
        """When the open period containing `at` ends, None when closed at `at`.

        Spans that touch (one ends at 24:00, the next starts at 00:00 the next day, or "09:00-12:00" and
        "12:00-16:00") are one open period. A line open around the clock with no closed day in sight
        gets the end of the HORIZON_DAYS window, the furthest this looks ahead.
        """
        at = _as_utc(at)
        first_day = self._local_day(at) - timedelta(days=1)
        end: datetime | None = None
        for opens, closes in self._open_intervals(first_day, HORIZON_DAYS + 2, channel):
            if end is None:
                if opens <= at < closes:
                    end = closes
                elif opens > at:
                    return None
            elif opens <= end:
                end = max(end, closes)
            else:
                break
        return None if end is None else end.astimezone(self.timezone)


def _weekdays(spans: tuple[Span, ...], open_days: tuple[str, ...]) -> WeeklySchedule:
    return WeeklySchedule(tuple(spans if weekday in open_days else () for weekday in WEEKDAYS))


def stat_month(now: datetime, hours: OpeningHours) -> str:
    """The month an anonymous record counts in: the line's local month (a message at 00:30 on the 1st in
    Oslo is the new month's, though it is still the old one in UTC)."""
    return local_month(now, hours.timezone)


def local_month(now: datetime, timezone: ZoneInfo) -> str:
    return now.astimezone(timezone).strftime("%Y-%m")


def default_hours() -> OpeningHours:
    """The helpline's published hours: phone Mon–Fri 09:00–16:00, chat only Mon and Fri 09:00–15:30."""
    return OpeningHours(
        timezone=ZoneInfo("Europe/Oslo"),
        weekly=_weekdays((Span(9 * 60, 16 * 60),), ("mon", "tue", "wed", "thu", "fri")),
        channel_weekly=MappingProxyType(
            {"webchat": _weekdays((Span(9 * 60, 15 * 60 + 30),), ("mon", "fri"))}
        ),
        closures=frozenset(),
        public_holidays="NO",
    )
