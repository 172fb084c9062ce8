"""The certificate of completion: a sealed application's history as a PDF signed with the system seal, accepted by
`pdf verify`, pdfsig and qpdf, and carrying the people, the hashes and the path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from app.errors import InvalidTransition
from app.extensions import db
from app.models.audit import Actor
from app.services import applications, approvals, audit
from app.services.applications import ApplicationSpec
from app.services.certificate import certificate_of_completion
from app.services.verification import verify_document
from tests.conftest import Org, corpus_pdf, work_off_queue


def _sealed_after_a_return(app: Flask, org: Org) -> int:
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="供货合同.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Sign the supply contract",
                           title="供货合同 2026-118", counterparty="上海远航物流有限公司")
    application_id = applications.submit(spec, org.employee, Actor.of(org.employee)).application.id
    db.session.commit()
    for user, decision in ((org.head, "return"), (org.employee, "resubmit"), (org.head, "approve")):
        task = approvals.inbox(user)[0]
        approvals.decide(task.id, user, decision, f"{decision}: ok", Actor.of(user))
        db.session.commit()
    work_off_queue(app)
    audit.extend_chain()
    db.session.commit()
    audit.anchor_head()
    db.session.commit()
    return application_id


def test_the_certificate_is_signed_by_the_system_seal_and_says_who_did_what(app: Flask, org: Org, tmp_path: Path):
    application_id = _sealed_after_a_return(app, org)
    with app.test_request_context():  # the certificate speaks the reader's language
        pdf = certificate_of_completion(application_id, org.auditor)
    report = verify_document(pdf)
    assert report.verdict == "valid", report.reason
    [signature] = report.signatures
    assert "SealFlow system seal" in signature.signer and signature.trusted
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    assert subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True).stdout
    for expected in ("Certificate of completion", "供货合同 2026-118", "上海远航物流有限公司", "Emma", "Harry",
                     "return: ok", "approve: ok", "Contract Seal", "Audit chain head at sealing", "Time-stamped"):
        assert expected in text, expected
    assert text.count("Harry (harry)") >= 2  # both of his decisions
    # The CLI's verdict, as a reader would run it.
    verified = app.test_cli_runner().invoke(args=["pdf", "verify", str(path)])
    assert verified.exit_code == 0, verified.output
    if shutil.which("pdfsig"):
        pdfsig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
        assert "Signature is Valid" in pdfsig.stdout, pdfsig.stdout


def test_only_a_sealed_application_has_a_certificate(app: Flask, org: Org):
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="c.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="r")
    application_id = applications.submit(spec, org.employee, Actor.of(org.employee)).application.id
    db.session.commit()
    with pytest.raises(InvalidTransition), app.test_request_context():
        certificate_of_completion(application_id, org.auditor)

