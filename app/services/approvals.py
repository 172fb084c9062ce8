"""The approver's side: the inbox and decisions on tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.sql import Select

from app.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from app.extensions import db
from app.models import HumanTask, SealApplication, TaskCandidate, TaskState, User
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import applications
from app.services.substitutes import represented_by
from app.workflow import complete_task


def inbox_query(user: User, at: datetime | None = None) -> Select[HumanTask]:
    """Ready tasks for a user: assigned or offered to them or to someone they stand in for, or offered to a
    role they hold."""
    people = {user.id} | represented_by(user.id, at or utcnow())
    offered = select(TaskCandidate.task_id).where(
        or_(TaskCandidate.user_id.in_(people), TaskCandidate.role.in_(user.role_names))
    )
    return (
        select(HumanTask)
        .where(HumanTask.state == TaskState.READY)
        .where(or_(HumanTask.assignee_id.in_(people),
                   and_(HumanTask.assignee_id.is_(None), HumanTask.id.in_(offered))))
        .order_by(HumanTask.created_at, HumanTask.id)
    )


def acting_for(task: HumanTask, user: User, at: datetime | None = None) -> int | None:
    """Whom the user would act for on this task: themselves, or the absent user they substitute for; None when
    the task is not theirs to do."""
    if task.offered_to(user.id, user.role_names):
        return user.id
    return next((absent for absent in sorted(represented_by(user.id, at or utcnow()))
                 if task.offered_to(absent, set())), None)


# Decisions that send the application back or end it must say why.
NEEDS_COMMENT = ("reject", "return")


def inbox(user: User) -> list[HumanTask]:
    """Tasks waiting for this user, oldest first."""
    return list(db.session.execute(inbox_query(user)).scalars())


def can_decide(user: User, task: HumanTask) -> bool:
    """Whether the user may act on the task now (for themselves, or for someone they substitute)."""
    return task.state == TaskState.READY and acting_for(task, user) is not None


def get_task(task_id: int, user: User) -> HumanTask:
    """A task the user may see: one that is, or was, theirs."""
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    if not (can_decide(user, task) or user.id in (task.assignee_id, task.completed_by_id, task.on_behalf_of_id)):
        raise PermissionDenied("this task is not yours")
    return task


def application_of(task: HumanTask) -> SealApplication | None:
    """The application a task is about; None for a process started without one (from code, not the pages)."""
    application_id = task.instance.application_id
    return None if application_id is None else applications.get_application(application_id)


def decide(task_id: int, user: User, decision: str, comment: str, actor: Actor) -> SealApplication | None:
    """Take one of the decisions the task offers (approve, reject, return for revision, resubmit, withdraw …);
    rejecting or returning needs a comment. Deciding twice is refused. The application the task is about, if
    its process runs one."""
    task = get_task(task_id, user)
    if task.state != TaskState.READY:
        raise InvalidTransition(f"the task “{task.name}” was already {task.state.value}")
    if not can_decide(user, task):
        raise PermissionDenied("this task is not yours")
    if decision not in task.decision_choices:
        raise InvalidInput(f"the decision must be one of {', '.join(task.decision_choices)}")
    if decision in NEEDS_COMMENT and not comment.strip():
        raise InvalidInput("say why (a comment is needed to reject or return an application)")
    step = complete_task(task.id, actor, {"decision": decision, "comment": comment.strip()},
                         on_behalf_of_id=acting_for(task, user))
    applications.follow(step, actor)
    return application_of(task)
