"""Seal uses and decided approval steps written straight into the database at chosen times, for the statistics and
usage-ledger tests (running real sealing jobs for a dozen applications at set dates would take minutes and could not
choose the dates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlalchemy import select

from app.extensions import db
from app.models import (
    DocumentKind,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    RoleName,
    Seal,
    SealApplication,
    SealKind,
    TaskState,
    User,
)
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.services import accounts, documents, seals
from tests.conftest import PASSWORD, Org

ACTOR = Actor.system("test")


def application(requester: User, seal: Seal, *, document_type: str = "contract", title: str = "",
                process_id: str = "seal_application", copies: int = 1,
                filename: str = "contract.pdf") -> SealApplication:
    """A filed application with its original document and a process instance on the process's newest version."""
    filed = SealApplication(requester=requester, seal=seal, document_type=document_type, title=title, copies=copies,
                            process_id=process_id, reason="test")
    db.session.add(filed)
    db.session.flush()
    documents.add_document(filed.id, DocumentKind.ORIGINAL, filename, f"%PDF-1.7 original {filed.id}".encode(), 1)
    definition = db.session.execute(select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
                                    .order_by(ProcessDefinition.version.desc())).scalars().first()
    assert definition is not None, process_id
    db.session.add(ProcessInstance(definition_id=definition.id, application_id=filed.id, requester_id=requester.id,
                                   state={}))
    db.session.flush()
    return filed


def seal_at(filed: SealApplication, seal: Seal, at: datetime) -> None:
    """The next sealed version of the application's document, signed with the seal's current image at that time."""
    version = len([d for d in filed.documents if d.kind == DocumentKind.SEALED]) + 1
    sealed = documents.add_document(filed.id, DocumentKind.SEALED, f"sealed-{version}.pdf",
                                    f"%PDF-1.7 sealed {filed.id} {version}".encode(), 1,
                                    seal_image_id=seal.current_image.id)
    sealed.created_at = at
    db.session.flush()


def decide(filed: SealApplication | None, element_id: str, name: str, opened: datetime, decided: datetime | None,
           decider: User, decision: str = "approve", on_behalf_of: User | None = None,
           instance_id: int | None = None) -> HumanTask:
    """A step of the application's process, opened and (unless `decided` is None) decided at those times."""
    if instance_id is None:
        assert filed is not None
        instance_id = db.session.execute(select(ProcessInstance.id).where(
            ProcessInstance.application_id == filed.id)).scalar_one()
    task = HumanTask(instance_id=instance_id, task_guid=str(uuid4()), element_id=element_id,
                     name=name, created_at=opened, completed_at=decided,
                     state=TaskState.COMPLETED if decided else TaskState.READY,
                     decision=decision if decided else None, completed_by=decider if decided else None,
                     on_behalf_of=on_behalf_of)
    db.session.add(task)
    db.session.flush()
    return task


@dataclass
class Uses:
    """The built organisation: a second seal, a person in another department, the applications by name."""

    company_seal: Seal
    office_employee: User
    applications: dict[str, SealApplication]


def build_uses(org: Org) -> Uses:
    """Uses in the first half of 2026 (and one before, one never sealed):

    - a: emma (Sales), contract seal, a contract, sealed 10 March; a second version with the same seal on 11 March
    - b: emma, multi-party: the contract seal on 12 March, the company seal on 1 April; an agreement
    - c: the office employee, company seal, a letter of the process `leader_signature`, 5 April
    - old: emma, contract seal, sealed in 2025; never: emma, contract seal, not sealed.
    """
    company = seals.create_seal("公章 Company Seal", SealKind.COMPANY, SealImageSpec("TEST ORG", "COMPANY"), ACTOR,
                                org.department)
    office = accounts.get_or_create_department("Office")
    wang = accounts.save_user("wang", "王芳", PASSWORD, {RoleName.EMPLOYEE}, office)
    contract = org.contract_seal
    a = application(org.employee, contract, title="采购合同 2026-017", copies=3)
    seal_at(a, contract, datetime(2026, 3, 10, 9))
    seal_at(a, contract, datetime(2026, 3, 11, 9))
    b = application(org.employee, contract, document_type="agreement", filename="framework.pdf")
    seal_at(b, contract, datetime(2026, 3, 12, 9))
    seal_at(b, company, datetime(2026, 4, 1, 9))
    c = application(wang, company, document_type="letter", process_id="leader_signature", title="Letter <to> & co")
    seal_at(c, company, datetime(2026, 4, 5, 9))
    old = application(org.employee, contract)
    seal_at(old, contract, datetime(2025, 12, 31, 23, 59))
    never = application(org.employee, contract)
    db.session.commit()
    return Uses(company, wang, {"a": a, "b": b, "c": c, "old": old, "never": never})
