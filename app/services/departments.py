"""The organisation's departments, as a tree with heads. A department's head approves the department_head level of
its people's applications; when the requester is the head (or there is none), the head of the department above
does (app/workflow/assignment.py department_approver). Seal administrators keep the tree on /admin/departments.
(Looking departments up by id or name for other pages stays in accounts.py.)"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.errors import InvalidInput
from app.extensions import db
from app.models import Department, RoleName, Seal, SignatureAuthorization, User
from app.models.audit import Actor, record
from app.services.accounts import get_department
from app.services.people import department_chain, head_problem

NAME_LIMIT = 200


@dataclass(frozen=True)
class DepartmentSpec:
    """A department's name, the department above it and its head (None: a top-level department, no head)."""

    name: str
    parent_id: int | None = None
    head_id: int | None = None


@dataclass(frozen=True)
class DepartmentRow:
    """One line of the tree: the department, how deep it sits (0 at the top) and its active members."""

    department: Department
    depth: int
    members: int


def name_problem(name: str) -> str | None:
    """Why a department name is refused, or None."""
    if not name.strip():
        return "give the department's name"
    if len(name.strip()) > NAME_LIMIT:
        return f"the department's name is longer than {NAME_LIMIT} characters"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "the department's name holds control characters"
    return None


def department_named(name: str) -> Department | None:
    """The department with this name, whatever the letter case."""
    query = select(Department).where(func.lower(Department.name) == name.strip().lower())
    return db.session.execute(query.limit(1)).scalar()


def department_tree() -> list[DepartmentRow]:
    """Every department, each under the one above it, siblings by name."""
    departments = list(db.session.execute(select(Department).order_by(Department.name)).scalars())
    members = dict(db.session.execute(select(User.department_id, func.count(User.id)).where(User.active)
                                      .group_by(User.department_id)).all())
    known = {d.id for d in departments}
    children: dict[int | None, list[Department]] = {}
    for department in departments:
        parent = department.parent_id if department.parent_id in known else None
        children.setdefault(parent, []).append(department)
    rows: list[DepartmentRow] = []
    stack = [(d, 0) for d in reversed(children.get(None, []))]
    placed: set[int] = set()
    while stack:
        department, depth = stack.pop()
        if department.id in placed:
            continue
        placed.add(department.id)
        rows.append(DepartmentRow(department, depth, members.get(department.id, 0)))
        stack.extend((child, depth + 1) for child in reversed(children.get(department.id, [])))
    # A loop in old data has no top: list its departments last rather than hide them.
    rows.extend(DepartmentRow(d, 0, members.get(d.id, 0)) for d in departments if d.id not in placed)
    return rows


def departments_below(department_ids: Collection[int]) -> set[int]:
    """These departments and every department below them, however deep (a loop in old data ends the walk)."""
    children: dict[int, list[int]] = {}
    for department_id, parent_id in db.session.execute(select(Department.id, Department.parent_id)):
        if parent_id is not None:
            children.setdefault(parent_id, []).append(department_id)
    found: set[int] = set()
    stack = list(department_ids)
    while stack:
        department_id = stack.pop()
        if department_id not in found:
            found.add(department_id)
            stack.extend(children.get(department_id, []))
    return found


def heads_over(user: User, department: Department | None) -> bool:
    """Whether the user heads this department or one above it (so sees its people's applications)."""
    seen: set[int] = set()
    while department is not None and department.id not in seen:
        if department.head_id == user.id:
            return True
        seen.add(department.id)
        department = department.parent
    return False


def head_candidates(department: Department) -> list[User]:
    """Who may head the department: active people who decide (no auditors), in it or in a department above."""
    chain = department_chain(department)
    query = select(User).where(User.active, User.department_id.in_(chain)).order_by(User.display_name, User.id)
    return [u for u in db.session.execute(query).scalars() if not u.has_role(RoleName.AUDITOR)]


def _snapshot(department: Department) -> dict[str, Any]:
    return {"name": department.name, "parent": department.parent.name if department.parent else None,
            "head": department.head.username if department.head else None}


