"""The year's report as JSON, CSV, a self-contained HTML page with SVG charts, or an xlsx workbook.

Charts are drawn by matplotlib without pyplot (a Figure of its own, no global state, the Agg renderer):
SVG inlined in the HTML, so the page makes no request and prints to PDF from a browser; PNG in the xlsx.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import matplotlib
from jinja2 import Environment
from matplotlib.figure import Figure

from intake.disclosure import suppress
from intake.report_labels import label, title

# A Figure draws without pyplot; should anything reach for pyplot, it gets Agg (no display), not a GUI.
matplotlib.use("Agg")
# Text as text in the SVG (selectable, searchable, small), and the same ids for the same report.
matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "helpline-report"})

FORMATS = ("html", "xlsx", "csv", "json")
CHARTED = ("by_month", "by_channel", "by_topic", "activities_by_month")
# A cell a spreadsheet would take for a formula (or DDE) when it starts with one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass(frozen=True)
class Row:
    id: str
    label: str
    value: int | str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    rows: list[Row]


def _rows(table: str, values: dict[str, Any], lang: str) -> list[Row]:
    return [Row(key, label(table, key, lang), value) for key, value in values.items()]


def _percent(change: object, lang: str) -> str:
    if not isinstance(change, float | int):
        return "x" if change == "x" else "–"
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    return f"{sign}{abs(round(change * 100))} %"


def sections(report: dict[str, Any], lang: str) -> list[Section]:
    """The report's tables in the annual report's order, labelled."""
    out = [
        Section(
            "first_contacts",
            title("first_contacts", lang),
            _rows("first_contacts", report["first_contacts"], lang),
        )
    ]
    change = _percent(report["change_from_previous_year"], lang)
    out.append(Section("change", title("change", lang), [
        Row("previous_year_total", title("previous_year_total", lang), report["previous_year_total"]),
        Row("change_from_previous_year", title("change", lang), change),
    ]))  # fmt: skip
    for key in ("by_month", "by_channel", "by_role", "by_age_group", "by_gender", "by_topic", "by_subtopic",
                "by_country"):  # fmt: skip
        out.append(Section(key, title(key, lang), _rows(key, report[key], lang)))
    follow_up = title("follow_up_cases", lang)
    out.append(
        Section("follow_up_cases", follow_up, [Row("follow_up_cases", follow_up, report["follow_up_cases"])])
    )
    for key, values in report["cases"].items():
        out.append(Section(f"cases/{key}", title(f"cases/{key}", lang), _rows(f"cases/{key}", values, lang)))
    for origin, values in report["activities"].items():
        name = title("activities", lang, origin=label("cases", origin, lang).lower())
        out.append(Section(f"activities/{origin}", name, _rows("activities", values, lang)))
    out.append(Section("activities_by_month", title("activities_by_month", lang),
                       _rows("activities_by_month", report["activities_by_month"], lang)))  # fmt: skip
    decisions = [
        Row(f"{duty}:{decision}", f"{label('', duty, lang)}: {label('', decision, lang).lower()}", n)
        for duty, table in report["concern_decisions"].items()
        for decision, n in table.items()
    ]
    out.append(Section("concern_decisions", title("concern_decisions", lang), decisions))
    return out


def chart(section: Section, fmt: str) -> bytes:
    """A bar chart of one table; hidden cells drawn as empty bars marked with what is printed."""
    horizontal = section.key in ("by_channel", "by_topic")
    heights = [row.value if isinstance(row.value, int) else 0 for row in section.rows]
    labels = [row.label[:3] if section.key.endswith("by_month") else row.label for row in section.rows]
    figure = Figure(figsize=(7.0, 3.2 if not horizontal else 0.35 * len(labels) + 0.8), layout="constrained")
    axes = figure.add_subplot()
    positions = range(len(labels))
    bars = (axes.barh if horizontal else axes.bar)(positions, heights, color="#1d5c8f")
    axes.bar_label(bars, labels=[str(row.value) for row in section.rows], padding=2, fontsize=8)
    # Counts start at zero, also when all are zero (matplotlib would centre an empty axis on it).
    if horizontal:
        axes.set_yticks(list(positions), labels, fontsize=8)
        axes.invert_yaxis()
        axes.set_xlim(left=0, right=max(1, *heights) * 1.1)
    else:
        axes.set_xticks(list(positions), labels, fontsize=8)
        axes.set_ylim(bottom=0, top=max(1, *heights) * 1.1)
    axes.set_title(section.title, fontsize=10)
    axes.spines[["top", "right"]].set_visible(False)
    out = io.BytesIO()
    # No date in the SVG's metadata: the same report gives the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {}
    figure.savefig(out, format=fmt, metadata=metadata, dpi=110)
    return out.getvalue()


def safe_cell(value: object) -> object:
    """A text a spreadsheet shows as text: a leading ' keeps "=cmd|..." and the like from running."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv(report: dict[str, Any], lang: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["table", "id", title("category", lang), title("count", lang)])
    for section in sections(report, lang):
        for row in section.rows:
            writer.writerow([safe_cell(x) for x in (section.title, row.id, row.label, row.value)])
    # With a byte-order mark spreadsheet programs read it as UTF-8 (æ, ø, å).
    return ("\ufeff" + out.getvalue()).encode()


