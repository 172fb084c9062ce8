"""The inbox as the approver's page shows it: one page of ready tasks with what each is about, read in a fixed
number of statements whatever the number of tasks (the tasks themselves are chosen by approvals.ready_for)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.errors import InvalidInput
from app.extensions import db
from app.models import DeploymentRequest, ProcessInstance, Seal, SealApplication, TaskCandidate, User
from app.models.timestamps import utcnow
from app.services import accounts
from app.services.approvals import ready_for
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


def inbox_page(user: User, page: int = 1, per_page: int = PER_PAGE, at: datetime | None = None) -> InboxPage:
    """One page of the user's ready tasks, oldest first (a page past the last is the last)."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"a page holds 1 to {MAX_PER_PAGE} tasks")
    absent = represented_by(user.id, at or utcnow())
    tasks = ready_for(user, {user.id} | absent).subquery()
    total = db.session.execute(select(func.count()).select_from(tasks)).scalar() or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    requester, reviewer = aliased(User), aliased(User)
    query = (
        select(tasks.c.id, tasks.c.name, tasks.c.created_at, tasks.c.assignee_id, SealApplication.id,
               requester.display_name, Seal.name, DeploymentRequest.id, DeploymentRequest.name, reviewer.display_name)
        .join(ProcessInstance, ProcessInstance.id == tasks.c.instance_id)
        .outerjoin(SealApplication, SealApplication.id == ProcessInstance.application_id)
        .outerjoin(requester, requester.id == SealApplication.requester_id)
        .outerjoin(Seal, Seal.id == SealApplication.seal_id)
        .outerjoin(DeploymentRequest, DeploymentRequest.instance_id == ProcessInstance.id)
        .outerjoin(reviewer, reviewer.id == DeploymentRequest.requested_by_id)
        .order_by(tasks.c.created_at, tasks.c.id)
        .limit(per_page).offset((page - 1) * per_page)
    )
    found = db.session.execute(query).all()
    behalf = _on_behalf(user, absent, {row[0]: row[3] for row in found})
    rows = [InboxRow(task_id, name, since, application_id, requester_name, seal, deployment_id, deployment_name,
                     deployment_requester, behalf.get(task_id))
            for (task_id, name, since, _assignee, application_id, requester_name, seal, deployment_id,
                 deployment_name, deployment_requester) in found]
    return InboxPage(rows, total, page, pages)


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
