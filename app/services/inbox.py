"""The inbox as the approver's page shows it: one page of ready tasks with what each is about, read in a fixed
number of statements whatever the number of tasks (the tasks themselves are chosen by approvals.ready_for)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select

from app.errors import InvalidInput
from app.extensions import db
from app.models import (
    DeploymentRequest,
    HumanTask,
    ProcessInstance,
    RoleName,
    Seal,
    SealApplication,
    TaskCandidate,
    User,
)
from app.models.timestamps import utcnow
from app.services import accounts
from app.services.approvals import READY_FOR, ready_parameters
from app.services.substitutes import represented_by

PER_PAGE = 50
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class InboxRow:
    """One waiting task: an application's step, a deployment request's review, or a bare process's task."""

    task_id: int
    name: str
    since: datetime
    application_id: int | None
    requester: str | None
    seal: str | None
    deployment_id: int | None
    deployment_name: str | None
    deployment_requester: str | None
    on_behalf_of: str | None  # the absent person the user would decide it for, if not themselves


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    pages: int


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


_T, _I, _A, _S, _D = (_table(m) for m in (HumanTask, ProcessInstance, SealApplication, Seal, DeploymentRequest))
_REQUESTER, _REVIEWER = _table(User).alias("requester"), _table(User).alias("reviewer")
# One page of ready tasks with what the page shows of each and the number of them all (the last column). Built once
# in Core: built per request through the ORM, the same statement cost ten times the processor time to run.
_PAGE = (
    select(_T.c.id, _T.c.name, _T.c.created_at, _T.c.assignee_id, _A.c.id, _REQUESTER.c.display_name, _S.c.name,
           _D.c.id, _D.c.name, _REVIEWER.c.display_name, func.count().over())
    .select_from(_T.join(_I, _I.c.id == _T.c.instance_id)
                 .outerjoin(_A, _A.c.id == _I.c.application_id)
                 .outerjoin(_REQUESTER, _REQUESTER.c.id == _A.c.requester_id)
                 .outerjoin(_S, _S.c.id == _A.c.seal_id)
                 .outerjoin(_D, _D.c.instance_id == _I.c.id)
                 .outerjoin(_REVIEWER, _REVIEWER.c.id == _D.c.requested_by_id))
    .where(READY_FOR)
    .order_by(_T.c.created_at, _T.c.id)
    .limit(bindparam("limit")).offset(bindparam("offset"))
)
_COUNT = select(func.count()).select_from(_T).where(READY_FOR)


def inbox_page(user: User, page: int = 1, per_page: int = PER_PAGE, at: datetime | None = None) -> InboxPage:
    """One page of the user's ready tasks, oldest first (a page past the last is the last)."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"a page holds 1 to {MAX_PER_PAGE} tasks")
    if user.has_role(RoleName.AUDITOR):  # auditors never decide
        return InboxPage([], 0, 1, 1)
    absent = represented_by(user.id, at or utcnow())
    parameters = ready_parameters(user, {user.id} | absent)
    page = max(1, page)
    found = _rows(parameters, page, per_page)
    if not found and page > 1:  # past the last page: the last one (the total came with the rows, or it is 0)
        total = db.session.execute(_COUNT, parameters).scalar() or 0
        page = max(1, -(-total // per_page))
        found = _rows(parameters, page, per_page)
    total = found[0][-1] if found else 0
    pages = max(1, -(-total // per_page))
    behalf = _on_behalf(user, absent, {row[0]: row[3] for row in found})
    rows = [InboxRow(task_id, name, since, application_id, requester_name, seal, deployment_id, deployment_name,
                     deployment_requester, behalf.get(task_id))
            for (task_id, name, since, _assignee, application_id, requester_name, seal, deployment_id,
                 deployment_name, deployment_requester, _total) in found]
    return InboxPage(rows, total, page, pages)


def _rows(parameters: dict[str, Any], page: int, per_page: int) -> list[tuple[Any, ...]]:
    found = db.session.execute(_PAGE, {**parameters, "limit": per_page, "offset": (page - 1) * per_page})
    return [tuple(row) for row in found]


def _on_behalf(user: User, absent: set[int], assignees: dict[int, int | None]) -> dict[int, str]:
    """For each task of the page the user would decide as a substitute: the absent person's name (as
    approvals.acting_for judges it, for the whole page in two statements at most)."""
    if not absent or not assignees:
        return {}
    acting: dict[int, int] = {}
    offered: dict[int, list[TaskCandidate]] = {}
    pooled = [task_id for task_id, assignee in assignees.items() if assignee is None]
    if pooled:
        for candidate in db.session.execute(select(TaskCandidate).where(TaskCandidate.task_id.in_(pooled))).scalars():
            offered.setdefault(candidate.task_id, []).append(candidate)
    for task_id, assignee in assignees.items():
        if assignee is not None:
            if assignee != user.id:
                acting[task_id] = assignee
            continue
        candidates = offered.get(task_id, [])
        if any(c.user_id == user.id or c.role in user.role_names for c in candidates):
            continue
        named = sorted({c.user_id for c in candidates if c.user_id is not None} & absent)
        if named:
            acting[task_id] = named[0]
    names = accounts.user_names(set(acting.values()))
    return {task_id: names.get(person, str(person)) for task_id, person in acting.items()}