def _check_name(name: str, except_id: int | None) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise InvalidInput(problem)
    clash = department_named(name)
    if clash is not None and clash.id != except_id:
        raise InvalidInput(f"there is already a department named “{clash.name}”")
    return name.strip()


def _parent(department: Department | None, parent_id: int | None) -> Department | None:
    """The new parent, checked: it exists and is not the department itself or one below it."""
    if parent_id is None:
        return None
    parent = db.session.get(Department, parent_id)
    if parent is None:
        raise InvalidInput(f"department {parent_id} does not exist")
    if department is not None and department.id in department_chain(parent):
        below = "itself" if parent.id == department.id else f"{parent.name}, which is below it"
        raise InvalidInput(f"{department.name} cannot be put under {below}")
    return parent


def _head(head_id: int | None, chain: list[int]) -> User | None:
    if head_id is None:
        return None
    head = db.session.get(User, head_id)
    if head is None:
        raise InvalidInput(f"user {head_id} does not exist")
    problem = head_problem(head.active, head.role_names, head.department_id, chain)
    if problem is not None:
        raise InvalidInput(f"{head.display_name} cannot head it: {problem}")
    return head


def create_department(spec: DepartmentSpec, actor: Actor) -> Department:
    """Add a department, under another or at the top, with a head or none."""
    name = _check_name(spec.name, None)
    parent = _parent(None, spec.parent_id)
    department = Department(name=name, parent=parent)
    db.session.add(department)
    db.session.flush()
    department.head = _head(spec.head_id, department_chain(department))
    db.session.flush()
    record(actor, "department.created", "department", department.id, after=_snapshot(department))
    return department


def update_department(department_id: int, spec: DepartmentSpec, actor: Actor) -> Department:
    """Rename a department, move it under another (never under itself or one below it), set or clear its head."""
    department = get_department(department_id)
    before = _snapshot(department)
    name = _check_name(spec.name, department.id)
    parent = _parent(department, spec.parent_id)
    head = _head(spec.head_id, [department.id, *department_chain(parent)])
    department.name, department.parent, department.head = name, parent, head
    db.session.flush()
    after = _snapshot(department)
    changed = [k for k in after if after[k] != before[k]]
    if changed:
        record(actor, "department.updated", "department", department.id, name=department.name,
               before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    return department


def deletion_problem(department: Department) -> str | None:
    """Why a department cannot be deleted, or None: it has no members (active or not) and no departments below
    it, owns no seal, no seal lists it among those that may request it, no signature authorization names it."""
    members = db.session.execute(select(func.count(User.id)).where(User.department_id == department.id)).scalar()
    if members:
        return f"{department.name} has {members} member(s); move them to another department first"
    below = db.session.execute(select(Department.name).where(Department.parent_id == department.id)
                               .order_by(Department.name)).scalars().all()
    if below:
        return f"{department.name} has departments below it ({', '.join(below)}); move or delete them first"
    seals = db.session.execute(select(Seal.name).where(
        (Seal.owner_department_id == department.id) | Seal.user_departments.any(Department.id == department.id))
        .order_by(Seal.name)).scalars().all()
    if seals:
        return f"seals name {department.name} as their owner or requesting department ({', '.join(seals)})"
    scoped = [a.id for a in db.session.execute(select(SignatureAuthorization).where(
        SignatureAuthorization.revoked_at.is_(None))).scalars() if department.id in (a.department_ids or [])]
    if scoped:
        return f"signature authorizations name {department.name} in their scope (no. {', '.join(map(str, scoped))})"
    return None


def delete_department(department_id: int, actor: Actor) -> str:
    """Delete an empty department nothing refers to; returns its name."""
    department = get_department(department_id)
    problem = deletion_problem(department)
    if problem is not None:
        raise InvalidInput(problem)
    name = department.name
    before = _snapshot(department)
    department.head = None
    db.session.flush()
    db.session.delete(department)
    db.session.flush()
    record(actor, "department.deleted", "department", department_id, before=before)
    return name


def members_of(department: Department) -> list[User]:
    """The department's people, active first, by name."""
    query = select(User).where(User.department_id == department.id).order_by(User.active.desc(), User.display_name)
    return list(db.session.execute(query).scalars())
