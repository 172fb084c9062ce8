"""The statistics page's tables in the reader's language, and the same tables as CSV and XLSX files: one section
(CSV) or sheet (XLSX) per table, or one table by its key; text a spreadsheet would run as a formula is defused."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _

from app.services.statistics import StepLeadTime, UsageCount, UsageReport
from app.web.labels import DOCUMENT_TYPE_LABELS, diagram_text, process_label

Cell = str | int | float

# A cell starting with one of these is a formula to Excel, LibreOffice and Sheets (OWASP's CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What a sheet's name may not hold, and its length (Excel's rules).
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_LIMIT = 31


@dataclass(frozen=True)
class StatsTable:
    """One table: its key (?table=…), its title, its headings and its rows (numbers stay numbers)."""

    key: str
    title: str
    headings: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def hours(duration: timedelta) -> float:
    """A duration in hours, to the hundredth (what a spreadsheet adds up)."""
    return round(duration.total_seconds() / 3600, 2)


def department_label(count: UsageCount) -> str:
    return count.name if count.key is not None else _("No department")


def document_type_label(count: UsageCount) -> str:
    return str(DOCUMENT_TYPE_LABELS.get(count.name, count.name))


def process_name(count: UsageCount) -> str:
    return process_label(count.name)


def _counts(key: str, title: str, what: str, rows: tuple[UsageCount, ...],
            label: Callable[[UsageCount], str] = lambda c: c.name) -> StatsTable:
    return StatsTable(key, title, (what, _("Uses")), tuple((label(c), c.count) for c in rows))


def stats_tables(report: UsageReport, steps: tuple[StepLeadTime, ...]) -> list[StatsTable]:
    """Every table of the page, in its order."""
    return [
        _counts("seals", _("Uses by seal"), _("Seal"), report.by_seal),
        _counts("departments", _("Uses by department"), _("Department"), report.by_department, department_label),
        StatsTable("months", _("Uses by month"), (_("Month"), _("Uses")),
                   tuple((m.label, m.count) for m in report.by_month)),
        _counts("document_types", _("Uses by document type"), _("Document type"), report.by_document_type,
                document_type_label),
        _counts("processes", _("Uses by process"), _("Process"), report.by_process, process_name),
        StatsTable("lead_times", _("Approval lead times"),
                   (_("Process"), _("Step"), _("Decided"), _("Median (hours)"), _("90th percentile (hours)"),
                    _("Longest (hours)")),
                   tuple((process_label(s.process_id), diagram_text(s.step_name), s.count, hours(s.median),
                          hours(s.p90), hours(s.longest)) for s in steps)),
    ]


def defused(cell: Cell) -> Cell:
    """The cell as a spreadsheet should show it: text that would start a formula gets a leading apostrophe."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def to_csv(tables: list[StatsTable]) -> str:
    """One table as a plain CSV (headings, rows); several as sections: the title on a line, the table, an empty
    line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for table in tables:
        if len(tables) > 1:
            writer.writerow([defused(table.title)])
        writer.writerow([defused(h) for h in table.headings])
        writer.writerows([defused(c) for c in row] for row in table.rows)
        if len(tables) > 1:
            writer.writerow([])
    return out.getvalue()


def _sheet_name(title: str, taken: set[str]) -> str:
    name = SHEET_FORBIDDEN.sub(" ", title)[:SHEET_NAME_LIMIT].strip("' ") or "Sheet"
    base, number = name, 2
    while name.lower() in taken:
        suffix = f" {number}"
        name, number = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix, number + 1
    taken.add(name.lower())
    return name


def to_xlsx(tables: list[StatsTable]) -> bytes:
    """A workbook with one sheet per table, named by its title, headings in the first row."""
    from openpyxl import Workbook  # 0.1 s to import: loaded by the first export, not by every web worker

    workbook = Workbook(write_only=True)
    taken: set[str] = set()
    for table in tables:
        sheet = workbook.create_sheet(_sheet_name(table.title, taken))
        sheet.append([defused(h) for h in table.headings])
        for row in table.rows:
            sheet.append([defused(c) for c in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
