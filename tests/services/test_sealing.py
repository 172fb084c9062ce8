"""The sealing job embeds the approval evidence inside what the signature covers: which application, who approved
on which document and when, and the audit chain's head; read back here with pikepdf alone."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import OrderedDict
from typing import Any

import pikepdf
import pytest
from flask import Flask
from sqlalchemy import select, update

from app.extensions import db
from app.models import ApplicationStatus, AuditEvent, Blob, DocumentKind, RoleName, SealApplication, SealKind
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


def test_the_worker_stamps_an_upload_unwalked_when_its_blob_says_it_passed_at_the_limit_in_force(
        app: Flask, org: Org, monkeypatch: pytest.MonkeyPatch):
    """The upload's check is kept on its blob, and the sealing job, in a process that never saw the bytes, stamps
    them without walking every page again; a blob marked at another limit is walked."""
    from app.pdf import CHECK_VERSION, document

    limit = app.config["MAX_PAGE_DECODED_MB"] * 2**20
    filed = []
    for tag in (b"marked", b"marked at a lower limit"):
        spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="contract.pdf",
                               content=corpus_pdf("minimal-document.pdf") + b"\n% " + tag + b"\n", reason="Sign it")
        filed.append(applications.submit(spec, org.employee, ACTOR).application)
        db.session.commit()
    marks = db.session.execute(select(Blob.checked_max_decoded, Blob.check_version)
                               .where(Blob.sha256.in_([a.document(DocumentKind.ORIGINAL).sha256 for a in filed]))).all()
    assert [tuple(m) for m in marks] == [(limit, CHECK_VERSION)] * 2
    lowered = filed[1].document(DocumentKind.ORIGINAL).sha256
    db.session.execute(update(Blob).where(Blob.sha256 == lowered).values(checked_max_decoded=limit // 2))
    db.session.commit()

    walked: list[int] = []
    real = document.check_document
    monkeypatch.setattr(document, "check_document", lambda pdf, max_decoded=limit, pages=None: (
        walked.append(len(pdf.pages)) if pages is None else None, real(pdf, max_decoded, pages)))
    monkeypatch.setattr(document, "_checked", OrderedDict())  # the worker's own process: it never saw the uploads
    for task in approvals.inbox(org.head):
        approvals.decide(task.id, org.head, "approve", "fine", Actor.of(org.head))
        db.session.commit()
    work_off_queue(app)
    assert all(_sealed(a.id) for a in filed)
    assert walked == [1]  # the blob marked at a lower limit, and only it
