"""Structured logs are one JSON object per line, with extra fields as keys."""

from __future__ import annotations

import json
import logging

from bots.logs import JsonFormatter


def test_json_formatter_writes_one_object_with_extra_fields() -> None:
    record = logging.LogRecord(
        "intake.service", logging.WARNING, __file__, 1, "send failed on %s", ("sms",), None
    )
    record.channel = "sms"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["msg"] == "send failed on sms"
    assert entry["channel"] == "sms"
    assert entry["logger"] == "intake.service"
    assert "\n" not in line


def test_exceptions_stay_inside_the_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["error"]
