"""The approver's side: the inbox and decisions on tasks."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, false, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.sql import Select

from app.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from app.extensions import db
from app.models import (
    REQUESTER_DECISIONS,
    DocumentKind,
    HumanTask,
    ProcessInstance,
    RoleName,
    SealApplication,
    TaskCandidate,
    TaskState,
    User,
    current_round,
)
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.models.timestamps import utcnow
from app.services import accounts, applications, deployments
from app.services.substitutes import represented_by
from app.workflow import complete_task, qualifies, tasks_of


def inbox_query(user: User, at: datetime | None = None) -> Select[HumanTask]:
    """Ready tasks for a user: assigned or offered to them or to someone they stand in for, or offered to a
    role they hold; never another person's task on the user's own application (only what is assigned to the
    requester by name, such as revising it), and nothing for an auditor (auditors never decide)."""
    return ready_for(user, {user.id} | represented_by(user.id, at or utcnow()))


_TASKS, _CANDIDATES, _INSTANCES = (cast(Table, m.__table__) for m in (HumanTask, TaskCandidate, ProcessInstance))
# The ready tasks of a user (:user_id), of the absent people they stand in for (:people, the user included) and of
# their roles (:roles): one criterion, built once, so that a page asking for it often pays no SQL building.
# Correlated, so that only ready tasks' candidates are read: `id IN (candidates of this role)` read every candidate
# row ever written for the role (a million rows took the planner to tens of seconds).
READY_FOR = and_(
    _TASKS.c.state == TaskState.READY,
    or_(_TASKS.c.assignee_id.in_(bindparam("people", expanding=True)),
        and_(_TASKS.c.assignee_id.is_(None),
             exists().where(_CANDIDATES.c.task_id == _TASKS.c.id,
                            or_(_CANDIDATES.c.user_id.in_(bindparam("people", expanding=True)),
                                _CANDIDATES.c.role.in_(bindparam("roles", expanding=True)))))),
    or_(_TASKS.c.assignee_id == bindparam("user_id"),
        _TASKS.c.instance_id.not_in(select(_INSTANCES.c.id).where(_INSTANCES.c.requester_id == bindparam("user_id")))),
)


def ready_parameters(user: User, people: set[int]) -> dict[str, Any]:
    """READY_FOR's parameters for the user and the absent `people` (the user included) they stand in for now."""
    return {"user_id": user.id, "people": sorted(people), "roles": sorted(user.role_names)}


def ready_for(user: User, people: set[int]) -> Select[HumanTask]:
    """inbox_query's tasks, for the user and the absent `people` (the user included) they stand in for now."""
    if user.has_role(RoleName.AUDITOR):
        return select(HumanTask).where(false())
    return (select(HumanTask).where(READY_FOR).order_by(HumanTask.created_at, HumanTask.id)
            .params(ready_parameters(user, people)))


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


def _puppet_refusal(user: User, absent: int, requester_id: int | None) -> str | None:
    """Why the decider, or the absent person they act for, may not decide the requester's request because the
    requester set their password (and so could have logged in as them, and chosen the password they have now), or
    None."""
    if requester_id is None:
        return None
    if user.password_set_by_id == requester_id:
        return ("the requester set this account's password; another seal administrator must reset it before this "
                "person may decide the requester's requests")
    represented = db.session.get(User, absent) if absent != user.id else None
    if represented is not None and represented.password_set_by_id == requester_id:
        return (f"the requester set the password of {represented.display_name}, for whom this step would be "
                "decided; another seal administrator must reset it before they may decide the requester's requests")
    return None


def _duty_refusal(user: User, task: HumanTask, absent: int,
                  application: SealApplication) -> tuple[str | None, str | None]:
    """Why separation of duties forbids the user (acting for `absent`) to decide the task, or None; and, when it
    allows it, the policy's approver rule the decision meets (see decided_as)."""
    if set(task.decision_choices) <= REQUESTER_DECISIONS:
        return None, None  # the requester's own step (revise and resubmit, withdraw)
    if application.requester_id in (user.id, absent):
        return "nobody decides a step of their own application", None
    puppet = _puppet_refusal(user, absent, application.requester_id)
    if puppet is not None:
        return puppet, None
    if task.level is None:
        return None, None
    levels = [t for t in current_round(tasks_of(task.instance_id))
              if t.id != task.id and t.level is not None and t.state == TaskState.COMPLETED]
    earlier = next((t for t in levels if t.deciders & {user.id, absent}), None)
    if earlier is not None:
        return (f"one person decides one approval level of an application, and level {earlier.level} was "
                "decided by the same person"), None
    rule = decided_as(task, application, absent)
    if rule is None:
        requirement = application.required_approval(task.level)
        return (f"this level needs {requirement['label'] if requirement else task.level}, which the person it "
                "is decided for is not (any more)"), None
    return None, rule


def decided_as(task: HumanTask, application: SealApplication, decider_id: int) -> str | None:
    """The policy's approver rule the decider meets for the level this task decides, now; None when they do not
    meet it (or the task decides no level)."""
    requirement = application.required_approval(task.level) if task.level is not None else None
    decider = db.session.get(User, decider_id)
    if requirement is None or decider is None or not decider.active:
        return None
    meets = qualifies(requirement["approver"], decider, application.requester_id)
    return str(requirement["approver"]) if meets else None


