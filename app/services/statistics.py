"""Seal-usage statistics: a seal's use for its page, and for auditors and seal administrators (/stats) the uses
over a period by seal, department, month, document type and process, and how long each approval step waits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from math import floor
from typing import Any

from sqlalchemy import ColumnElement, Subquery, extract, func, select
from sqlalchemy.orm import QueryableAttribute

from app.errors import InvalidInput, PermissionDenied
from app.extensions import db
from app.models import (
    Department,
    Document,
    DocumentKind,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    RoleName,
    Seal,
    SealApplication,
    SealImage,
    TaskState,
    User,
)
from app.models.lookup import get_or_not_found
from app.models.timestamps import utcnow


@dataclass(frozen=True)
class MonthUse:
    """Documents sealed with a seal in one calendar month (UTC)."""

    year: int
    month: int
    count: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class SealUsage:
    """A seal's use: every sealed document version signed with it (each party's signature counts once), the last
    one's time, the last months (oldest first, months without a use included) and the count per image version."""

    total: int
    last_used_at: datetime | None
    months: tuple[MonthUse, ...]
    by_image_version: dict[int, int]


def _months_back(now: datetime, months: int) -> list[tuple[int, int]]:
    """(year, month) of the `months` calendar months ending with now's, oldest first."""
    index = now.year * 12 + now.month - 1
    return [divmod(i, 12) for i in range(index - months + 1, index + 1)]


def seal_usage(seal_id: int, months: int = 12) -> SealUsage:
    """How a seal was used: documents sealed with it, the last use, the last `months` months and per image version
    (documents sealed before image versions were recorded count under version 1, as the migration recorded them)."""
    get_or_not_found(Seal, seal_id, "seal")
    mine = (Document.kind == DocumentKind.SEALED, SealImage.seal_id == seal_id)
    total, last = db.session.execute(select(func.count(Document.id), func.max(Document.created_at))
                                     .join(SealImage, Document.seal_image_id == SealImage.id).where(*mine)).one()
    window = _months_back(utcnow(), months)
    start = datetime(window[0][0], window[0][1] + 1, 1)
    year, month = extract("year", Document.created_at), extract("month", Document.created_at)
    counted = db.session.execute(
        select(year, month, func.count()).join(SealImage, Document.seal_image_id == SealImage.id)
        .where(*mine, Document.created_at >= start).group_by(year, month)).all()
    per_month = {(int(y), int(m)): int(n) for y, m, n in counted}
    by_version = db.session.execute(
        select(SealImage.version, func.count()).join(Document, Document.seal_image_id == SealImage.id)
        .where(*mine).group_by(SealImage.version)).all()
    return SealUsage(int(total), last, tuple(MonthUse(y, m + 1, per_month.get((y, m + 1), 0)) for y, m in window),
                     {int(v): int(n) for v, n in by_version})


# Who reads the statistics and prints the usage ledger.
VIEWER_ROLES = (RoleName.AUDITOR, RoleName.SEAL_ADMIN)
# A longer period would chart hundreds of months; an auditor compares years one at a time.
MAX_PERIOD_YEARS = 5


def may_view(user: User) -> bool:
    """Whether the user may read the statistics and the usage ledger: auditors and seal administrators."""
    return any(user.has_role(role) for role in VIEWER_ROLES)


def check_viewer(user: User) -> None:
    """PermissionDenied unless the user may read the statistics."""
    if not may_view(user):
        raise PermissionDenied("only auditors and seal administrators read the seal-usage statistics")


