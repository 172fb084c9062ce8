"""Bad input gets a clear message, stores nothing, and leaves the audit log consistent."""

import io
import threading

import pikepdf
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Blob, Document, HumanTask, SealApplication, SealStatus
from app.services.audit import extend_chain, verify_chain
from tests.conftest import PASSWORD, corpus_pdf, file_for_the_head, login, logout, ready_task_id
from tests.pdf.mutants import form_xobject, zeros


def _counts() -> tuple[int, ...]:
    return tuple(db.session.execute(select(func.count()).select_from(m)).scalar() for m in
                 (SealApplication, Document, Blob, HumanTask))


def _post(client, seal_id, content: bytes | None, reason="Need it", filename="doc.pdf"):
    data = {"seal_id": str(seal_id), "document_type": "contract", "title": "Supply contract", "reason": reason}
    if content is not None:
        data["document"] = (io.BytesIO(content), filename)
    return client.post("/applications/new", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("content, filename, status, message", [
    (b"just some text", "doc.pdf", 422, "the file is not a PDF"),
    (b"%PDF-1.7\n1 0 obj\n<<", "doc.pdf", 422, "damaged"),
    (b"%PDF-1.4 whatever", "doc.txt", 422, "Only PDF files are accepted."),
    (None, "doc.pdf", 422, "Choose a PDF file."),
])
def test_unacceptable_uploads(app, client, org, content, filename, status, message):
    login(client, "emma")
    before = _counts()
    response = _post(client, org.contract_seal.id, content, filename=filename)
    assert response.status_code == status and message in response.text
    assert _counts() == before


def test_encrypted_pdf(app, client, org):
    login(client, "emma")
    response = _post(client, org.contract_seal.id, corpus_pdf("libreoffice-writer-password.pdf"))
    assert response.status_code == 422 and "protected by a password" in response.text
    assert _counts() == (0, 0, 0, 0)


def test_upload_over_the_limit(app, client, org):
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    login(client, "emma")
    response = _post(client, org.contract_seal.id, corpus_pdf("pdflatex-4-pages.pdf") + b" " * 60_000)
    assert response.status_code == 413 and "larger than the limit" in response.text
    assert _counts() == (0, 0, 0, 0)


def test_empty_form(app, client, org):
    login(client, "emma")
    response = client.post("/applications/new", data={})
    assert response.status_code == 422 and "Say why the seal is needed." in response.text
    assert _counts() == (0, 0, 0, 0)


def test_suspended_seal(app, client, org):
    org.contract_seal.status = SealStatus.SUSPENDED
    db.session.commit()
    login(client, "emma")
    # The form no longer offers it (neither as the seal nor as a party's seal); a forged post is refused by the
    # service too.
    assert org.contract_seal.name not in client.get("/applications/new?process=multi_party_signing").text
    from app.models.audit import Actor
    from app.services import applications

    pdf = corpus_pdf("minimal-document.pdf")
    spec = applications.ApplicationSpec(org.contract_seal.id, "contract", "x.pdf", pdf, "r")
    with pytest.raises(Exception, match="suspended"):
        applications.submit(spec, org.employee, Actor.of(org.employee))
    db.session.rollback()
    assert _counts() == (0, 0, 0, 0)


def test_approval_by_someone_else_and_approving_twice(app, client, org):
    application_id = file_for_the_head(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    task_id = ready_task_id(client)
    logout(client)

    login(client, "olga")  # an approver, but not this task's assignee
    response = client.post(f"/tasks/{task_id}", data={"decision": "approve"})
    assert response.status_code == 404  # not hers: as if it did not exist
    logout(client)

    login(client, "harry")
    assert client.post(f"/tasks/{task_id}", data={"decision": "reject"}).status_code == 422  # needs a comment
    assert client.post(f"/tasks/{task_id}", data={"decision": "approve"}).status_code == 302
    events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    response = client.post(f"/tasks/{task_id}", data={"decision": "approve"})
    assert response.status_code == 409 and "already completed" in response.text
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == events
    assert db.session.get(SealApplication, application_id).status.value == "sealing"
    extend_chain()
    assert verify_chain() == []


def test_rejection_with_comment(app, client, org):
    application_id = file_for_the_head(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    client.post(f"/tasks/{ready_task_id(client)}", data={"decision": "reject", "comment": "wrong counterparty"})
    logout(client)
    login(client, "emma")
    page = client.get(f"/applications/{application_id}").text
    assert "Rejected" in page and "wrong counterparty" in page
    assert client.get(f"/applications/{application_id}/documents/sealed").status_code == 404


def test_a_decompression_bomb_is_refused_by_the_web_process(app, client, org):
    """The decoded-size budget holds in web processes too: a 1 MB form XObject inflating to 1 GiB stores nothing."""
    with pikepdf.open(io.BytesIO(corpus_pdf("minimal-document.pdf"))) as pdf:
        pdf.pages[0].obj.Resources.XObject = pikepdf.Dictionary(Bomb=form_xobject(pdf, zeros(1024),
                                                                                  pikepdf.Name.FlateDecode))
        pdf.pages[0].contents_add(pdf.make_stream(b"q /Bomb Do Q"), prepend=False)
        bomb = io.BytesIO()
        pdf.save(bomb, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    assert len(bomb.getvalue()) < 1_500_000
    login(client, "emma")
    before = _counts()
    # Filed with a keyword (the search once decoded the form whole), while another user logs in and reads their
    # inbox on a client of their own.
    answers, seal_id = [], org.contract_seal.id  # read here: the thread has no app context for the ORM
    filing = threading.Thread(target=lambda: answers.append(client.post("/applications/new", data={
        "seal_id": str(seal_id), "document_type": "contract", "title": "Supply contract", "reason": "Need it",
        "seal_keyword": "Seal here", "document": (io.BytesIO(bomb.getvalue()), "doc.pdf")},
        content_type="multipart/form-data")))
    filing.start()
    other = app.test_client()
    assert other.post("/login", data={"username": "harry", "password": PASSWORD}).status_code == 302
    assert other.get("/inbox").status_code == 200
    filing.join(60)
    [response] = answers
    assert response.status_code == 422 and "decompression bomb" in response.text
    assert _counts() == before
