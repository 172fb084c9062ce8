"""The archive: every seal application, searched, sorted, paged and exported (CSV, XLSX) for auditors and seal
administrators; a department head searches the applications of the people of their departments (and of the
departments below them)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Unpack

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import aliased

from app.errors import ExportTooLarge, InvalidInput, PermissionDenied
from app.extensions import db
from app.models import ApplicationStatus, Department, Document, DocumentKind, RoleName, Seal, SealApplication, User
from app.services import departments, people
from app.services.applications import DOCUMENT_TYPES

# Who sees every application.
ARCHIVE_ROLES = frozenset({RoleName.AUDITOR, RoleName.SEAL_ADMIN})
PER_PAGE_CHOICES = (25, 50, 100)
# An export is built in memory: past this many rows the search must be narrowed.
EXPORT_LIMIT = 50_000
TEXT_LIMIT = 200
# The export's columns, in order (the pages name them in their language).
EXPORT_COLUMNS = ("id", "filed_at", "title", "counterparty", "document_type", "amount", "copies", "requester",
                  "department", "seal", "process", "status", "sealed_at", "original_sha256")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ArchiveSearch:
    """What to look for (text matches any part, whatever the letter case; the filing dates are UTC days, both
    included), how to sort and which page."""

    counterparty: str = ""
    title: str = ""
    document_type: str | None = None
    requester: str = ""  # username or name
    department_id: int | None = None  # the requester's department, with the departments below it
    seal_id: int | None = None
    status: ApplicationStatus | None = None
    filed_from: date | None = None
    filed_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    sort: str = "filed"
    descending: bool = True
    page: int = 1
    per_page: int = PER_PAGE_CHOICES[0]


@dataclass(frozen=True)
class ArchiveRow:
    """One application as the archive lists and exports it."""

    id: int
    filed_at: datetime
    title: str
    counterparty: str
    document_type: str
    amount: Decimal | None
    copies: int
    requester: str
    requester_username: str
    department: str | None
    seal: str
    process_id: str
    status: ApplicationStatus
    sealed_at: datetime | None
    original_sha256: str | None


@dataclass(frozen=True)
class ArchivePage:
    rows: list[ArchiveRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class ExportLabels:
    """How an export names its columns and values; by default as stored (the pages pass their language's)."""

    headers: Mapping[str, str] = field(default_factory=dict)
    status: Callable[[str], str] = str
    document_type: Callable[[str], str] = str
    process: Callable[[str], str] = str


_Requester = aliased(User)
_RequesterDepartment = aliased(Department)
_Original = aliased(Document)
_SEALED_AT = (select(func.max(Document.created_at))
              .where(Document.application_id == SealApplication.id, Document.kind == DocumentKind.SEALED)
              .correlate(SealApplication).scalar_subquery().label("sealed_at"))
SORT_COLUMNS: dict[str, Any] = {
    "id": SealApplication.id, "filed": SealApplication.created_at, "title": SealApplication.title,
    "counterparty": SealApplication.counterparty, "document_type": SealApplication.document_type,
    "amount": SealApplication.amount, "requester": _Requester.display_name, "department": _RequesterDepartment.name,
    "seal": Seal.name, "status": SealApplication.status, "sealed": _SEALED_AT,
}


def can_search(user: User) -> bool:
    """Whether the user may open the archive: auditors, seal administrators and department heads."""
    return bool(user.role_names & ARCHIVE_ROLES) or user.heads_department


def visible_departments(user: User) -> set[int] | None:
    """The departments whose people's applications the user may search; None: all of them (and those of people
    in no department). PermissionDenied for someone who may not search at all."""
    if user.role_names & ARCHIVE_ROLES:
        return None
    headed = people.headed_by(user.id)
    if not headed:
        raise PermissionDenied("the archive is for auditors, seal administrators and department heads")
    return departments.departments_below([d.id for d in headed])


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _check(search: ArchiveSearch) -> None:
    texts = (search.counterparty, search.title, search.requester)
    if any(len(t) > TEXT_LIMIT for t in texts):
        raise InvalidInput(f"search texts are at most {TEXT_LIMIT} characters")
    if any("\x00" in t for t in texts):  # PostgreSQL compares no NUL
        raise InvalidInput("search texts cannot hold a NUL character")
    if search.document_type is not None and search.document_type not in DOCUMENT_TYPES:
        raise InvalidInput(f"unknown document type {search.document_type!r}")
    if search.sort not in SORT_COLUMNS:
        raise InvalidInput(f"cannot sort by {search.sort!r}")
    if not 1 <= search.per_page <= PER_PAGE_CHOICES[-1]:
        raise InvalidInput(f"a page holds 1 to {PER_PAGE_CHOICES[-1]} rows")


def _conditions(search: ArchiveSearch, scope: set[int] | None) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a search within the departments the user sees."""
    texts = ((search.counterparty, (SealApplication.counterparty,)), (search.title, (SealApplication.title,)),
             (search.requester, (_Requester.username, _Requester.display_name)))
    where = [or_(*(c.ilike(_like(text.strip()), escape="\\") for c in columns))
             for text, columns in texts if text.strip()]
    day_from = None if search.filed_from is None else datetime.combine(search.filed_from, time.min)
    day_to = None if search.filed_to is None else datetime.combine(search.filed_to, time.max)
    below = None if search.department_id is None else departments.departments_below([search.department_id])
    values: list[tuple[Any, Callable[[Any], ColumnElement[bool]]]] = [
        (search.document_type, lambda v: SealApplication.document_type == v),
        (search.seal_id, lambda v: SealApplication.seal_id == v),
        (search.status, lambda v: SealApplication.status == v),
        (day_from, lambda v: SealApplication.created_at >= v),
        (day_to, lambda v: SealApplication.created_at <= v),
        (search.amount_min, lambda v: SealApplication.amount >= v),
        (search.amount_max, lambda v: SealApplication.amount <= v),
        (below, lambda v: _Requester.department_id.in_(v)),
        # Someone who sees some departments only: nobody in no department, and nothing when they head none.
        (scope, lambda v: _Requester.department_id.in_(v) if v else false()),
    ]
    return where + [condition(value) for value, condition in values if value is not None]


def _query(search: ArchiveSearch, user: User) -> Select[Unpack[tuple[Any, ...]]]:
    """The one statement that finds the applications, with everything a row shows, unsorted."""
    _check(search)
    scope = visible_departments(user)
    query = (select(SealApplication.id, SealApplication.created_at, SealApplication.title,
                    SealApplication.counterparty, SealApplication.document_type, SealApplication.amount,
                    SealApplication.copies, _Requester.display_name, _Requester.username, _RequesterDepartment.name,
                    Seal.name, SealApplication.process_id, SealApplication.status, _SEALED_AT, _Original.sha256)
             .join(_Requester, SealApplication.requester_id == _Requester.id)
             .outerjoin(_RequesterDepartment, _Requester.department_id == _RequesterDepartment.id)
             .join(Seal, SealApplication.seal_id == Seal.id)
             .outerjoin(_Original, (_Original.application_id == SealApplication.id)
                        & (_Original.kind == DocumentKind.ORIGINAL) & (_Original.version == 1)))
    return query.where(*_conditions(search, scope))


def _sorted(query: Select[Unpack[tuple[Any, ...]]], search: ArchiveSearch) -> Select[Unpack[tuple[Any, ...]]]:
    column = SORT_COLUMNS[search.sort]
    direction = column.desc() if search.descending else column.asc()
    tie = SealApplication.id.desc() if search.descending else SealApplication.id.asc()
    # Empty values (no amount, never sealed) last either way, as both databases agree on.
    return query.order_by(column.is_(None), direction, tie)


def _rows(query: Select[Unpack[tuple[Any, ...]]]) -> list[ArchiveRow]:
    return [ArchiveRow(*row) for row in db.session.execute(query)]


def _count(query: Select[Unpack[tuple[Any, ...]]]) -> int:
    return db.session.execute(select(func.count()).select_from(query.subquery())).scalar() or 0


def search_archive(search: ArchiveSearch, user: User) -> ArchivePage:
    """One page of the applications the user may see that match the search (a page past the last is the last)."""
    query = _query(search, user)
    total = _count(query)
    pages = max(1, -(-total // search.per_page))
    page = min(max(1, search.page), pages)
    found = _sorted(query, search).limit(search.per_page).offset((page - 1) * search.per_page)
    return ArchivePage(_rows(found), total, page, pages)


def export_rows(search: ArchiveSearch, user: User, limit: int = EXPORT_LIMIT) -> list[ArchiveRow]:
    """Every application the user may see that matches the search, sorted as asked (its page ignored);
    ExportTooLarge past the limit."""
    query = _query(search, user)
    total = _count(query)
    if total > limit:
        raise ExportTooLarge(f"the search finds {total} applications; an export holds at most {limit}: "
                             "narrow the search", total, limit)
    return _rows(_sorted(query, search))


def guarded(value: Any) -> Any:
    """A text a spreadsheet would run as a formula, with a leading apostrophe; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cells(row: ArchiveRow, labels: ExportLabels) -> list[Any]:
    values = {"id": row.id, "filed_at": row.filed_at, "title": row.title, "counterparty": row.counterparty,
              "document_type": labels.document_type(row.document_type), "amount": row.amount,
              "copies": row.copies, "requester": f"{row.requester} ({row.requester_username})",
              "department": row.department or "", "seal": row.seal, "process": labels.process(row.process_id),
              "status": labels.status(row.status.value),
              "sealed_at": row.sealed_at if row.status == ApplicationStatus.SEALED else None,
              "original_sha256": row.original_sha256 or ""}
    return [guarded(values[c]) for c in EXPORT_COLUMNS]


def _header(labels: ExportLabels) -> list[str]:
    return [guarded(str(labels.headers.get(c, c))) for c in EXPORT_COLUMNS]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return str(value)


def export_csv(rows: Iterable[ArchiveRow], labels: ExportLabels = ExportLabels()) -> bytes:
    """The rows as CSV: UTF-8 with the byte-order mark (so that Excel reads Chinese right), times in UTC."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_header(labels))
    writer.writerows([_text(v) for v in _cells(row, labels)] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell

    if isinstance(value, str):  # openpyxl refuses the control characters a worksheet cannot hold
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "#,##0.00"
        return cell
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    return value


def export_xlsx(rows: Iterable[ArchiveRow], labels: ExportLabels = ExportLabels(),
                sheet_title: str = "Archive") -> bytes:
    """The rows as an Excel workbook (one sheet, times in UTC, amounts as numbers with two decimals)."""
    from openpyxl import Workbook  # 0.1 s to import: loaded by the first export, not by every web worker

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_title[:31])
    sheet.append([_xlsx_cell(sheet, v) for v in _header(labels)])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in _cells(row, labels)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

