"""Who a ready user task goes to.

A task names its people in one of these ways (checked when the diagram is deployed, applied when the task
becomes ready):
- a SealFlow `assignee` property: `department_head` (the requester's), `user:<username>`, `role:<role>`, or
  `data:<variable>` (a user id or username the process data holds: the requester, a countersigner) or
  `data:<variable>.<key>` (that field of a mapping the data holds, e.g. a multi-instance party's `user_id`);
- Camunda Modeler's `camunda:assignee`, `camunda:candidateUsers`, `camunda:candidateGroups` (groups are roles);
  `${variable}` in them reads the process data;
- otherwise the lane it sits in, which names a role.
(A user who is away is represented by the substitute they named; see app/services/substitutes.py.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from app.errors import PolicyViolation
from app.extensions import db
from app.models import Department, RoleName, User
from app.workflow.validation import CAMUNDA_DATA, role_of

# The properties the parser keeps from Camunda Modeler's user-task attributes (SpiffWorkflow drops them).
CAMUNDA_ASSIGNEE = "camunda:assignee"
CAMUNDA_USERS = "camunda:candidateUsers"
CAMUNDA_GROUPS = "camunda:candidateGroups"


@dataclass(frozen=True)
class Assignment:
    """One assignee, or candidate users and roles (whoever acts first takes the task)."""

    assignee_id: int | None = None
    candidate_user_ids: tuple[int, ...] = ()
    candidate_roles: tuple[RoleName, ...] = ()


def _user_id(value: Any, what: str) -> int:
    """A user's id from an id or a username."""
    if isinstance(value, int) and not isinstance(value, bool):
        user_id = db.session.execute(select(User.id).where(User.id == value, User.active)).scalar()
    else:
        user_id = db.session.execute(select(User.id).where(User.username == str(value), User.active)).scalar()
    if user_id is None:
        raise PolicyViolation(f"{what} names no active user ({value!r})")
    return user_id


def _from_data(path: str, data: dict[str, Any]) -> int:
    variable, _, key = path.partition(".")
    value = data.get(variable)
    if key and isinstance(value, dict):
        value = value.get(key)
    if value is None:
        raise PolicyViolation(f"the process data has no {path!r} to assign the task to")
    return _user_id(value, f"the process data's {path!r}")


_HEAD_OF = (select(User.display_name, Department.head_id).outerjoin(Department, User.department_id == Department.id)
            .where(User.id == bindparam("requester_id")))


def _department_head(data: dict[str, Any]) -> int:
    row = db.session.execute(_HEAD_OF, {"requester_id": data.get("requester_id")}).first()
    if row is None:
        raise PolicyViolation("the process data names no requester")
    if row.head_id is None:
        raise PolicyViolation(f"{row.display_name}'s department has no head to approve this")
    head_id: int = row.head_id
    return head_id


def _role(name: str) -> RoleName:
    role = role_of(name)
    if role is None:
        raise PolicyViolation(f"the diagram names an unknown role {name!r}")
    return role


def _camunda_user(value: str, data: dict[str, Any]) -> int:
    reference = CAMUNDA_DATA.match(value.strip())
    if reference:
        return _from_data(reference.group(1), data)
    return _user_id(value.strip(), "the task's Camunda assignee")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def resolve(properties: dict[str, str], lane: str | None, data: dict[str, Any]) -> Assignment:
    """Apply the task's rule (its properties, else its lane) to the process data."""
    rule = properties.get("assignee", "")
    if rule == "department_head":
        return Assignment(assignee_id=_department_head(data))
    if rule.startswith("user:"):
        return Assignment(assignee_id=_user_id(rule[5:], "the diagram"))
    if rule.startswith("data:"):
        return Assignment(assignee_id=_from_data(rule[5:], data))
    if rule.startswith("role:"):
        return Assignment(candidate_roles=(_role(rule[5:]),))
    if rule:
        raise PolicyViolation(f"the user task has an unknown assignee rule ({rule!r})")
    if properties.get(CAMUNDA_ASSIGNEE):
        return Assignment(assignee_id=_camunda_user(properties[CAMUNDA_ASSIGNEE], data))
    users = tuple(_camunda_user(u, data) for u in _split(properties.get(CAMUNDA_USERS, "")))
    roles = tuple(_role(g) for g in _split(properties.get(CAMUNDA_GROUPS, "")))
    if users or roles:
        return Assignment(candidate_user_ids=users, candidate_roles=roles)
    if lane:
        return Assignment(candidate_roles=(_role(lane),))
    raise PolicyViolation("the user task names nobody to do it")
