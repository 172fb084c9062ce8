"""The sealing job embeds the approval evidence inside what the signature covers: which application, who approved
on which document and when, and the audit chain's head; read back here with pikepdf alone."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Any

import pikepdf
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import ApplicationStatus, AuditEvent, DocumentKind, RoleName, SealApplication, SealKind
from app.models.audit import Actor
from app.pdf import EVIDENCE_FILE, SealImageSpec
from app.services import accounts, applications, approvals, documents, seals, verification
from app.services.applications import ApplicationSpec
from tests.conftest import PASSWORD, Org, corpus_pdf, work_off_queue

ACTOR = Actor.system("test")


def _file(org: Org, process_id: str = "seal_application", **choices: object) -> SealApplication:
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="contract.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Sign the supply contract",
                           process_id=process_id, **choices)  # type: ignore[arg-type]
    application = applications.submit(spec, org.employee, ACTOR).application
    db.session.commit()
    return application


def _decide(user) -> None:
    [task] = approvals.inbox(user)
    approvals.decide(task.id, user, "approve", "fine", Actor.of(user))
    db.session.commit()


def _sealed(application_id: int) -> bytes:
    db.session.expire_all()
    application = db.session.get(SealApplication, application_id)
    assert application is not None and application.status == ApplicationStatus.SEALED
    sealed = application.document(DocumentKind.SEALED)
    assert sealed is not None
    return documents.read_content(sealed)


def _evidence(pdf: bytes) -> dict[str, Any]:
    """Read with pikepdf directly, as any PDF tool would, not through SealFlow's reader."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        return json.loads(document.attachments[EVIDENCE_FILE].get_file().read_bytes())


def test_the_sealed_pdf_carries_the_application_its_approvals_and_the_audit_chain_head(app: Flask, org: Org):
    application = _file(org)
    original_sha256 = hashlib.sha256(corpus_pdf("minimal-document.pdf")).hexdigest()
    _decide(org.head)
    work_off_queue(app)
    sealed = _sealed(application.id)

    evidence = _evidence(sealed)
    assert evidence["format"] == "sealflow-evidence/1" and evidence["application_id"] == application.id
    assert evidence["seal"] == org.contract_seal.name and evidence["document_type"] == "contract"
    assert evidence["document_sha256"] == original_sha256
    [approval] = evidence["approvals"]
    assert (approval["level"], approval["role"], approval["name"], approval["on_behalf_of"]) == (
        1, "department_head", "Harry", None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", approval["at"]), approval
    head = evidence["audit_chain_head"]
    assert re.fullmatch(r"[0-9a-f]{64}", head), head
    # The head was chained after the approval: the document carries a chain that covers its own approval.
    head_event = db.session.execute(select(AuditEvent).where(AuditEvent.hash == head)).scalar_one()
    approved = db.session.execute(select(AuditEvent).where(AuditEvent.action == "task.completed")).scalar_one()
    assert approved.seq is not None and head_event.seq is not None and head_event.seq >= approved.seq

    report = verification.verify_document(sealed)
    assert report.verdict == "valid", report.reason
    assert report.evidence is not None and report.evidence.covered, report.evidence
    assert report.evidence.content is not None and report.evidence.content.application_id == application.id


def test_parties_sign_over_evidence_embedded_once_before_the_first(app: Flask, org: Org):
    """Multi-party signing: the evidence is in the prepared document, so the first party's signature covers it and
    every later version carries the same."""
    parties = []
    for number in (1, 2):
        user = accounts.save_user(f"party{number}", f"Party {number}", PASSWORD, {RoleName.EMPLOYEE}, org.department)
        seal = seals.create_seal(f"Party {number} Seal", SealKind.CONTRACT, SealImageSpec(f"PARTY {number}"), ACTOR,
                                 org.department)
        seals.set_holders(seal.id, seals.HoldersSpec(custodian_ids=(user.id,), department_ids=(org.department.id,)),
                          ACTOR)
        parties.append((user, seal))
    db.session.commit()
    application = _file(org, "multi_party_signing",
                        fields={"parties": tuple((user.id, seal.id) for user, seal in parties)})
    _decide(org.head)
    for user, _seal in parties:
        _decide(user)
        work_off_queue(app)

    final = _sealed(application.id)
    report = verification.verify_document(final)
    assert report.verdict == "valid" and len(report.signatures) == 2, report.reason
    assert report.evidence is not None and report.evidence.covered, report.evidence
    assert report.evidence.field_name == report.signatures[0].field_name
    assert _evidence(final)["approvals"][0]["name"] == "Harry"
