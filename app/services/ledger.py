"""The usage ledger (用印登记台账): every use of one seal in a period, with who asked, for which document, how many
copies, who approved and who kept the seal then; app/pdf/ledger.py prints it."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    AuditEvent,
    DocumentKind,
    HumanTask,
    ProcessInstance,
    Seal,
    SealApplication,
    TaskState,
    User,
    current_round,
)
from app.models.lookup import get_or_not_found
from app.services.accounts import user_names
from app.services.documents import pdf_errors
from app.services.statistics import Period, check_viewer, uses

if TYPE_CHECKING:
    from app.pdf import LedgerSpec


@dataclass(frozen=True)
class Approver:
    """Who approved a step, and the absent person they approved for (a substitute)."""

    name: str
    on_behalf_of: str | None


@dataclass(frozen=True)
class LedgerEntry:
    """One use of the seal: when it went onto the document, on whose application, for what."""

    sealed_at: datetime
    application_id: int
    requester: str
    department: str
    document: str
    document_type: str
    copies: int
    approvers: tuple[Approver, ...]
    custodians: tuple[str, ...]


@dataclass(frozen=True)
class Ledger:
    """A seal's uses in a period, oldest first, and who keeps the seal now."""

    seal_id: int
    seal_name: str
    period: Period
    custodians: tuple[str, ...]
    entries: tuple[LedgerEntry, ...]


def _approvers(application_ids: list[int]) -> dict[int | None, tuple[Approver, ...]]:
    """Per application, who approved in its last round of approvals (the one that let it be sealed), in order."""
    tasks = db.session.execute(
        select(ProcessInstance.application_id, HumanTask)
        .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
        .where(ProcessInstance.application_id.in_(application_ids), HumanTask.state == TaskState.COMPLETED)
        .options(selectinload(HumanTask.completed_by), selectinload(HumanTask.on_behalf_of))
        .order_by(HumanTask.id)).all()
    by_application: dict[int | None, list[HumanTask]] = {}
    for application_id, task in tasks:
        by_application.setdefault(application_id, []).append(task)
    return {application_id: tuple(
        Approver(t.completed_by.display_name, t.on_behalf_of.display_name if t.on_behalf_of else None)
        for t in current_round(decided) if t.decision == "approve" and t.completed_by is not None)
        for application_id, decided in by_application.items()}


def _custodian_history(seal: Seal) -> tuple[list[datetime], list[tuple[int, ...]]]:
    """When the seal's custodians changed and to whom (the audit log's seal.holders_changed events), oldest first."""
    events = db.session.execute(
        select(AuditEvent.at, AuditEvent.details)
        .where(AuditEvent.object_type == "seal", AuditEvent.object_id == str(seal.id),
               AuditEvent.action == "seal.holders_changed")
        .order_by(AuditEvent.id)).all()
    return [at for at, _ in events], [tuple(i for i in d.get("custodian_ids") or () if isinstance(i, int))
                                      for _, d in events]


def _custodians_at(moment: datetime, history: tuple[list[datetime], list[tuple[int, ...]]],
                   now: tuple[int, ...]) -> tuple[int, ...]:
    """Who kept the seal at that moment: as the last change before it set them; a seal starts with none (and one
    whose holders were never changed keeps the ones it has now)."""
    times, holders = history
    if not times:
        return now
    index = bisect_right(times, moment)
    return holders[index - 1] if index else ()


def _document_name(application: SealApplication) -> str:
    original = application.document(DocumentKind.ORIGINAL)
    return application.title or (original.filename if original else "")


def usage_ledger(seal_id: int, period: Period, viewer: User) -> Ledger:
    """The seal's usage ledger over the period: one entry per application the seal went onto, oldest first."""
    check_viewer(viewer)
    seal = get_or_not_found(Seal, seal_id, "seal")
    used = uses(period, seal_id)
    rows = db.session.execute(
        select(SealApplication, used.c.sealed_at).join(used, used.c.application_id == SealApplication.id)
        .options(selectinload(SealApplication.requester).selectinload(User.department),
                 selectinload(SealApplication.documents))
        .order_by(used.c.sealed_at, SealApplication.id)).all()
    approvers = _approvers([a.id for a, _ in rows])
    history = _custodian_history(seal)
    now = tuple(u.id for u in seal.custodians)
    names = user_names(_all_ids(history[1], now))
    entries = tuple(LedgerEntry(
        sealed_at, application.id, application.requester.display_name,
        application.requester.department.name if application.requester.department else "",
        _document_name(application), application.document_type, application.copies,
        approvers.get(application.id, ()),
        tuple(names.get(i, str(i)) for i in _custodians_at(sealed_at, history, now)))
        for application, sealed_at in rows)
    return Ledger(seal.id, seal.name, period, tuple(u.display_name for u in seal.custodians), entries)


def _all_ids(holders: Iterable[tuple[int, ...]], now: tuple[int, ...]) -> set[int]:
    return {i for ids in (*holders, now) for i in ids}


def print_ledger(spec: LedgerSpec) -> bytes:
    """The ledger as a printable PDF, its texts already in the reader's language (app/pdf/ledger.py draws it)."""
    from app.pdf import render_ledger

    with pdf_errors():
        return render_ledger(spec)
