"""Who a ready user task goes to.

A task names its people in one of these ways (checked when the diagram is deployed, applied when the task
becomes ready):
- a SealFlow `assignee` property: `department_head` (the requester's; when the requester heads the department, the
  head of the department above, else the leaders), `user:<username>`, `role:<role>`, or
  `data:<variable>` (a user id or username the process data holds: the requester, a countersigner) or
  `data:<variable>.<key>` (that field of a mapping the data holds, e.g. a multi-instance party's `user_id`);
- `policy`: the policy step, a sequential multi-instance over the application's `required_approvals`; each
  instance decides one level, held in its `required_approval` ({level, approver, label}), whose `approver` is one
  of the first three rules above;
- Camunda Modeler's `camunda:assignee`, `camunda:candidateUsers`, `camunda:candidateGroups` (groups are roles);
  `${variable}` in them reads the process data;
- otherwise the lane it sits in, which names a role.
(A user who is away is represented by the substitute they named; see app/services/substitutes.py.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, func, select

from app.errors import PolicyViolation
from app.extensions import db
from app.models import REQUESTER_DECISIONS, Department, RoleName, SealApplication, User
from app.workflow.validation import CAMUNDA_DATA, role_of

# The properties the parser keeps from Camunda Modeler's user-task attributes (SpiffWorkflow drops them).
CAMUNDA_ASSIGNEE = "camunda:assignee"
CAMUNDA_USERS = "camunda:candidateUsers"
CAMUNDA_GROUPS = "camunda:candidateGroups"


# The policy step's rule, and the data its multi-instance gives each level.
POLICY_RULE = "policy"
POLICY_LEVELS = "required_approvals"
POLICY_LEVEL = "required_approval"
# The rules a seal policy may name as a level's approver; auditors never decide.
APPROVER_ROLES = (RoleName.APPROVER, RoleName.LEADER, RoleName.SEAL_ADMIN)


@dataclass(frozen=True)
class Assignment:
    """One assignee, or candidate users and roles (whoever acts first takes the task); `note` says why the task
    went elsewhere than its rule says at first sight (the requester heads the department)."""

    assignee_id: int | None = None
    candidate_user_ids: tuple[int, ...] = ()
    candidate_roles: tuple[RoleName, ...] = ()
    note: str | None = None
    level: int | None = None

    def includes(self, user_id: int, roles: set[RoleName]) -> bool:
        """Whether this user is among the people the assignment names."""
        if self.assignee_id is not None:
            return self.assignee_id == user_id
        return user_id in self.candidate_user_ids or bool(roles & set(self.candidate_roles))


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


# The requester with their department (or the what-if's) in one statement; the departments above, one by one.
_REQUESTER = (
    select(User.display_name, User.department_id, Department.id.label("first_id"), Department.name,
           Department.head_id, Department.parent_id)
    .outerjoin(Department, Department.id == func.coalesce(bindparam("department_id", type_=Integer),
                                                          User.department_id))
    .where(User.id == bindparam("requester_id"))
)
_DEPARTMENT = select(Department.name, Department.head_id, Department.parent_id).where(
    Department.id == bindparam("department_id"))


def department_approver(requester_id: Any, department_id: int | None = None) -> Assignment:
    """Who approves as the requester's department head: the head, or when the requester is the head (or the
    department has none), the head of the nearest department above, else the leaders. Nobody approves their own
    application. department_id: as if the requester belonged to that department (a what-if)."""
    requester = db.session.execute(_REQUESTER, {"requester_id": requester_id, "department_id": department_id}).first()
    if requester is None:
        raise PolicyViolation("the process data names no requester")
    department_id, seen = department_id or requester.department_id, set[int]()
    why = f"{requester.display_name} has no department"
    row: Any = requester if requester.first_id is not None else None  # the first department came with them
    while department_id is not None and department_id not in seen:
        if seen:
            row = db.session.execute(_DEPARTMENT, {"department_id": department_id}).first()
        seen.add(department_id)
        if row is None:
            break
        if row.head_id is not None and row.head_id != requester_id:
            note = None if len(seen) == 1 else f"{why}: the head of {row.name} approves instead"
            return Assignment(assignee_id=row.head_id, note=note)
        if len(seen) == 1:
            why = (f"{requester.display_name} heads {row.name}" if row.head_id == requester_id
                   else f"{row.name} has no head")
        department_id = row.parent_id
    return Assignment(candidate_roles=(RoleName.LEADER,), note=f"{why}, and no department above has another "
                                                                "head: the leaders approve")


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


def approver_problem(rule: str) -> str | None:
    """Why a seal policy's approver rule is refused, or None: `department_head`, `role:<role>` (approver, leader,
    seal_admin) or `user:<username>`."""
    if rule == "department_head":
        return None
    kind, _, value = rule.partition(":")
    if kind == "role" and role_of(value) in APPROVER_ROLES:
        return None
    if kind == "user" and value.strip():
        return None
    return (f"approver {rule!r} is not department_head, role:<role> ("
            f"{', '.join(APPROVER_ROLES)}) or user:<username>")


def _policy_level(data: dict[str, Any], department_id: int | None) -> Assignment:
    """The policy step: the level this instance decides, for the approver the policy names."""
    level = data.get(POLICY_LEVEL)
    if not isinstance(level, dict) or not isinstance(level.get("approver"), str) or approver_problem(
            level["approver"]) is not None or not isinstance(level.get("level"), int):
        raise PolicyViolation(f"the policy step needs its {POLICY_LEVEL!r} (one of {POLICY_LEVELS!r}), "
                              "with a level and an approver")
    approver = level["approver"]
    stored = db.session.get(SealApplication, data["application_id"]) if data.get("application_id") else None
    if stored is not None:
        # The application's stored levels decide, not what the process data says (a diagram could change that).
        requirement = stored.required_approval(level["level"])
        if requirement is None:
            raise PolicyViolation(f"the application requires no approval level {level['level']}")
        approver = str(requirement["approver"])
    found = resolve({"assignee": approver}, None, data, department_id)
    return Assignment(found.assignee_id, found.candidate_user_ids, found.candidate_roles, found.note, level["level"])


def resolve(properties: dict[str, str], lane: str | None, data: dict[str, Any],
            department_id: int | None = None) -> Assignment:
    """Apply the task's rule (its properties, else its lane) to the process data; department_id: the requester's
    department as a what-if supposes it, instead of their own."""
    rule = properties.get("assignee", "")
    if rule == POLICY_RULE:
        return _policy_level(data, department_id)
    if rule == "department_head":
        return department_approver(data.get("requester_id"), department_id)
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


def for_task(properties: dict[str, str], lane: str | None, data: dict[str, Any]) -> Assignment:
    """Who a ready user task goes to (resolve); in a process that runs an application, never the requester unless
    the task is theirs to revise or withdraw: a candidate who is the requester is dropped, and a task that would go
    to the requester alone is refused (PolicyViolation), for the requester never decides their own application
    (approvals.decision_refusal) and it would wait for ever."""
    found = resolve(properties, lane, data)
    requester = data.get("requester_id")
    decisions = {d.strip() for d in properties.get("decisions", "approve,reject").split(",")}
    if data.get("application_id") is None or requester is None or decisions <= REQUESTER_DECISIONS:
        return found
    if found.assignee_id == requester:
        raise PolicyViolation("it would go to the requester, who never decides their own application")
    users = tuple(u for u in found.candidate_user_ids if u != requester)
    if found.assignee_id is None and not users and not found.candidate_roles:
        raise PolicyViolation("its only candidate is the requester, who never decides their own application")
    return Assignment(found.assignee_id, users, found.candidate_roles, found.note, found.level)


def qualifies(rule: str, user: User, requester_id: int) -> bool:
    """Whether the user meets an approver rule (`department_head`, `role:<role>`, `user:<username>`) for the
    requester's application at this moment. The requester never does."""
    if user.id == requester_id:
        return False
    found = resolve({"assignee": rule}, None, {"requester_id": requester_id})
    return found.includes(user.id, user.role_names)
