"""Category records for first-time contacts that did not come through the bot (phone, e-mail, in person),
and the import of earlier years' spreadsheets. Each is one anonymous record, like the bot's own."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from intake.categories import (
    NOT_STATED,
    SUBTOPIC_OF,
    TOPICS,
    AgeGroup,
    Gender,
    InquiryKind,
    RecordChannel,
    Role,
    option_ids,
    with_main_topics,
)
from intake.countries import normalise_country
from intake.storage.uow import Database

MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
TOPIC_IDS = option_ids(TOPICS) | frozenset(SUBTOPIC_OF)
CSV_COLUMNS = ("month", "channel", "role", "kind", "age_group", "gender", "topics", "country", "follow_up")
FIELDS: dict[str, frozenset[str]] = {
    "channel": frozenset(RecordChannel),
    "role": frozenset(Role),
    "kind": frozenset(InquiryKind),
    "age_group": frozenset(AgeGroup),
    "gender": frozenset(Gender),
}


class RecordError(ValueError):
    """A field of a record that cannot be stored; the message names the field and what it takes."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class Record:
    month: str
    channel: str
    role: str | None = None
    kind: str | None = None
    age_group: str = NOT_STATED
    gender: str = NOT_STATED
    topics: list[str] = field(default_factory=list)
    country: str | None = None
    follow_up: bool = False

    def columns(self) -> dict[str, Any]:
        """The anonymous record's columns (registered by staff: never outside hours, closed by staff)."""
        return {**asdict(self), "outside_hours": False, "closed_by_staff": True}


def _choice(name: str, value: object, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise RecordError(name, f"required, one of {', '.join(sorted(FIELDS[name]))}")
        return None
    if not isinstance(value, str) or value not in FIELDS[name]:
        raise RecordError(name, f"unknown value {value!r}; one of {', '.join(sorted(FIELDS[name]))}")
    return value


def _month(value: object, today: date) -> str:
    if value is None or value == "":
        return f"{today.year:04d}-{today.month:02d}"
    if not isinstance(value, str) or not MONTH.fullmatch(value):
        raise RecordError("month", f"{value!r} is not a month as YYYY-MM")
    if value > f"{today.year:04d}-{today.month:02d}":
        raise RecordError("month", f"{value} has not begun yet")
    return value


def _topics(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise RecordError("topics", "a list of topic ids")
    unknown = sorted(set(value) - TOPIC_IDS)
    if unknown:
        raise RecordError("topics", f"unknown topic {unknown[0]!r}; one of {', '.join(sorted(TOPIC_IDS))}")
    return with_main_topics(value)


def _country(value: object) -> str | None:
    if value is None or value == "" or value == NOT_STATED:
        return None
    code = normalise_country(value) if isinstance(value, str) else None
    if code is None:
        raise RecordError("country", f"{value!r} is not an ISO 3166 country code (e.g. NO, SO, IQ)")
    return code


def parse_record(data: Mapping[str, object], today: date) -> Record:
    """A record from the API's JSON (or an import row made into the same shape); RecordError names the
    first field that cannot be stored."""
    unknown = sorted(set(data) - set(CSV_COLUMNS))
    if unknown:
        raise RecordError(unknown[0], "no such field")
    follow_up = data.get("follow_up", False)
    if not isinstance(follow_up, bool):
        raise RecordError("follow_up", "true or false")
    return Record(
        month=_month(data.get("month"), today),
        channel=_choice("channel", data.get("channel"), required=True) or "",
        role=_choice("role", data.get("role")),
        kind=_choice("kind", data.get("kind")),
        age_group=_choice("age_group", data.get("age_group")) or NOT_STATED,
        gender=_choice("gender", data.get("gender")) or NOT_STATED,
        topics=_topics(data.get("topics")),
        country=_country(data.get("country")),
        follow_up=follow_up,
    )


def _csv_row(row: Mapping[str, str | None]) -> dict[str, object]:
    """A spreadsheet row in the API's shape: topics split on ';', follow_up from true/false."""
    data: dict[str, object] = {name: (row.get(name) or "").strip() for name in CSV_COLUMNS}
    topics = str(data["topics"])
    data["topics"] = [t.strip() for t in topics.split(";") if t.strip()]
    flag = str(data["follow_up"]).lower()
    if flag not in ("", "true", "false"):
        raise RecordError("follow_up", f"{data['follow_up']!r}: true or false")
    data["follow_up"] = flag == "true"
    return data


@dataclass(frozen=True)
class ImportResult:
    records: list[Record]
    errors: list[str]


def read_csv(text: str, today: date) -> ImportResult:
    """Every row checked before any is stored; each bad one reported by its line number in the file."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [name for name in CSV_COLUMNS if name not in header]
    if missing:
        return ImportResult([], [f"line 1: missing column(s) {', '.join(missing)}"])
    reader.fieldnames = header
    records: list[Record] = []
    errors: list[str] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            errors.append(f"line {line}: more cells than columns")
            continue
        try:
            records.append(parse_record(_csv_row(row), today))
        except RecordError as exc:
            errors.append(f"line {line}: {exc}")
    return ImportResult(records, errors)


async def store(db: Database, records: Iterable[Record]) -> int:
    """All the records in one transaction: all of them are stored, or none."""
    rows = [record.columns() for record in records]
    async with db.uow() as uow:
        await uow.stats.add_many(rows)
        await uow.commit()
    return len(rows)
