"""People from a directory (LDAP): they log in with their directory password (SealFlow binds as them and stores no
password), and `directory sync` (or the seal administrators' Directory page) brings everyone's name, department
and roles over, creates the departments, and deactivates those who left. Accounts created in SealFlow are never
touched: a directory person with the same username as one is skipped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import select

from app import directory as ldap
from app.errors import DirectoryRefused, DirectoryUnavailable, InvalidInput
from app.extensions import db
from app.models import Department, RoleName, User
from app.models.audit import Actor, record
from app.models.timestamps import utcnow
from app.services import accounts

log = logging.getLogger(__name__)
USERNAME_LIMIT = 80  # users.username
DEPARTMENT_LIMIT = 200  # departments.name
# Why a directory person has no account, by the code SyncReport.skipped gives.
SKIP_REASONS = {
    "local": "an account created in SealFlow has this username",
    "too_long": f"the username is longer than {USERNAME_LIMIT} characters",
    "duplicate": "the directory holds more than one person with this username",
}


@dataclass
class SyncReport:
    """What a sync did, or with `dry_run`, would do; each list holds usernames or department names."""

    dry_run: bool
    people: int = 0  # found in the directory
    created: list[str] = field(default_factory=list)
    updated: dict[str, dict[str, list[Any]]] = field(default_factory=dict)  # username: {field: [before, after]}
    reactivated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)  # created
    skipped: dict[str, str] = field(default_factory=dict)  # username: why (a key of SKIP_REASONS)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.reactivated or self.deactivated or self.departments)


def enabled() -> bool:
    """Whether a directory is configured (SEALFLOW_LDAP_URL)."""
    return bool(current_app.config["LDAP_URL"])


def settings() -> ldap.DirectorySpec:
    """The directory's settings; InvalidInput when none is configured."""
    config = current_app.config
    if not config["LDAP_URL"]:
        raise InvalidInput("no directory is configured (SEALFLOW_LDAP_URL is empty)")
    return ldap.DirectorySpec(
        url=config["LDAP_URL"], start_tls=config["LDAP_START_TLS"], ca_file=config["LDAP_CA_FILE"],
        timeout=config["LDAP_TIMEOUT"], bind_dn=config["LDAP_BIND_DN"], bind_password=config["LDAP_BIND_PASSWORD"],
        user_base=config["LDAP_USER_BASE"], user_filter=config["LDAP_USER_FILTER"],
        username_attribute=config["LDAP_USERNAME_ATTRIBUTE"], name_attributes=tuple(config["LDAP_NAME_ATTRIBUTES"]),
        department_attribute=config["LDAP_DEPARTMENT_ATTRIBUTE"], group_base=config["LDAP_GROUP_BASE"],
        group_filter=config["LDAP_GROUP_FILTER"])


def role_groups() -> list[tuple[str, RoleName]]:
    """The configured group → role mapping (SEALFLOW_LDAP_ROLE_GROUPS), in order."""
    return [(group, RoleName(role)) for group, role in current_app.config["LDAP_ROLE_GROUPS"]]


@contextmanager
def _directory_errors() -> Iterator[None]:
    """The directory package's errors become domain errors, and a log line for whoever runs SealFlow."""
    try:
        yield
    except ldap.DirectoryUnavailableError as exc:
        log.warning("the directory is unavailable: %s", exc)
        raise DirectoryUnavailable(f"the directory cannot be reached: {exc}") from exc
    except ldap.DirectoryError as exc:
        log.error("the directory refused a request (check the SEALFLOW_LDAP_ settings): %s", exc)
        raise DirectoryRefused(f"the directory refused the request: {exc}") from exc


def handles(user: User | None) -> bool:
    """Whether the directory checks this login: a directory is configured, and the username is not an account
    created in SealFlow (those keep their SealFlow password, even while the directory is down)."""
    return enabled() and (user is None or user.from_directory)


def check_login(username: str, password: str, actor: Actor) -> User | None:
    """The user whose directory password this is, created or brought up to date from the directory; None when the
    directory knows no such person, refuses the password, or the person is an inactive or SealFlow-created account.
    An empty username or password is refused without asking the directory. DirectoryUnavailable or
    DirectoryRefused when the directory cannot answer."""
    if not username or not password:
        return None
    spec = settings()
    with _directory_errors():
        person = ldap.find_person(spec, username)
        if person is None or not ldap.check_password(spec, person.dn, password):
            return None
    report = SyncReport(dry_run=False)
    user = _apply(person, report, actor)
    if user is None:
        log.warning("directory login of %s refused: %s", person.username,
                    SKIP_REASONS[report.skipped[person.username]])
    return user if user is not None and user.active else None


