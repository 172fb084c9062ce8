"""Importing people from a CSV file (an HR system's export, or a spreadsheet saved as "CSV UTF-8").

Columns: username, display_name, department, roles (separated by spaces or semicolons); optional: active (yes/no),
parent_department (the department above the row's department), head (yes: this person heads their department).
A dry run says line by line what would be created, changed or refused, and changes nothing. The real run makes the
same plan and, when no line is refused, applies all of it through the same services as the pages (in the caller's
transaction: all or nothing); when any line is refused, it applies none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.errors import InvalidInput
from app.extensions import db
from app.models import Department, Role, RoleName, User
from app.models.audit import Actor, record
from app.services import accounts, departments, people
from app.services.departments import DepartmentSpec
from app.services.people_csv import Row, read_rows

_YES = {"yes", "y", "true", "1", "是"}
_NO = {"no", "n", "false", "0", "否"}


@dataclass(frozen=True)
class Change:
    """One field of a person that the line changes (`head` lists the departments they head)."""

    field: str
    before: str
    after: str


@dataclass
class LineResult:
    """What one line of the file does: create, change, unchanged or refuse (with the reasons)."""

    line: int
    username: str
    outcome: str = "unchanged"
    changes: list[Change] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def refuse(self, reason: str) -> None:
        self.outcome = "refuse"
        if reason not in self.reasons:
            self.reasons.append(reason)


@dataclass(frozen=True)
class DepartmentAction:
    """A change to the department tree the file makes: create, move (under `detail`) or head (`detail`)."""

    line: int
    name: str
    action: str
    detail: str


@dataclass(frozen=True)
class ImportReport:
    lines: tuple[LineResult, ...]
    departments: tuple[DepartmentAction, ...]
    applied: bool
    # (username, password) of each person created, to hand over once.
    passwords: tuple[tuple[str, str], ...] = ()

    def count(self, outcome: str) -> int:
        """How many lines have this outcome."""
        return sum(1 for line in self.lines if line.outcome == outcome)

    @property
    def refused(self) -> bool:
        return any(line.outcome == "refuse" for line in self.lines)


# Planning: the organisation as it would be after the import, by lower-cased name.

@dataclass
class _Dept:
    name: str
    id: int | None
    parent: str | None
    head: str | None


@dataclass
class _Person:
    username: str
    id: int | None
    display_name: str
    department: str | None
    roles: frozenset[RoleName]
    active: bool
    line: int | None = None  # the file's line about them


def _key(name: str | None) -> str | None:
    return None if name is None else name.strip().lower()


@dataclass
class _Plan:
    depts: dict[str, _Dept]
    persons: dict[str, _Person]
    before: dict[str, _Person]
    results: list[LineResult] = field(default_factory=list)
    actions: list[DepartmentAction] = field(default_factory=list)
    set_parent: dict[str, tuple[str, int]] = field(default_factory=dict)
    set_head: dict[str, tuple[str, int]] = field(default_factory=dict)

    def chain(self, key: str | None) -> list[str]:
        """The department and those above it (stops at a loop)."""
        chain: list[str] = []
        while key is not None and key not in chain and key in self.depts:
            chain.append(key)
            key = self.depts[key].parent
        return chain

    def looped(self, key: str) -> bool:
        parent = self.depts[key].parent
        return parent is not None and key in self.chain(parent)

    def ensure_dept(self, name: str, line: int) -> str:
        key = _key(name) or ""
        if key not in self.depts:
            self.depts[key] = _Dept(name.strip(), None, None, None)
            self.actions.append(DepartmentAction(line, name.strip(), "create", ""))
        return key


def _load(rows: list[Row]) -> _Plan:
    depts = {d.name.lower(): d for d in db.session.execute(select(Department)).scalars()}
    by_id = {d.id: key for key, d in depts.items()}
    wanted = {r.values.get("username", "").lower() for r in rows} - {""}
    users: list[User] = []
    names = sorted(wanted)
    for start in range(0, len(names), 500):
        users += db.session.execute(select(User).where(func.lower(User.username).in_(names[start:start + 500])))\
            .scalars().all()
    heads = {d.head_id for d in depts.values() if d.head_id is not None} - {u.id for u in users}
    if heads:
        users += db.session.execute(select(User).where(User.id.in_(heads))).scalars().all()
    plan = _Plan({}, {}, {})
    for key, d in depts.items():
        head = d.head.username.lower() if d.head else None
        plan.depts[key] = _Dept(d.name, d.id, by_id.get(d.parent_id) if d.parent_id else None, head)
    for user in users:
        person = _Person(user.username, user.id, user.display_name, by_id.get(user.department_id)
                         if user.department_id else None, frozenset(user.role_names), user.active)
        plan.persons[user.username.lower()] = person
        plan.before[user.username.lower()] = _Person(**vars(person))
    return plan


def _flag(text: str, what: str, result: LineResult) -> bool | None:
    value = text.strip().lower()
    if not value:
        return None
    if value in _YES or value in _NO:
        return value in _YES
    result.refuse(f"{what} must be yes or no, not {text!r}")
    return None


def _field_problems(row: Row, result: LineResult) -> tuple[frozenset[RoleName], bool | None]:
    """Refuse the line for what its own fields say; its roles and active flag."""
    v = row.values
    department, parent = v["department"], v.get("parent_department", "")
    if row.extra:
        result.refuse("the line has more fields than the header names")
    for problem in (people.username_problem(v["username"]), people.display_name_problem(v["display_name"]),
                    departments.name_problem(department) if department else None,
                    departments.name_problem(parent) if parent else None):
        if problem is not None:
            result.refuse(problem)
    try:
        roles = people.parse_roles(v["roles"])
    except InvalidInput as exc:
        roles = frozenset()
        result.refuse(exc.message)
    else:
        problem = people.roles_problem(roles)
        if problem is not None:
            result.refuse(problem)
    active, head = _flag(v.get("active", ""), "active", result), _flag(v.get("head", ""), "head", result)
    if parent and not department:
        result.refuse("a parent department needs the line's department")
    if parent and _key(parent) == _key(department):
        result.refuse(f"{department} cannot be above itself")
    if head and not department:
        result.refuse("a head needs the line's department")
    return roles, active


def _row_person(row: Row, result: LineResult, plan: _Plan, actor: Actor) -> _Person | None:
    """Check one line on its own; the person it describes, or None (refused)."""
    roles, active = _field_problems(row, result)
    username = row.values["username"]
    current = plan.persons.get(username.lower())
    if current is not None and current.username != username:
        result.refuse(f"the username differs only in letter case from the existing {current.username!r}")
    final = active if active is not None else (current.active if current else True)
    if current is not None and current.id == actor.user_id:
        if not final:
            result.refuse("you cannot deactivate yourself")
        if RoleName.SEAL_ADMIN in current.roles and RoleName.SEAL_ADMIN not in roles:
            result.refuse("you cannot remove your own seal administrator role (another seal administrator can)")
    if result.outcome == "refuse":
        return None
    return _Person(username, current.id if current else None, row.values["display_name"],
                   _key(row.values["department"] or None), roles, final, row.line)


def _claim(plan: _Plan, table: dict[str, tuple[str, int]], dept: str, value: str, what: str,
           result: LineResult) -> None:
    earlier = table.get(dept)
    if earlier is not None and earlier[0] != value:
        result.refuse(f"line {earlier[1]} gives {plan.depts[dept].name if dept in plan.depts else dept} "
                      f"another {what}")
    else:
        table[dept] = (value, result.line)


def _plan_departments(row: Row, plan: _Plan, person: _Person, result: LineResult) -> None:
    """The department, parent and head the line names: created, moved, headed."""
    v, dept = row.values, person.department
    if dept is None:
        return
    parent_name, heads = v.get("parent_department", ""), v.get("head", "").strip().lower() in _YES
    if parent_name:
        _claim(plan, plan.set_parent, dept, _key(parent_name) or "", "parent", result)
    if heads:
        _claim(plan, plan.set_head, dept, person.username.lower(), "head", result)
    if result.outcome == "refuse":
        return
    plan.ensure_dept(v["department"], row.line)
    if parent_name:
        parent = plan.ensure_dept(parent_name, row.line)
        if plan.depts[dept].parent != parent:
            plan.depts[dept].parent = parent
            plan.actions.append(DepartmentAction(row.line, plan.depts[dept].name, "move", plan.depts[parent].name))
    if heads and plan.depts[dept].head != person.username.lower():
        plan.depts[dept].head = person.username.lower()
        plan.actions.append(DepartmentAction(row.line, plan.depts[dept].name, "head", person.username))


def _plan_row(row: Row, plan: _Plan, seen: dict[str, int], actor: Actor) -> None:
    result = LineResult(row.line, row.values.get("username", ""))
    plan.results.append(result)
    key = result.username.lower()
    if key in seen:
        result.refuse(f"{result.username} is already on line {seen[key]}")
        return
    seen[key] = row.line
    person = _row_person(row, result, plan, actor)
    if person is not None:
        _plan_departments(row, plan, person, result)
    if result.outcome != "refuse" and person is not None:
        plan.persons[key] = person


def _dept_name(plan: _Plan, key: str | None) -> str:
    return plan.depts[key].name if key is not None and key in plan.depts else "—"


def _describe(plan: _Plan, result: LineResult) -> None:
    """The line's outcome and changes, from the person before and after."""
    if result.outcome == "refuse":
        return
    key = result.username.lower()
    after, before = plan.persons[key], plan.before.get(key)
    pairs = (("display_name", before.display_name if before else "—", after.display_name),
             ("department", _dept_name(plan, before.department if before else None),
              _dept_name(plan, after.department)),
             ("roles", ", ".join(sorted(before.roles)) if before else "—", ", ".join(sorted(after.roles))),
             ("active", ("yes" if before.active else "no") if before else "—", "yes" if after.active else "no"))
    result.changes = [Change(f, b, a) for f, b, a in pairs if a != b]
    result.outcome = "create" if before is None else "change" if result.changes else "unchanged"


