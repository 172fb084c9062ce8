"""The thin journey, end to end: form, approval, worker, sealed PDF checked by independent verifiers."""

import io
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from app.extensions import db
from app.models import ApplicationStatus, AuditEvent, SealApplication
from app.services.audit import check_log, extend_chain
from app.services.keys import root_certificate_pem
from tests.conftest import (
    corpus_pdf,
    file_and_approve,
    file_application,
    login,
    logout,
    ready_task_id,
    work_off_queue,
)
from tests.pdf.verifiers import mutool_unchanged, nss_db_with, pdfsig


def test_employee_to_sealed_pdf(app, client, org, tmp_path: Path):
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, corpus_pdf("pdflatex-4-pages.pdf"))
    assert "Pending approval" in client.get(f"/applications/{application_id}").text
    logout(client)

    login(client, "harry")
    task_id = ready_task_id(client)
    assert "Sign the supply contract" in client.get(f"/tasks/{task_id}").text
    response = client.post(f"/tasks/{task_id}", data={"decision": "approve", "comment": "fine"})
    assert response.status_code == 302
    logout(client)
    assert db.session.get(SealApplication, application_id).status == ApplicationStatus.SEALING

    work_off_queue(app)
    db.session.expire_all()
    assert db.session.get(SealApplication, application_id).status == ApplicationStatus.SEALED

    login(client, "emma")
    response = client.get(f"/applications/{application_id}/documents/sealed")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    sealed = tmp_path / "sealed.pdf"
    sealed.write_bytes(response.data)

    ca_pem = root_certificate_pem()
    report = pdfsig(sealed, nss_db_with(ca_pem, tmp_path / "nss"))
    assert report.valid and report.trusted, report.text
    unchanged, text = mutool_unchanged(sealed)
    assert unchanged, text
    root = asn1_x509.Certificate.load(pem.unarmor(ca_pem.encode())[2])
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(response.data)).embedded_signatures[0],
                                    ValidationContext(trust_roots=[root]))
    assert status.intact and status.valid and status.trusted
    # The original is kept beside the sealed version.
    assert client.get(f"/applications/{application_id}/documents/original").data == corpus_pdf("pdflatex-4-pages.pdf")

    actions = [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    for expected in ("application.submitted", "process.started", "task.ready", "task.completed",
                     "service.started", "application.sealing", "document.sealed", "service.completed",
                     "process.completed", "application.sealed"):
        assert expected in actions
    submitted = db.session.execute(select(AuditEvent).where(AuditEvent.action == "application.submitted")).scalar_one()
    assert submitted.actor_name == "emma" and submitted.address == "127.0.0.1"
    # Chained and checked as a whole: chain, the sealed document's head, and the state against the log.
    extend_chain()
    db.session.commit()
    check = check_log()
    assert check.problems == [] and check.events == len(actions) and check.unchained == 0


def test_running_the_job_twice_seals_once(app, client, org):
    application_id = file_and_approve(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    from app.jobs.runner import run_job
    from app.models import Job

    job = db.session.execute(select(Job)).scalar_one()
    assert run_job(job.id) == "done"
    assert run_job(job.id) == "already done"
    application = db.session.get(SealApplication, application_id)
    assert application.status == ApplicationStatus.SEALED
    assert [d.kind.value for d in application.documents] == ["original", "sealed"]


def test_a_repaired_upload_is_announced_and_sealed(app, client, org):
    data = corpus_pdf("pdflatex-4-pages.pdf").replace(b"\n", b"\n%shifted\n", 1)  # every xref offset is off
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, data)
    page = client.get(f"/applications/{application_id}")
    assert "The PDF was damaged and has been repaired" in page.text
    logout(client)
    login(client, "harry")
    client.post(f"/tasks/{ready_task_id(client)}", data={"decision": "approve"})
    work_off_queue(app)
    assert "Sealed" in client.get(f"/applications/{application_id}").text