def sync(actor: Actor, dry_run: bool = False) -> SyncReport:
    """Bring every directory person's account up to date (created, renamed, moved, roles from groups, reactivated
    if a sync had deactivated them), create their departments, and deactivate (ending their sessions) directory
    accounts whose person is gone. With `dry_run` nothing changes: the report says what would."""
    spec = settings()
    with _directory_errors():
        people = ldap.list_people(spec)
    report = SyncReport(dry_run=dry_run, people=len(people))
    seen: set[str] = set()
    for person in people:
        if person.username in seen:
            report.skipped[person.username] = "duplicate"
            continue
        seen.add(person.username)
        _apply(person, report, actor, dry_run)
    query = select(User).where(User.directory_dn.is_not(None), User.active).order_by(User.username)
    gone = [user for user in db.session.execute(query).scalars() if user.username not in seen]
    if gone and not people:
        raise DirectoryRefused(f"the directory lists nobody under {spec.user_base} matching {spec.user_filter}; "
                               f"nothing was changed rather than deactivate all {len(gone)} directory accounts")
    for user in gone:
        report.deactivated.append(user.username)
        if not dry_run:
            accounts.set_active(user, False, actor)
            user.directory_vanished_at = utcnow()
    report.created.sort()
    report.reactivated.sort()
    report.updated = dict(sorted(report.updated.items()))
    report.skipped = dict(sorted(report.skipped.items()))
    if report.changed and not dry_run:
        record(actor, "directory.synced", "directory", spec.url[:50], people=report.people,
               created=report.created, updated=sorted(report.updated), reactivated=report.reactivated,
               deactivated=report.deactivated, departments=report.departments)
    db.session.flush()
    return report


def _roles(person: ldap.Person) -> set[RoleName] | None:
    """The person's roles from their groups, with the default roles; None when no group gives a role (roles are
    then SealFlow's to set, and new people get the default roles)."""
    mapping = role_groups()
    if not mapping:
        return None
    roles = {RoleName(role) for role in current_app.config["LDAP_DEFAULT_ROLES"]}
    for group, role in mapping:
        if _group_key(group) in person.groups:
            roles.add(role)
    return roles


def _group_key(group: str) -> str:
    """A group of SEALFLOW_LDAP_ROLE_GROUPS as Person.groups holds it: a DN normalized, a name case folded."""
    try:
        return ldap.normalize_dn(group) if "=" in group else group.casefold()
    except ldap.DirectoryError as exc:
        raise InvalidInput(f"SEALFLOW_LDAP_ROLE_GROUPS: {exc}") from exc


def _department(names: tuple[str, ...], report: SyncReport, actor: Actor, dry_run: bool) -> Department | None:
    """The person's department (names: theirs first, then those above), created with its parents when missing. A
    department's parent is set when SealFlow creates it, or when it has none: an administrator's choice stands."""
    names = tuple(name[:DEPARTMENT_LIMIT] for name in names)
    department: Department | None = None
    for depth in range(len(names) - 1, -1, -1):  # from the top down, so that parents exist first
        name = names[depth]
        found = db.session.execute(select(Department).where(Department.name == name)).scalar_one_or_none()
        if found is None and name not in report.departments:
            report.departments.append(name)
        if dry_run:
            continue
        if found is None:
            found = Department(name=name, parent=department)
            db.session.add(found)
            db.session.flush()
            record(actor, "department.created", "department", found.id, name=name,
                   parent=department.name if department else None, source="directory")
        elif found.parent_id is None and department is not None and not _within(department, found):
            found.parent = department
            record(actor, "department.updated", "department", found.id, parent=[None, department.name],
                   source="directory")
        department = found
    return department


def _within(department: Department, ancestor: Department) -> bool:
    """Whether `department` is `ancestor` or lies below it (making `ancestor` its child would close a loop)."""
    seen: set[int] = set()
    current: Department | None = department
    while current is not None and current.id not in seen:
        if current.id == ancestor.id:
            return True
        seen.add(current.id)
        current = current.parent
    return False