def _check_heads(plan: _Plan, by_line: dict[int, LineResult]) -> None:
    """Every head is still fit to head once the file is applied; a deactivated head's headship ends."""
    for key, dept in plan.depts.items():
        head = plan.persons.get(dept.head) if dept.head else None
        if head is None or plan.looped(key):
            continue
        if not head.active and key not in plan.set_head:
            dept.head = None  # deactivating a head ends their headship
            if head.line is not None:
                by_line[head.line].changes.append(Change("head", dept.name, "—"))
            continue
        problem = people.head_problem(head.active, head.roles, head.department, plan.chain(key))
        if problem is None:
            continue
        blamed = [plan.set_head[key][1]] if key in plan.set_head else [head.line] if head.line else [
            plan.set_parent[d][1] for d in plan.chain(key) if d in plan.set_parent]
        for line in blamed or [min(by_line)]:
            by_line[line].refuse(f"{head.username} heads {dept.name}, and {problem}: give {dept.name} another head "
                                 "(the head column) or name one first")


def _check_tree(plan: _Plan, by_line: dict[int, LineResult]) -> None:
    """After every line: no department above itself, every head still fit to head, a seal administrator left."""
    for dept, (_, line) in plan.set_parent.items():
        if plan.looped(dept):
            by_line[line].refuse(f"{plan.depts[dept].name} would end up below itself")
    _check_heads(plan, by_line)
    admins = _admins_outside(plan) + sum(1 for p in plan.persons.values() if p.active and
                                         RoleName.SEAL_ADMIN in p.roles)
    if admins == 0:
        for key, before in plan.before.items():
            after = plan.persons[key]
            if before.active and RoleName.SEAL_ADMIN in before.roles and after.line is not None:
                by_line[after.line].refuse("this would leave no active seal administrator")


