"""Demo data: an organisation with two departments, one user per role, three seals, the shipped flows."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import RoleName, Seal, SealKind
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.services import accounts, flows, keys, seals


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    roles: str


_USERS = (
    # username, display name, department, roles
    ("emma", "Emma Employee", "Sales", {RoleName.EMPLOYEE}),
    ("harry", "Harry Head of Sales", "Sales", {RoleName.EMPLOYEE, RoleName.APPROVER}),
    ("leo", "Leo Leader", "General Office", {RoleName.EMPLOYEE, RoleName.LEADER, RoleName.APPROVER}),
    ("sam", "Sam Seal Administrator", "General Office", {RoleName.EMPLOYEE, RoleName.SEAL_ADMIN}),
    ("alice", "Alice Auditor", "General Office", {RoleName.AUDITOR}),
)
_HEADS = {"Sales": "harry", "General Office": "leo"}
_SEALS = (
    ("Company Seal", SealKind.COMPANY, "OFFICIAL SEAL", "General Office"),
    ("Contract Seal", SealKind.CONTRACT, "CONTRACT SEAL", "Sales"),
    ("Finance Seal", SealKind.FINANCE, "FINANCE SEAL", "General Office"),
)


def demo_password(username: str) -> str:
    """Stable per installation (derived from its secret key), so re-seeding prints the same logins."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"demo-login:{username}".encode(), hashlib.sha256).hexdigest()[:12]


def seed(actor: Actor) -> list[DemoLogin]:
    """Create (or bring up to date) the demo organisation. Safe to run any number of times."""
    keys.ensure_root_ca()
    departments = {name: accounts.get_or_create_department(name) for name in _HEADS}
    logins = []
    for username, display_name, department, roles in _USERS:
        password = demo_password(username)
        accounts.save_user(username, display_name, password, roles, departments[department])
        logins.append(DemoLogin(username, password, ", ".join(sorted(r.value for r in roles))))
    for department_name, head in _HEADS.items():
        departments[department_name].head = accounts.find_user(head)
    organisation = current_app.config["ORGANISATION_NAME"].upper()
    for name, kind, purpose, department in _SEALS:
        if db.session.execute(select(Seal.id).where(Seal.name == name)).scalar() is None:
            image = SealImageSpec(organisation=organisation, purpose=purpose, serial=f"SF-{kind.value.upper()}")
            seals.create_seal(name, kind, image, actor, department=departments[department])
    flows.deploy_shipped(actor)
    return logins