def _refusal(person: ldap.Person, user: User | None) -> str | None:
    """Why this directory person cannot have this account, if they cannot."""
    if user is not None and not user.from_directory:
        return "local"
    if len(person.username) > USERNAME_LIMIT:
        return "too_long"
    return None


def _apply(person: ldap.Person, report: SyncReport, actor: Actor, dry_run: bool = False) -> User | None:
    """Create or update the person's account; None (and a line in `report.skipped`) when it cannot be theirs."""
    user = accounts.find_user(person.username)
    refusal = _refusal(person, user)
    if refusal:
        report.skipped[person.username] = refusal
        return None
    roles = _roles(person)
    department = _department(person.departments, report, actor, dry_run) if person.departments else None
    if user is None:
        report.created.append(person.username)
        return None if dry_run else _create(person, department, roles, actor)
    changes = _changes(user, person, person.departments[0][:DEPARTMENT_LIMIT] if person.departments else None, roles)
    if changes:
        report.updated[person.username] = changes
    if user.directory_vanished_at is not None and not user.active:
        report.reactivated.append(person.username)
        if not dry_run:
            accounts.set_active(user, True, actor)
    if not dry_run:
        _update(user, person, department, roles)
        if changes:
            record(actor, "user.updated", "user", user.id, source="directory", changes=changes)
    return user


def _update(user: User, person: ldap.Person, department: Department | None, roles: set[RoleName] | None) -> None:
    user.directory_vanished_at = None
    user.display_name, user.directory_dn = person.display_name[:200], person.dn
    if department is not None:
        user.department = department
    if roles is not None:
        all_roles = accounts.ensure_roles()
        user.roles = [all_roles[role] for role in sorted(roles)]
    db.session.flush()


def _changes(user: User, person: ldap.Person, department: str | None, roles: set[RoleName] | None
             ) -> dict[str, list[Any]]:
    """What the directory says differently from the account: {field: [before, after]}."""
    changes: dict[str, list[Any]] = {}
    if user.display_name != person.display_name[:200]:
        changes["display_name"] = [user.display_name, person.display_name[:200]]
    if user.directory_dn != person.dn:
        changes["directory_dn"] = [user.directory_dn, person.dn]
    current = user.department.name if user.department else None
    if department is not None and current != department:
        changes["department"] = [current, department]
    if roles is not None and user.role_names != roles:
        changes["roles"] = [sorted(user.role_names), sorted(roles)]
    return changes


def _create(person: ldap.Person, department: Department | None, roles: set[RoleName] | None, actor: Actor) -> User:
    all_roles = accounts.ensure_roles()
    granted = roles if roles is not None else {RoleName(r) for r in current_app.config["LDAP_DEFAULT_ROLES"]}
    # No password: the directory checks it at each login. An empty hash matches no password, should the directory
    # ever be switched off.
    user = User(username=person.username, display_name=person.display_name[:200], password_hash="",
                directory_dn=person.dn, department=department, roles=[all_roles[r] for r in sorted(granted)])
    db.session.add(user)
    db.session.flush()
    record(actor, "user.created", "user", user.id, source="directory", dn=person.dn,
           department=department.name if department else None, roles=sorted(granted))
    return user


@dataclass(frozen=True)
class Overview:
    """What the Directory page shows: the settings (no password) and how many accounts come from the directory."""

    configured: bool
    url: str
    encrypted: bool  # ldaps:// or StartTLS: passwords do not cross the network in clear
    user_base: str
    user_filter: str
    group_base: str
    role_groups: list[tuple[str, RoleName]]
    default_roles: list[RoleName]
    active: int
    inactive: int


def overview() -> Overview:
    """The directory's settings and how many active and inactive accounts come from it."""
    config = current_app.config
    rows = list(db.session.execute(select(User.active).where(User.directory_dn.is_not(None))).scalars())
    encrypted = config["LDAP_START_TLS"] or config["LDAP_URL"].lower().startswith("ldaps://")
    return Overview(configured=enabled(), url=config["LDAP_URL"], encrypted=encrypted,
                    user_base=config["LDAP_USER_BASE"], user_filter=config["LDAP_USER_FILTER"],
                    group_base=config["LDAP_GROUP_BASE"], role_groups=role_groups(),
                    default_roles=[RoleName(r) for r in config["LDAP_DEFAULT_ROLES"]], active=sum(rows),
                    inactive=len(rows) - sum(rows))
