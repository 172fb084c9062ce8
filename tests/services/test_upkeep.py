"""Long-term validity upkeep on a really sealed document: the clock reads its newest time-stamp, renews it when the
authority's certificate nears expiry (the document's next version: a document time-stamp with validation data, still
valid for pdfsig and our verifier, no seal use counted twice), and flags seal certificates that expire soon."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.errors import PermissionDenied
from app.extensions import db
from app.jobs.clock import tick
from app.models import AuditEvent, Document, DocumentKind, SealApplication
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import applications, approvals, documents, statistics, upkeep
from app.services.applications import ApplicationSpec
from app.services.verification import verify_document
from tests.conftest import Org, corpus_pdf, work_off_queue


def _sealed(app: Flask, org: Org) -> SealApplication:
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="c.pdf",
                           content=corpus_pdf("pdflatex-4-pages.pdf"), reason="r", title="t")
    application = applications.submit(spec, org.employee, Actor.of(org.employee)).application
    db.session.commit()
    task = approvals.inbox(org.head)[0]
    approvals.decide(task.id, org.head, "approve", "ok", Actor.of(org.head))
    db.session.commit()
    work_off_queue(app)
    db.session.expire_all()
    return application


def test_the_clock_renews_a_time_stamp_before_its_authority_expires(app: Flask, org: Org, tmp_path: Path):
    application = _sealed(app, org)
    first = tick()
    assert first.documents_renewed == 0  # five years left on the authority's certificate: nothing due
    sealed = application.document(DocumentKind.SEALED)
    assert sealed is not None and sealed.upkeep_checked_at is not None and sealed.timestamp_expires_at is not None
    assert sealed.timestamp_expires_at > utcnow() + timedelta(days=365 * 4)

    app.config["RENEW_TIMESTAMPS_DAYS"] = 365 * 6  # as if the certificate were about to expire
    assert tick().documents_renewed == 1
    db.session.expire_all()
    renewed = application.document(DocumentKind.SEALED)
    assert renewed is not None and renewed.version == sealed.version + 1 and renewed.seal_image_id is None
    content = documents.read_content(renewed)
    assert content.startswith(documents.read_content(sealed))  # the earlier bytes kept as they were
    report = verify_document(content)
    assert report.verdict == "valid", report.reason
    assert [s.kind for s in report.signatures] == ["signature", "document-timestamp"]
    [event] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "document.timestamped")).scalars()
    assert event.details["previous_sha256"] == sealed.sha256 and event.details["sha256"] == renewed.sha256
    # The newest version was renewed; its own time-stamp is fresh, so only the window makes it due again.
    assert upkeep.upkeep_overview(org.auditor).due == [renewed]
    app.config["RENEW_TIMESTAMPS_DAYS"] = 90
    assert tick().documents_renewed == 0
    # A renewal is not a use of the seal.
    assert statistics.seal_usage(org.contract_seal.id).total == 1


def test_seal_certificates_expiring_soon_are_flagged(app: Flask, org: Org):
    assert upkeep.expiring_seals() == []
    app.config["CERTIFICATE_WARNING_DAYS"] = 365 * 6
    [flag] = upkeep.expiring_seals()
    assert flag.seal.id == org.contract_seal.id and flag.expires > utcnow()
    assert [e.seal.id for e in upkeep.upkeep_overview(org.seal_admin).expiring] == [org.contract_seal.id]
    with pytest.raises(PermissionDenied):
        upkeep.upkeep_overview(org.employee)


def test_each_sealed_version_is_read_once(app: Flask, org: Org):
    application = _sealed(app, org)
    sealed = db.session.execute(select(Document).where(Document.application_id == application.id,
                                                       Document.kind == DocumentKind.SEALED)).scalar_one()
    assert upkeep.read_timestamps() >= 1
    assert sealed.timestamp_expires_at is not None
    assert upkeep.read_timestamps() == 0  # read once
