"""People and their place in the organisation: departments, users, roles."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Column, DateTime, Enum, ForeignKey, String, Table, exists, false
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from app.extensions import Model, db
from app.models.timestamps import UtcNow, utcnow


class RoleName(enum.StrEnum):
    EMPLOYEE = "employee"
    APPROVER = "approver"
    LEADER = "leader"
    SEAL_ADMIN = "seal_admin"
    AUDITOR = "auditor"


user_roles = Table(
    "user_roles",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    # When the role was given: a deployment is approved only by someone who was a seal administrator when it was
    # asked for. The database fills it (`secondary=` inserts the key columns only).
    Column("granted_at", DateTime, nullable=False, server_default=UtcNow()),
)


class Role(Model):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[RoleName] = mapped_column(Enum(RoleName, native_enum=False, length=32), unique=True)


class Department(Model):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # use_alter: departments and users point at each other.
    head_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_departments_head_id_users")
    )
    # The department above this one: its head approves when this department's head is the requester.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    head: Mapped[User | None] = relationship(foreign_keys=[head_id], post_update=True)
    parent: Mapped[Department | None] = relationship(remote_side=[id])


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every session's login token: raising it ends all of the user's sessions at once (logout, a new
    # password, deactivation), whatever cookies are still about.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set when someone else chose the password (a seal administrator, a script, an import): the person chooses their
    # own before anything else.
    password_change_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Who set the password this account's sessions descend from: the administrator who created the account (by
    # hand or by import) or last reset its password, and who could have logged in as the person since. The person's
    # own change keeps it (made from a session opened with the password that administrator knew); only another
    # administrator's reset moves it. The person never decides that administrator's requests. None for a directory
    # account (no SealFlow password) or a password set by a script (the CLI).
    password_set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where the account comes from: None for one created in SealFlow (its password is SealFlow's), else the
    # person's DN in the directory, who logs in with their directory password (none is stored here).
    directory_dn: Mapped[str | None] = mapped_column(String(1000))
    # When `directory sync` last found the person gone from the directory and deactivated them; a sync that finds
    # them again reactivates them (but never someone an administrator deactivated).
    directory_vanished_at: Mapped[datetime | None]

    department: Mapped[Department | None] = relationship(foreign_keys=[department_id])
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")
    # Whether the user heads a department (so may open the archive): every page's top bar asks, so the session's
    # user loads it in the same statement (accounts.user_for_session); elsewhere it is read when asked for.
    heads_department: Mapped[bool] = column_property(exists().where(Department.head_id == id), deferred=True)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users at login and on every request
        return self.active

    def get_id(self) -> str:
        """The session's login token (Flask-Login's alternative token): the user and their session epoch."""
        return f"{self.id}:{self.session_epoch}"

    def end_sessions(self) -> None:
        """End every session of this user: their tokens name an epoch that is no longer theirs."""
        self.session_epoch = (self.session_epoch or 0) + 1

    def has_role(self, role: RoleName) -> bool:
        """Whether the user holds this role."""
        return any(r.name == role for r in self.roles)

    @property
    def from_directory(self) -> bool:
        """Whether the account comes from the directory (LDAP) rather than being created in SealFlow."""
        return self.directory_dn is not None

    @property
    def role_names(self) -> set[RoleName]:
        return {r.name for r in self.roles}


class Substitution(Model):
    """While a user is away, tasks meant for them go to the substitute they named."""

    __tablename__ = "substitutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    substitute_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    substitute: Mapped[User] = relationship(foreign_keys=[substitute_id])
