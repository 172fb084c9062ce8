"""Administering people: creating and editing users, their roles, deactivating and reactivating them, resetting
passwords. Seal administrators do it on /admin/users, scripts with `flask users`, many at once with a CSV import
(people_import.py); all three come here. Logging in and sessions live in accounts.py, departments in
departments.py."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import (
    ApplicationStatus,
    AuditEvent,
    Department,
    HumanTask,
    ProcessInstance,
    Role,
    RoleName,
    Seal,
    SealApplication,
    Substitution,
    TaskCandidate,
    TaskState,
    User,
)
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.models.timestamps import utcnow
from app.services import accounts

# Roles that decide steps; an auditor never decides, so holds none of them.
DECIDING_ROLES = frozenset({RoleName.APPROVER, RoleName.LEADER, RoleName.SEAL_ADMIN})
# Letters (any script), digits and . _ @ + -: what directories and HR systems use as login names.
USERNAME = re.compile(r"[\w.@+-]{2,80}")
DISPLAY_NAME_LIMIT = 200
PER_PAGE = 25
# Generated passwords: 4 groups of 4 from 31 unambiguous characters (no 0/o, 1/l/i): about 79 bits.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RUNNING = (ApplicationStatus.PENDING, ApplicationStatus.RETURNED, ApplicationStatus.SEALING)


@dataclass(frozen=True)
class UserSpec:
    """What a seal administrator says about a person: login name, name, department, roles."""

    username: str
    display_name: str
    department_id: int | None
    roles: frozenset[RoleName]


@dataclass(frozen=True)
class UserSearch:
    """The list's filters: text in the username, name or department; a department; a role; active or not."""

    text: str = ""
    department_id: int | None = None
    role: RoleName | None = None
    state: str = "active"  # active | inactive | all
    page: int = 1


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class OpenWork:
    """What depends on a person, said before they are deactivated: tasks waiting for them by name (and the
    applications those belong to), their own applications still running, the departments they head (their
    headship ends), the people they stand in for (those substitutions end), their substitutes (who keep seeing
    their tasks until the period ends), the seals they keep or own."""

    task_count: int
    task_applications: tuple[int, ...]
    running_applications: int
    headed_departments: tuple[str, ...]
    standing_in_for: tuple[str, ...]
    substitutes: tuple[str, ...]
    seals: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.task_count or self.running_applications or self.headed_departments
                    or self.standing_in_for or self.substitutes or self.seals)


# Rules: each returns why a value is refused, or None. The pages, the CLI and the CSV import's dry run use them.

def username_problem(username: str) -> str | None:
    """Why a login name is refused, or None."""
    if not USERNAME.fullmatch(username):
        return (f"the username {username!r} must be 2 to 80 letters, digits or . _ @ + - "
                "(no spaces)")
    return None


def display_name_problem(name: str) -> str | None:
    """Why a display name is refused, or None."""
    if not name.strip():
        return "give the person's name"
    if len(name) > DISPLAY_NAME_LIMIT:
        return f"the name is longer than {DISPLAY_NAME_LIMIT} characters"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "the name holds control characters"
    return None


def roles_problem(roles: Collection[RoleName]) -> str | None:
    """Why a set of roles is refused, or None: at least one, and an auditor holds no deciding role."""
    if not roles:
        return "give at least one role"
    if RoleName.AUDITOR in roles and DECIDING_ROLES & set(roles):
        deciding = ", ".join(sorted(DECIDING_ROLES & set(roles)))
        return f"an auditor never decides, so cannot also be {deciding}"
    return None


def parse_roles(text: str) -> frozenset[RoleName]:
    """Roles written as names separated by spaces, commas or semicolons (`employee; approver`)."""
    names = [part for part in re.split(r"[\s,;]+", text.strip().lower()) if part]
    unknown = [n for n in names if n not in {r.value for r in RoleName}]
    if unknown:
        raise InvalidInput(f"unknown role {unknown[0]!r}: the roles are {', '.join(RoleName)}")
    return frozenset(RoleName(n) for n in names)


def head_problem(active: bool, roles: Collection[RoleName], department: Hashable | None,
                 headed_chain: Collection[Hashable]) -> str | None:
    """Why a person cannot head a department, or None: the head is active, decides (no auditor) and belongs to the
    department or to one above it (`headed_chain`: the department and its ancestors; ids, or names in a plan)."""
    if not active:
        return "a deactivated user cannot head a department"
    if RoleName.AUDITOR in roles:
        return "an auditor never decides, so cannot head a department"
    if department is None or department not in headed_chain:
        return "the head must belong to the department or to one above it"
    return None


