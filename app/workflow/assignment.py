"""Who a ready user task goes to: a named user, the requester's department head, or a role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.errors import PolicyViolation
from app.extensions import db
from app.models import RoleName, User
from app.workflow.validation import role_of


@dataclass(frozen=True)
class Assignment:
    assignee_id: int | None = None
    candidate_role: RoleName | None = None


def _requester(data: dict[str, Any]) -> User:
    user = db.session.get(User, data.get("requester_id"))
    if user is None:
        raise PolicyViolation("the process data names no requester")
    return user


def resolve(properties: dict[str, str], lane: str | None, data: dict[str, Any]) -> Assignment:
    """Apply the task's `assignee` property (or its lane, naming a role) to the process data.

    assignee values: `department_head`, `user:<username>`, `role:<role>`.
    """
    rule = properties.get("assignee") or (f"role:{lane}" if lane else "")
    if rule == "department_head":
        requester = _requester(data)
        department = requester.department
        if department is None or department.head_id is None:
            raise PolicyViolation(f"{requester.display_name}'s department has no head to approve this")
        return Assignment(assignee_id=department.head_id)
    if rule.startswith("user:"):
        user_id = db.session.execute(select(User.id).where(User.username == rule[5:])).scalar()
        if user_id is None:
            raise PolicyViolation(f"the diagram names an unknown user {rule[5:]!r}")
        return Assignment(assignee_id=user_id)
    if rule.startswith("role:"):
        role = role_of(rule[5:])
        if role is None:
            raise PolicyViolation(f"the diagram names an unknown role {rule[5:]!r}")
        return Assignment(candidate_role=role)
    raise PolicyViolation(f"the user task has no assignee rule ({rule!r})")