@dataclass(frozen=True)
class Period:
    """Calendar days from `start` to `end`, both included, in UTC (every stored time is UTC)."""

    start: date
    end: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The first moment of the period and the first moment after it."""
        return datetime.combine(self.start, datetime.min.time()), datetime.combine(self.end + timedelta(days=1),
                                                                                   datetime.min.time())

    @property
    def months(self) -> list[tuple[int, int]]:
        """(year, month) of every calendar month the period touches, oldest first."""
        first, last = self.start.year * 12 + self.start.month - 1, self.end.year * 12 + self.end.month - 1
        return [(i // 12, i % 12 + 1) for i in range(first, last + 1)]


def default_period(today: date | None = None) -> Period:
    """The last twelve calendar months, this one included, up to today."""
    today = today or utcnow().date()
    year, month = divmod(today.year * 12 + today.month - 1 - 11, 12)
    return Period(date(year, month + 1, 1), today)


def period_of(start: str | None, end: str | None, today: date | None = None) -> Period:
    """The period two YYYY-MM-DD texts name (either empty: the default period's end); InvalidInput naming the
    problem for a date that is not one, an end before the start, or more than MAX_PERIOD_YEARS years."""
    default = default_period(today)
    days = []
    for text, fallback, name in ((start, default.start, "from"), (end, default.end, "to")):
        text = (text or "").strip()
        try:
            days.append(date.fromisoformat(text) if text else fallback)
        except ValueError:
            raise InvalidInput(f"the {name} date {text[:20]!r} is not a date (YYYY-MM-DD)") from None
        if not 1900 <= days[-1].year <= 9000:
            raise InvalidInput(f"the {name} date {text} is out of range")
    period = Period(*days)
    if period.end < period.start:
        raise InvalidInput("the period ends before it starts")
    if (period.end - period.start).days >= MAX_PERIOD_YEARS * 366:
        raise InvalidInput(f"a period is at most {MAX_PERIOD_YEARS} years")
    return period


def uses(period: Period, seal_id: int | None = None) -> Subquery:
    """One row per use of a seal in the period: (application_id, seal_id, sealed_at), sealed_at being when that seal
    first went onto the application's document. Each sealed version records the seal image it was signed with, so
    a multi-party application counts once for each seal its parties applied, and never twice for one."""
    sealed_at = func.min(Document.created_at)
    start, after = period.bounds
    query = (select(Document.application_id, SealImage.seal_id, sealed_at.label("sealed_at"))
             .join(SealImage, Document.seal_image_id == SealImage.id)
             .where(Document.kind == DocumentKind.SEALED)
             .group_by(Document.application_id, SealImage.seal_id)
             .having(sealed_at >= start, sealed_at < after))
    if seal_id is not None:
        query = query.where(SealImage.seal_id == seal_id)
    return query.subquery("uses")


@dataclass(frozen=True)
class UsageCount:
    """Uses counted under one key: a seal's or department's id (None: people in no department), a document type or
    a process id; `name` is the seal's or department's name, else the key as stored."""

    key: int | str | None
    name: str
    count: int


@dataclass(frozen=True)
class UsageReport:
    """A period's seal uses, in total and grouped; the groups most used first, every month of the period shown."""

    period: Period
    total: int
    by_seal: tuple[UsageCount, ...]
    by_department: tuple[UsageCount, ...]
    by_month: tuple[MonthUse, ...]
    by_document_type: tuple[UsageCount, ...]
    by_process: tuple[UsageCount, ...]


def _counted(rows: Sequence[Any]) -> tuple[UsageCount, ...]:
    counts = [UsageCount(key, "" if name is None else str(name), int(n)) for key, name, n in rows]
    return tuple(sorted(counts, key=lambda c: (-c.count, c.name)))


Column = ColumnElement[Any] | QueryableAttribute[Any]


def _grouped(used: Subquery, key: Column, name: Column, *joins: Any) -> tuple[UsageCount, ...]:
    """The uses counted per key, one GROUP BY; `joins` are (target, on clause) pairs reaching the key's table."""
    query = select(key, name, func.count()).select_from(used)
    for target, on in joins:
        query = query.join(target, on, isouter=True)
    return _counted(db.session.execute(query.group_by(key, name)).all())


def usage_report(period: Period, viewer: User) -> UsageReport:
    """The period's seal uses by seal, requester's department (their department now), month, document type and
    process."""
    check_viewer(viewer)
    used = uses(period)
    application = (SealApplication, SealApplication.id == used.c.application_id)
    requester = (User, User.id == SealApplication.requester_id)
    by_seal = _grouped(used, Seal.id, Seal.name, (Seal, Seal.id == used.c.seal_id))
    by_department = _grouped(used, Department.id, Department.name, application, requester,
                             (Department, Department.id == User.department_id))
    by_type = _grouped(used, SealApplication.document_type, SealApplication.document_type, application)
    by_process = _grouped(used, SealApplication.process_id, SealApplication.process_id, application)
    year, month = extract("year", used.c.sealed_at), extract("month", used.c.sealed_at)
    per_month = {(int(y), int(m)): int(n) for y, m, n in
                 db.session.execute(select(year, month, func.count()).group_by(year, month)).all()}
    return UsageReport(period, sum(c.count for c in by_seal), by_seal, by_department,
                       tuple(MonthUse(y, m, per_month.get((y, m), 0)) for y, m in period.months),
                       by_type, by_process)


@dataclass(frozen=True)
class StepLeadTime:
    """How long one step of a process kept applications waiting: from the task's opening to its decision, over
    the tasks decided in the period."""

    process_id: str
    element_id: str
    step_name: str
    count: int
    median: timedelta
    p90: timedelta
    longest: timedelta


def percentile(ordered: Sequence[timedelta], fraction: float) -> timedelta:
    """The percentile of sorted durations by linear interpolation between the closest ranks (PostgreSQL's
    percentile_cont): the median of 1, 2, 3, 10 hours is 2.5 hours."""
    if not ordered:
        raise ValueError("no durations")
    position = fraction * (len(ordered) - 1)
    below = floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def lead_times(period: Period, viewer: User) -> tuple[StepLeadTime, ...]:
    """Median, 90th percentile and longest wait per (process, step) of seal applications, over the human tasks
    decided in the period; the steps that keep applications longest (by p90) first. Steps are named as their
    diagram names them (the newest name, when a version renamed one)."""
    check_viewer(viewer)
    start, after = period.bounds
    rows = db.session.execute(
        select(ProcessDefinition.process_id, HumanTask.element_id, HumanTask.name, HumanTask.created_at,
               HumanTask.completed_at)
        .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .join(ProcessDefinition, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(ProcessInstance.application_id.is_not(None), HumanTask.state == TaskState.COMPLETED,
               HumanTask.completed_at >= start, HumanTask.completed_at < after)
        .order_by(HumanTask.completed_at)).all()
    waits: dict[tuple[str, str], list[timedelta]] = {}
    names: dict[tuple[str, str], str] = {}
    for process_id, element_id, name, opened, decided in rows:
        if decided is None:  # a completed task always has its time; the type does not say so
            continue
        waits.setdefault((process_id, element_id), []).append(max(decided - opened, timedelta(0)))
        names[(process_id, element_id)] = name or element_id  # ordered by decision: the newest name wins
    steps = []
    for (process_id, element_id), durations in waits.items():
        durations.sort()
        steps.append(StepLeadTime(process_id, element_id,
                                  names[(process_id, element_id)], len(durations), percentile(durations, 0.5),
                                  percentile(durations, 0.9), durations[-1]))
    return tuple(sorted(steps, key=lambda s: (-s.p90, s.process_id, s.step_name)))