def generate_password() -> str:
    """A random password to hand over once: four groups of four unambiguous characters."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(chars[i:i + 4] for i in range(0, 16, 4))


def _check(problem: str | None) -> None:
    if problem is not None:
        raise InvalidInput(problem)


# Reading.

def get_user(user_id: int) -> User:
    """A user by id."""
    return get_or_not_found(User, user_id, "user")


def user_named(username: str) -> User:
    """A user by login name; NotFound otherwise."""
    user = accounts.find_user(username)
    if user is None:
        raise NotFound(f"there is no user {username!r}")
    return user


def clashing_username(username: str, except_id: int | None = None) -> str | None:
    """An existing login name equal to this one but for letter case (a second 'Emma' beside 'emma' is refused)."""
    query = select(User.username).where(func.lower(User.username) == username.lower())
    if except_id is not None:
        query = query.where(User.id != except_id)
    return db.session.execute(query.limit(1)).scalar()


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_users(search: UserSearch) -> UserPage:
    """A page of users matching the filters, by name."""
    query = select(User).outerjoin(Department, User.department_id == Department.id)
    if search.text.strip():
        pattern = _like(search.text.strip())
        query = query.where(or_(User.username.ilike(pattern, escape="\\"),
                                User.display_name.ilike(pattern, escape="\\"),
                                Department.name.ilike(pattern, escape="\\")))
    if search.department_id is not None:
        query = query.where(User.department_id == search.department_id)
    if search.role is not None:
        query = query.where(User.roles.any(Role.name == search.role))
    if search.state in ("active", "inactive"):
        query = query.where(User.active.is_(search.state == "active"))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar() or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, search.page), pages)
    rows = query.order_by(User.display_name, User.id).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    return UserPage(list(db.session.execute(rows).scalars()), total, page, pages)


def history(user_id: int, limit: int = 50) -> list[AuditEvent]:
    """The newest audit events about a person (changes, logins), newest first."""
    query = select(AuditEvent).where(AuditEvent.object_type == "user", AuditEvent.object_id == str(user_id))
    return list(db.session.execute(query.order_by(AuditEvent.id.desc()).limit(limit)).scalars())


def snapshot(user: User) -> dict[str, Any]:
    """What the audit log keeps of a user before and after a change."""
    return {"username": user.username, "display_name": user.display_name,
            "department": user.department.name if user.department else None,
            "roles": sorted(r.name.value for r in user.roles), "active": user.active}


def _changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _department(department_id: int | None) -> Department | None:
    if department_id is None:
        return None
    department = db.session.get(Department, department_id)
    if department is None:
        raise InvalidInput(f"department {department_id} does not exist")
    return department


def department_chain(department: Department | None) -> list[int]:
    """The ids of a department and of every department above it, nearest first."""
    chain: list[int] = []
    while department is not None and department.id not in chain:
        chain.append(department.id)
        department = department.parent
    return chain


def headed_by(user_id: int) -> list[Department]:
    """The departments this user heads."""
    return list(db.session.execute(select(Department).where(Department.head_id == user_id)
                                   .order_by(Department.name)).scalars())


def _active_seal_admins(except_id: int) -> int:
    query = select(func.count(User.id)).where(User.active, User.id != except_id,
                                              User.roles.any(Role.name == RoleName.SEAL_ADMIN))
    return db.session.execute(query).scalar() or 0


def lockout_problem(user: User, roles: Collection[RoleName], active: bool, actor: Actor) -> str | None:
    """Why a change would lock the administrators out, or None: nobody removes their own seal administrator role
    or deactivates themselves, and one active seal administrator always remains."""
    keeps = active and RoleName.SEAL_ADMIN in roles
    if user.id == actor.user_id and not active:
        return "you cannot deactivate yourself"
    if user.id == actor.user_id and user.has_role(RoleName.SEAL_ADMIN) and RoleName.SEAL_ADMIN not in roles:
        return "you cannot remove your own seal administrator role (another seal administrator can)"
    if user.active and user.has_role(RoleName.SEAL_ADMIN) and not keeps and not _active_seal_admins(user.id):
        return f"{user.username} is the last active seal administrator; make someone else one first"
    return None


# Changing.

def create_user(spec: UserSpec, password: str | None, actor: Actor) -> tuple[User, str]:
    """Create a person; without a password one is generated. Returns the user and the password (to hand over); they
    choose their own when they first log in. The actor, who knew the password, is kept as its setter."""
    _check(username_problem(spec.username) or display_name_problem(spec.display_name) or roles_problem(spec.roles))
    clash = clashing_username(spec.username)
    if clash is not None:
        raise InvalidInput(f"there is already a user {clash!r}")
    password = generate_password() if password is None else password
    _check(accounts.password_problem(password, spec.username))
    all_roles = accounts.ensure_roles()
    user = User(username=spec.username, display_name=spec.display_name.strip(),
                password_hash=accounts.hash_password(password), department=_department(spec.department_id),
                roles=[all_roles[r] for r in sorted(spec.roles)], password_change_required=True,
                password_set_by_id=actor.user_id)
    db.session.add(user)
    db.session.flush()
    record(actor, "user.created", "user", user.id, after=snapshot(user))
    return user, password


def update_user(user_id: int, display_name: str, department_id: int | None, roles: Collection[RoleName],
                actor: Actor) -> User:
    """Change a person's name, department and roles (the username stays). Refused when it would lock the
    administrators out, or leave a department they head with a head from elsewhere or an auditor."""
    user = get_user(user_id)
    roles = frozenset(roles)
    _check(display_name_problem(display_name) or roles_problem(roles)
           or lockout_problem(user, roles, user.active, actor))
    department = _department(department_id)
    chain = department_chain(department)
    for headed in headed_by(user.id):
        problem = head_problem(True, roles, chain[0] if chain else None, department_chain(headed))
        if problem is not None:
            raise InvalidInput(f"{user.username} heads {headed.name}, and {problem}: name another head of "
                               f"{headed.name} first")
    before = snapshot(user)
    all_roles = accounts.ensure_roles()
    user.display_name = display_name.strip()
    user.department = department
    user.roles = [all_roles[r] for r in sorted(roles)]
    db.session.flush()
    old, new = _changed(before, snapshot(user))
    if new:
        record(actor, "user.updated", "user", user.id, username=user.username, before=old, after=new)
    return user


def set_roles(user_id: int, roles: Collection[RoleName], actor: Actor) -> User:
    """Give a person exactly these roles."""
    user = get_user(user_id)
    return update_user(user.id, user.display_name, user.department_id, roles, actor)


def open_work(user: User) -> OpenWork:
    """What depends on this person now (shown before deactivating them)."""
    named = select(TaskCandidate.task_id).where(TaskCandidate.user_id == user.id)
    tasks = db.session.execute(
        select(HumanTask.id, ProcessInstance.application_id).join(ProcessInstance)
        .where(HumanTask.state == TaskState.READY)
        .where(or_(HumanTask.assignee_id == user.id, HumanTask.id.in_(named)))
    ).all()
    running = db.session.execute(select(func.count(SealApplication.id)).where(
        SealApplication.requester_id == user.id, SealApplication.status.in_(_RUNNING))).scalar() or 0
    now = utcnow()
    standing = _substitutions(Substitution.substitute_id == user.id, now)
    away = _substitutions(Substitution.user_id == user.id, now)
    seals = db.session.execute(select(Seal.name).where(or_(Seal.owner_user_id == user.id,
                                                           Seal.custodians.any(User.id == user.id)))
                               .order_by(Seal.name)).scalars()
    return OpenWork(len(tasks), tuple(sorted({a for _, a in tasks if a is not None})), running,
                    tuple(d.name for d in headed_by(user.id)),
                    tuple(s.user.display_name for s in standing), tuple(s.substitute.display_name for s in away),
                    tuple(seals))


def _substitutions(condition: Any, now: Any) -> list[Substitution]:
    query = select(Substitution).where(condition, Substitution.cancelled_at.is_(None), Substitution.ends_at > now)
    return list(db.session.execute(query.order_by(Substitution.starts_at)).scalars())


def deactivate(user_id: int, actor: Actor) -> OpenWork:
    """Deactivate a person: they cannot log in and every session of theirs ends; the departments they head have no
    head until another is named (their approvals go to the head above meanwhile); substitutions in which they
    stand in for others end. Tasks waiting for them by name stay (see OpenWork). Returns what depended on them."""
    user = get_user(user_id)
    _check(lockout_problem(user, user.role_names, False, actor))
    if not user.active:
        raise InvalidInput(f"{user.username} is already deactivated")
    work = open_work(user)
    for department in headed_by(user.id):
        department.head = None
        record(actor, "department.updated", "department", department.id, name=department.name,
               before={"head": user.username}, after={"head": None}, reason="the head was deactivated")
    now = utcnow()
    for substitution in _substitutions(Substitution.substitute_id == user.id, now):
        substitution.cancelled_at = now
        record(actor, "substitute.ended", "user", substitution.user_id, substitution_id=substitution.id,
               substitute_id=user.id, reason="the substitute was deactivated")
    accounts.set_active(user, False, actor, before={"active": True}, after={"active": False},
                        open_tasks=work.task_count, task_applications=list(work.task_applications),
                        headed_departments=list(work.headed_departments))
    db.session.flush()
    return work


def reactivate(user_id: int, actor: Actor) -> User:
    """Let a deactivated person log in again (departments they headed keep the head named since)."""
    user = get_user(user_id)
    if user.active:
        raise InvalidInput(f"{user.username} is already active")
    accounts.set_active(user, True, actor, before={"active": False}, after={"active": True})
    db.session.flush()
    return user


def reset_password(user_id: int, password: str | None, actor: Actor) -> str:
    """Give a person a temporary password (generated when none is given; they choose their own when they next log
    in) and end their sessions; returns it once. Someone else's reset makes them the password's setter (the person
    resetting their own keeps the setter they had)."""
    user = get_user(user_id)
    if user.from_directory:
        raise InvalidInput(f"{user.username}'s password is kept by the directory; reset it there")
    generated = password is None
    password = generate_password() if password is None else password
    _check(accounts.password_problem(password, user.username))
    user.password_hash = accounts.hash_password(password)
    user.password_change_required = True
    if actor.user_id != user.id:
        user.password_set_by_id = actor.user_id
    user.end_sessions()
    record(actor, "user.password_reset", "user", user.id, username=user.username, generated=generated,
           password_set_by_id=user.password_set_by_id)
    return password