def _process_refusal(user: User, task: HumanTask, absent: int) -> str | None:
    """Why separation of duties forbids the user (acting for `absent`) to decide a step of a process run without an
    application (a deployment's approval), or None. Its requester decides only what the diagram gives them by name,
    never a step offered to a pool."""
    requester = task.instance.requester_id
    if requester in (user.id, absent):
        return None if task.assignee_id == requester else "nobody decides a step of their own request"
    puppet = _puppet_refusal(user, absent, requester)
    if puppet is not None or task.instance.definition.process_id != deployments.APPROVAL_PROCESS:
        return puppet
    # Dual control's other direction: an administrator who set the requester's password could have asked as them.
    asker = db.session.get(User, requester) if requester is not None else None
    if asker is not None and asker.password_set_by_id in (user.id, absent):
        return ("you set the password of the seal administrator who asked for this deployment, so it could be your own "
                "request; another seal administrator decides it")
    request = deployments.request_of_instance(task.instance_id)
    return _late_seal_admin_refusal(absent, request.requested_at if request else task.instance.created_at)


def _late_seal_admin_refusal(decider_id: int, requested_at: datetime) -> str | None:
    """Why the decider may not approve a deployment asked for at that time: only someone who was a seal
    administrator then does (one made afterwards, by the requester say, is not the second pair of eyes)."""
    granted = accounts.role_granted_at(decider_id, RoleName.SEAL_ADMIN)
    if granted is None:
        return "only a seal administrator decides a deployment"
    # SQLite's clock keeps milliseconds: a role given within the request's millisecond counts as given after it.
    if granted >= requested_at.replace(microsecond=requested_at.microsecond // 1000 * 1000):
        return ("only someone who was already a seal administrator when the deployment was requested decides it; "
                "this person became one afterwards")
    return None


def decision_refusal(user: User, task: HumanTask) -> str | None:
    """Why the user may not decide the task now, or None when they may: it must wait for them (or for someone
    they substitute), and separation of duties must allow it (no step of one's own request, none of a requester who
    set the decider's password, one level per person, auditors never decide, the level's approver rule met at
    decision time, a deployment approved only by someone who was a seal administrator when it was asked for)."""
    return _refusal(user, task)[0]


def _refusal(user: User, task: HumanTask) -> tuple[str | None, str | None]:
    """decision_refusal's answer, and the approver rule the decision would meet when it is allowed (decided_as)."""
    if task.state != TaskState.READY:
        return f"the task “{task.name}” was already {task.state.value}", None
    absent = acting_for(task, user)
    if absent is None:
        return "this task is not yours", None
    if user.has_role(RoleName.AUDITOR):
        return "auditors never decide or sign", None
    application = application_of(task)
    if application is None:  # a process of its own, such as a deployment's approval
        return _process_refusal(user, task, absent), None
    return _duty_refusal(user, task, absent, application)


def can_decide(user: User, task: HumanTask) -> bool:
    """Whether the user may act on the task now (for themselves, or for someone they substitute)."""
    return decision_refusal(user, task) is None


@cache  # built once, on first use
def _with_instance() -> list[Any]:
    return [joinedload(HumanTask.instance)]  # every decision reads both


def get_task(task_id: int, user: User) -> HumanTask:
    """A task the user may see: one that is, or was, theirs."""
    task = get_or_not_found(HumanTask, task_id, "task", _with_instance())
    offered = task.state == TaskState.READY and acting_for(task, user) is not None
    if not (offered or user.id in (task.assignee_id, task.completed_by_id, task.on_behalf_of_id)):
        raise NotFound(f"task {task_id} does not exist")  # the same answer as for an unknown id
    return task


def application_of(task: HumanTask) -> SealApplication | None:
    """The application a task is about, with its documents (a decision names the one it was made on); None for a
    process started without one (from code, not the pages)."""
    application_id = task.instance.application_id
    if application_id is None:
        return None
    return applications.with_documents(application_id)


def record_refusal(task_id: int, user: User, reason: str, actor: Actor) -> None:
    """Keep in the log that someone tried to decide a step they may not (the refused request itself changed
    nothing and was rolled back; the caller commits this on its own)."""
    task = db.session.get(HumanTask, task_id)
    if task is not None:
        record(actor, "task.decision_refused", "process_instance", task.instance_id, task_id=task.id,
               element_id=task.element_id, user_id=user.id, reason=reason)


def fail_after_decision(task_id: int, reason: str, actor: Actor) -> None:
    """A decision whose step could not run (an expression of the diagram failed or went past its limits): the
    decision itself was rolled back, and the process fails with the reason, so that nobody waits on a step that
    cannot be taken and the requester sees why. The caller commits this on its own."""
    task = db.session.get(HumanTask, task_id)
    if task is not None:
        applications.fail_process(task.instance_id, reason, actor)


def decide(task_id: int, user: User, decision: str, comment: str, actor: Actor) -> SealApplication | None:
    """Take one of the decisions the task offers (approve, reject, return for revision, resubmit, withdraw …);
    rejecting or returning needs a comment. Deciding twice is refused. The application the task is about, if
    its process runs one."""
    task = get_task(task_id, user)
    if task.state != TaskState.READY:
        raise InvalidTransition(f"the task “{task.name}” was already {task.state.value}")
    refusal, rule = _refusal(user, task)
    if refusal is not None:
        raise PermissionDenied(refusal)
    if decision not in task.decision_choices:
        raise InvalidInput(f"the decision must be one of {', '.join(task.decision_choices)}")
    if decision in NEEDS_COMMENT and not comment.strip():
        raise InvalidInput("say why (a comment is needed to reject or return an application)")
    absent = acting_for(task, user)
    application = application_of(task)
    actor = Actor.of(user, actor.address)  # the decision is the user's, whoever relays it (a page, the API)
    original = application.document(DocumentKind.ORIGINAL) if application is not None else None
    step = complete_task(task.id, actor, {"decision": decision, "comment": comment.strip()}, on_behalf_of_id=absent,
                         document_sha256=original.sha256 if original is not None else None,
                         decided_as=rule)
    applications.follow(step, actor)
    return application_of(task)
