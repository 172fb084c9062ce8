"""Users, departments and roles; passwords hashed with argon2."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, undefer

from app.errors import DirectoryRefused, DirectoryUnavailable, InvalidInput, PermissionDenied
from app.extensions import db
from app.models import Department, Role, RoleName, User
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.models.user import user_roles
from app.services import throttle


@cache
def _hasher_for(profile: str) -> tuple[PasswordHasher, str]:
    """The hasher with argon2's named parameter profile, and a hash of nothing to verify unknown users against
    (so that a login with an unknown name takes as long as one with a known name)."""
    hasher = PasswordHasher.from_parameters(getattr(profiles, profile))
    return hasher, hasher.hash("sealflow-no-such-user")


def _hasher() -> tuple[PasswordHasher, str]:
    return _hasher_for(current_app.config["PASSWORD_HASH_PROFILE"])


def hash_password(password: str) -> str:
    """An argon2id hash of the password, with the configured parameter profile."""
    return _hasher()[0].hash(password)


PASSWORD_LIMIT = 256


def password_problem(password: str, username: str) -> str | None:
    """Why a new password is refused, or None: long enough, not too long, not the username."""
    shortest = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < shortest:
        return f"the password must be at least {shortest} characters long"
    if len(password) > PASSWORD_LIMIT:
        return f"the password must be at most {PASSWORD_LIMIT} characters long"
    if password.strip().casefold() == username.casefold():
        return "the password must not be the username"
    return None


def ensure_roles() -> dict[RoleName, Role]:
    """Every role exists; returns them by name."""
    existing = {r.name: r for r in db.session.execute(select(Role)).scalars()}
    for name in RoleName:
        if name not in existing:
            existing[name] = Role(name=name)
            db.session.add(existing[name])
    db.session.flush()
    return existing


def get_or_create_department(name: str) -> Department:
    """The department with this name, created if missing."""
    department = db.session.execute(select(Department).where(Department.name == name)).scalar_one_or_none()
    if department is None:
        department = Department(name=name)
        db.session.add(department)
        db.session.flush()
    return department


def list_departments() -> list[Department]:
    """Every department, by name."""
    return list(db.session.execute(select(Department).order_by(Department.name)).scalars())


def get_department(department_id: int) -> Department:
    """A department by id."""
    department = get_or_not_found(Department, department_id, "department")
    return department


def find_user(username: str) -> User | None:
    """A user by login name."""
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def active_user(user_id: int) -> User:
    """An active user by id; InvalidInput names the problem otherwise."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise InvalidInput(f"user {user_id} does not exist or is inactive")
    return user


def list_active_users() -> list[User]:
    """Every active user, by display name."""
    query = select(User).where(User.active).order_by(User.display_name, User.id)
    return list(db.session.execute(query).scalars())


def holders_of(role: RoleName) -> list[User]:
    """The active users who hold a role, by display name."""
    query = (select(User).join(User.roles).where(Role.name == role, User.active)
             .order_by(User.display_name, User.id))
    return list(db.session.execute(query).scalars())


def role_granted_at(user_id: int, role: RoleName) -> datetime | None:
    """When the user was given the role they hold; None when they do not hold it."""
    query = (select(user_roles.c.granted_at).join(Role, Role.id == user_roles.c.role_id)
             .where(user_roles.c.user_id == user_id, Role.name == role))
    return db.session.execute(query).scalar()


def user_names(user_ids: Collection[int]) -> dict[int, str]:
    """The display names of these users, by id (unknown ids are left out)."""
    if not user_ids:
        return {}
    query = select(User.id, User.display_name).where(User.id.in_(set(user_ids)))
    return {user_id: name for user_id, name in db.session.execute(query).all()}


def save_user(
    username: str, display_name: str, password: str, roles: set[RoleName], department: Department | None
) -> User:
    """Create the user, or update name, password, roles and department of an existing one."""
    all_roles = ensure_roles()
    user = find_user(username)
    if user is None:
        user = User(username=username, display_name=display_name, password_hash="")
        db.session.add(user)
    user.display_name = display_name
    if user.password_hash and not _password_matches(user.password_hash, password):
        user.end_sessions()  # a new password: whoever held a session with the old one is out
    user.password_hash = hash_password(password)
    user.department = department
    user.roles = [all_roles[r] for r in sorted(roles)]
    db.session.flush()
    return user


