"""Demo data: an organisation with two departments (Sales under the General Office), people for every role (two
leaders and two seal administrators, so that nobody ever has to approve their own application), the
organisation's seals with their custodians and users, a leader's and the legal representative's signatures, the
shipped flows, and a few applications waiting for approval (so that the inboxes and the archive show something)."""

from __future__ import annotations

import hashlib
import hmac
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import RoleName, Seal, SealKind, User
from app.models.audit import Actor

# flows before applications: entered first, applications meets the services' import cycle (deployments ->
# operators -> deployments); isort keeps this order.
from app.services import accounts, flows, keys, seals
from app.services.applications import ApplicationSpec, submit

if TYPE_CHECKING:
    from app.pdf import SealImageSpec


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
    ("lin", "Lin Legal Representative", "General Office", {RoleName.EMPLOYEE, RoleName.LEADER}),
    ("sam", "Sam Seal Administrator", "General Office", {RoleName.EMPLOYEE, RoleName.SEAL_ADMIN}),
    ("nora", "Nora Seal Administrator", "General Office", {RoleName.EMPLOYEE, RoleName.SEAL_ADMIN}),
    ("alice", "Alice Auditor", "General Office", {RoleName.AUDITOR}),
)
# Department -> (head, the department above it).
_DEPARTMENTS = {"General Office": ("leo", None), "Sales": ("harry", "General Office")}
ALL = ("Sales", "General Office")
_SEALS = (
    # name, kind, text, department it belongs to, departments that may request it, custodians, owner
    ("Company Seal", SealKind.COMPANY, "OFFICIAL SEAL", "General Office", ALL, ("sam",), None),
    ("Contract Seal", SealKind.CONTRACT, "CONTRACT SEAL", "Sales", ALL, ("sam",), None),
    ("Finance Seal", SealKind.FINANCE, "FINANCE SEAL", "General Office", ("General Office",), ("nora",), None),
    ("Leo's Signature", SealKind.PERSONAL, "LEO LEADER", "General Office", ALL, (), "leo"),
    ("Legal Representative Seal", SealKind.LEGAL_REPRESENTATIVE, "LIN", "General Office", ALL, ("nora",), "lin"),
)


_APPLICATIONS = (
    # requester, seal, document type, title, counterparty, amount, copies
    ("emma", "Contract Seal", "contract", "Steel purchase contract 2027", "上海华东建设有限公司", "80000", 2),
    ("emma", "Company Seal", "letter", "Letter of reference to the bank", "中国工商银行上海分行", None, 1),
    ("harry", "Contract Seal", "agreement", "Distribution agreement, East China", "ACME Trading Ltd", "250000", 3),
    ("leo", "Finance Seal", "other", "Payment confirmation, office lease", "深圳前海联合置业有限公司", "1500000", 2),
)


def demo_password(username: str) -> str:
    """Stable per installation (derived from its secret key), so re-seeding prints the same logins."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"demo-login:{username}".encode(), hashlib.sha256).hexdigest()[:12]


def seed(actor: Actor) -> list[DemoLogin]:
    """Create (or bring up to date) the demo organisation. Safe to run any number of times."""
    keys.ensure_root_ca()
    departments = {name: accounts.get_or_create_department(name) for name in _DEPARTMENTS}
    logins, users = [], {}
    for username, display_name, department, roles in _USERS:
        password = demo_password(username)
        users[username] = accounts.save_user(username, display_name, password, roles, departments[department])
        logins.append(DemoLogin(username, password, ", ".join(sorted(r.value for r in roles))))
    for name, (head, parent) in _DEPARTMENTS.items():
        departments[name].head = users[head]
        departments[name].parent = departments[parent] if parent else None
    for name, kind, text, department, requesters, custodians, owner in _SEALS:
        seal = db.session.execute(select(Seal).where(Seal.name == name)).scalar()
        if seal is None:
            seal = seals.create_seal(name, kind, _image(kind, text), actor, department=departments[department])
        spec = seals.HoldersSpec(owner_id=users[owner].id if owner else None,
                                 custodian_ids=tuple(users[c].id for c in custodians),
                                 department_ids=tuple(departments[d].id for d in requesters))
        seals.set_holders(seal.id, spec, actor)
    flows.deploy_shipped(actor)
    _file_applications(users)
    return logins


def _file_applications(users: dict[str, User]) -> None:
    """The demo applications, each filed once (its form token says whether it was)."""
    for number, (username, seal_name, document_type, title, counterparty, amount, copies) in enumerate(
            _APPLICATIONS, 1):
        seal = db.session.execute(select(Seal).where(Seal.name == seal_name)).scalar_one()
        spec = ApplicationSpec(
            seal_id=seal.id, document_type=document_type, filename=f"demo-{number}.pdf", content=_pdf(title),
            reason="Demo application", title=title, counterparty=counterparty, copies=copies,
            amount=None if amount is None else Decimal(amount),
            submission_token=hashlib.sha256(f"demo-application:{number}".encode()).hexdigest()[:32])
        requester = users[username]
        submit(spec, requester, Actor.of(requester))


def _pdf(title: str) -> bytes:
    """A one-page document with its title on it."""
    from reportlab.pdfgen.canvas import Canvas  # the demo only: a web worker never loads it

    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.setFont("Helvetica", 16)
    canvas.drawString(72, 760, title)
    canvas.setFont("Helvetica", 11)
    canvas.drawString(72, 200, "Party A (seal):")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _image(kind: SealKind, text: str) -> SealImageSpec:
    """A round organisation seal, or a person's oval (personal) or square (legal representative) seal."""
    from app.pdf import SealImageSpec

    if kind in seals.OWNED_KINDS:
        return SealImageSpec(organisation=text, shape="oval" if kind == SealKind.PERSONAL else "square")
    organisation = current_app.config["ORGANISATION_NAME"].upper()
    return SealImageSpec(organisation=organisation, purpose=text, serial=f"SF-{kind.value.upper()}")