def _admins_outside(plan: _Plan) -> int:
    ids = [p.id for p in plan.persons.values() if p.id is not None]
    query = select(func.count(User.id)).where(User.active, User.roles.any(Role.name == RoleName.SEAL_ADMIN))
    if ids:
        query = query.where(User.id.not_in(ids))
    return db.session.execute(query).scalar() or 0


def plan_import(data: bytes, actor: Actor, max_rows: int) -> _Plan:
    """Read the file and work out every line's outcome; changes nothing."""
    rows = read_rows(data, max_rows)
    plan = _load(rows)
    seen: dict[str, int] = {}
    for row in rows:
        _plan_row(row, plan, seen, actor)
    by_line = {r.line: r for r in plan.results}
    for result in plan.results:
        _describe(plan, result)
    if by_line:
        _check_tree(plan, by_line)
    for result in plan.results:
        if result.outcome == "refuse":
            result.changes = []
    return plan


# Applying: the services the pages use, in an order where each step is valid on its own.

def _apply(plan: _Plan, actor: Actor) -> list[tuple[str, str]]:
    """Departments created; heads that change cleared; departments moved, those above first; people created,
    reactivated, changed; the new heads named; people deactivated last (so that a seal administrator the file
    adds exists before one it removes goes)."""
    ids = {key: d.id for key, d in plan.depts.items()}
    for action in plan.actions:
        if action.action == "create":
            ids[_key(action.name) or ""] = departments.create_department(DepartmentSpec(action.name), actor).id
    new_heads = [key for key, (head, _) in plan.set_head.items() if _head_of(ids[key]) != head]
    for key in new_heads:
        department = _department(ids[key])
        if department.head_id is not None:
            departments.update_department(department.id, DepartmentSpec(department.name, department.parent_id),
                                          actor)
    for key in sorted(plan.set_parent, key=lambda k: len(plan.chain(k))):
        department, parent = _department(ids[key]), plan.depts[key].parent
        departments.update_department(department.id, DepartmentSpec(
            department.name, ids[parent] if parent else None, department.head_id), actor)
    passwords = _apply_people(plan, ids, actor)
    for key in new_heads:
        department = _department(ids[key])
        head = people.user_named(plan.persons[plan.set_head[key][0]].username)
        departments.update_department(department.id, DepartmentSpec(department.name, department.parent_id, head.id),
                                      actor)
    for _, person in _ordered(plan, "deactivate"):
        people.deactivate(people.user_named(person.username).id, actor)
    return passwords


