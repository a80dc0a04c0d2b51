"""The year's report as JSON, CSV, a self-contained HTML page with SVG charts, or an xlsx workbook."""

from __future__ import annotations

import json
from typing import Any

FORMATS = ("html", "xlsx", "csv", "json")


def render(report: dict[str, Any], fmt: str, *, lang: str = "nb", public: bool = False) -> bytes:
    if fmt == "json":
        return (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode()
    raise ValueError(fmt)