def _xlsx(report: dict[str, Any], lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(report["year"])
    sheet.append([safe_cell(title("report", lang, year=report["year"]))])
    sheet["A1"].font = Font(bold=True, size=14)
    charts = workbook.create_sheet("Diagram" if lang == "nb" else "Charts")
    chart_row = 1
    for section in sections(report, lang):
        sheet.append([])
        sheet.append([safe_cell(section.title)])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
        for row in section.rows:
            sheet.append([safe_cell(row.label), safe_cell(row.value)])
        if section.key in CHARTED:
            image = Image(io.BytesIO(chart(section, "png")))
            charts.add_image(image, f"A{chart_row}")
            chart_row += int(image.height / 20) + 2
    sheet.column_dimensions["A"].width = 48
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ heading }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
table{border-collapse:collapse;min-width:24rem}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}.chart svg{max-width:100%;height:auto}
section{break-inside:avoid}p.legend{color:#555;font-size:.9rem}
</style></head><body>
<h1>{{ heading }}</h1>
{% if public %}<p class="legend">{{ legend }}</p>{% endif %}
{% for s in sections %}<section id="{{ s.key }}"><h2>{{ s.title }}</h2>
{% if s.key in charts %}<div class="chart">{{ charts[s.key] | safe }}</div>{% endif %}
<table><tbody>{% for r in s.rows %}<tr><td>{{ r.label }}</td><td class="n">{{ r.value }}</td></tr>{% endfor %}
</tbody></table></section>
{% endfor %}</body></html>
"""


def _svg(section: Section) -> str:
    text = chart(section, "svg").decode()
    return text[text.index("<svg") :]  # inline: no XML declaration nor doctype inside HTML


def _html(report: dict[str, Any], lang: str, public: bool) -> bytes:
    listed = sections(report, lang)
    page = Environment(autoescape=True).from_string(PAGE)
    return page.render(
        lang=lang,
        heading=title("report", lang, year=report["year"]),
        legend=title("legend", lang),
        public=public,
        sections=listed,
        charts={s.key: _svg(s) for s in listed if s.key in CHARTED},
    ).encode()


def render(report: dict[str, Any], fmt: str, *, lang: str = "nb", public: bool = False) -> bytes:
    shown = suppress(report) if public else report
    if fmt == "json":
        return (json.dumps(shown, ensure_ascii=False, indent=2) + "\n").encode()
    if fmt == "csv":
        return _csv(shown, lang)
    if fmt == "xlsx":
        return _xlsx(shown, lang)
    if fmt == "html":
        return _html(shown, lang, public)
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