def _department(department_id: int | None) -> Department:
    return accounts.get_department(department_id or 0)


def _head_of(department_id: int | None) -> str | None:
    head = _department(department_id).head
    return head.username.lower() if head else None


def _ordered(plan: _Plan, kind: str) -> Iterable[tuple[str, _Person]]:
    """The file's people of one kind, in the file's order: create, reactivate, update, deactivate."""
    for result in plan.results:
        key = result.username.lower()
        person, before = plan.persons[key], plan.before.get(key)
        if result.outcome not in ("create", "change"):
            continue
        if (kind == "create" and before is None) or (kind == "deactivate" and not person.active) or (
                before is not None and kind == "reactivate" and person.active and not before.active) or (
                before is not None and kind == "update"):
            yield key, person


def _apply_people(plan: _Plan, ids: dict[str, int | None], actor: Actor) -> list[tuple[str, str]]:
    passwords = []
    for _, person in _ordered(plan, "create"):
        spec = people.UserSpec(person.username, person.display_name,
                               ids[person.department] if person.department else None, person.roles)
        _, password = people.create_user(spec, None, actor)
        passwords.append((person.username, password))
    for _, person in _ordered(plan, "reactivate"):
        people.reactivate(people.user_named(person.username).id, actor)
    for _, person in _ordered(plan, "update"):
        user = people.user_named(person.username)
        people.update_user(user.id, person.display_name, ids[person.department] if person.department else None,
                           person.roles, actor)
    return passwords


def import_people(data: bytes, actor: Actor, dry_run: bool, max_rows: int) -> ImportReport:
    """Plan the file line by line; unless it is a dry run or a line is refused, apply it all (the caller commits).
    A real run that applies is audited as a whole too (`people.imported`), beside each change's own event."""
    plan = plan_import(data, actor, max_rows)
    report = ImportReport(tuple(plan.results), tuple(plan.actions), False)
    if dry_run or report.refused:
        return report
    if not plan.actions and all(r.outcome == "unchanged" for r in plan.results):
        return ImportReport(report.lines, report.departments, True)  # nothing to do, nothing to record
    passwords = _apply(plan, actor)
    record(actor, "people.imported", "import", "csv", lines=len(plan.results), created=report.count("create"),
           changed=report.count("change"), departments=len(plan.actions))
    return ImportReport(report.lines, report.departments, True, tuple(passwords))