class LoginThrottled(PermissionDenied):
    """Logins for the account or from the address are refused for a while; `minutes` says how long."""

    status = 429

    def __init__(self, message: str, minutes: int) -> None:
        super().__init__(message)
        self.minutes = minutes


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher()[0].verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _local_password_matches(user: User | None, password: str) -> bool:
    """Whether the active user's SealFlow password is this; an unknown user is checked against a dummy hash, so
    that a login with an unknown name takes as long as one with a known name."""
    hasher, dummy_hash = _hasher()
    try:
        hasher.verify(user.password_hash if user else dummy_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None and user.active


@cache  # built once, on the first request
def _session_user() -> list[Any]:
    return [joinedload(User.roles), undefer(User.heads_department)]


def user_for_session(token: str) -> User | None:
    """The user a session's login token names, if that session still stands: the token's epoch is the user's
    (logout, a new password or deactivation raise it) and the user is active."""
    user_id, _, epoch = token.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None  # a token from before sessions had epochs, or forged: logged out
    # Every request asks this: the roles, and whether the user heads a department, come in the same statement.
    user = db.session.get(User, int(user_id), options=_session_user())
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


def end_sessions(user: User, actor: Actor) -> None:
    """Log the user out everywhere (their logout does this, so a copied cookie stops working too)."""
    user.end_sessions()
    record(actor, "sessions.ended", "user", user.id)


def set_active(user: User, active: bool, actor: Actor, **details: Any) -> None:
    """Activate or deactivate a user; deactivating ends every session of theirs. `details` go to the audit event."""
    user.active = active
    if not active:
        user.end_sessions()
    record(actor, "user.activated" if active else "user.deactivated", "user", user.id, **details)


def authenticate(username: str, password: str, address: str | None) -> User | None:
    """The active user with these credentials, or None; every attempt is audited. Too many failed attempts for
    the account or from the address refuse further ones for a while (LoginThrottled), checking no password.
    With a directory configured, its people are checked by the directory (services/directory.py), which raises
    DirectoryUnavailable or DirectoryRefused when it cannot answer; accounts created in SealFlow are checked here."""
    from app.services import directory  # it builds on this module

    # No username holds a NUL, and PostgreSQL refuses one in any text it is asked about: shown, it finds nobody.
    username = username.replace("\x00", "\ufffd")
    minutes = throttle.blocked_for(username, address)
    if minutes is not None:
        record(Actor(None, username, address), "login.throttled", "user", username, minutes=minutes)
        raise LoginThrottled(f"too many failed logins; try again in {minutes} minutes", minutes)
    known = find_user(username)
    if directory.handles(known):
        try:
            user = directory.check_login(username, password, Actor(None, username, address))
        except (DirectoryUnavailable, DirectoryRefused) as exc:
            record(Actor(None, username, address), "login.directory_error", "user", known.id if known else username,
                   reason=exc.message)
            raise
    else:
        user = known if _local_password_matches(known, password) else None
    ok = user is not None
    subject = user or known
    actor = Actor(subject.id if subject else None, username, address)
    record(actor, "login.succeeded" if ok else "login.failed", "user", subject.id if subject else username)
    if ok:
        throttle.forget_failures(username)
    else:
        throttle.count_failure(username, address)
    return user if ok else None


def change_password(user: User, current: str, new: str, actor: Actor) -> None:
    """The person replaces their own password: the current one first (a wrong one counts as a failed login, so
    guessing through this form is throttled like logging in), then a new one that meets the rules and differs from
    it. Every session of theirs ends (the caller logs this one in again). A directory account's password is the
    directory's."""
    if user.from_directory:
        raise InvalidInput("your password is kept by the directory; change it there")
    minutes = throttle.blocked_for(user.username, actor.address)
    if minutes is not None:
        raise LoginThrottled(f"too many failed attempts; try again in {minutes} minutes", minutes)
    if not _password_matches(user.password_hash, current):
        throttle.count_failure(user.username, actor.address)
        raise InvalidInput("the current password is wrong")
    problem = password_problem(new, user.username)
    if problem is None and new == current:
        problem = "the new password must differ from the current one"
    if problem is not None:
        raise InvalidInput(problem)
    user.password_hash = hash_password(new)
    user.password_change_required = False
    user.end_sessions()
    record(actor, "user.password_changed", "user", user.id)
