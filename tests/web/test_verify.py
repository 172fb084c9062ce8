"""Sealing options end to end, the QR code's public verification page, /verify and the CRL."""

import io
import re
import subprocess
from pathlib import Path

import pikepdf
from cryptography import x509
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, SealApplication, SealStatus
from app.models.audit import Actor
from app.pdf import verify_pdf
from app.services import keys, seals
from tests.conftest import contract_pdf, file_and_approve, file_application, login, logout, work_off_queue
from tests.pdf.verifiers import assert_independently_valid


def _sealed(client, application_id: int) -> bytes:
    response = client.get(f"/applications/{application_id}/documents/sealed")
    assert response.status_code == 200, response.text
    return response.data


def _qr_url(pdf: bytes, tmp_path: Path) -> str:
    """Read the QR code on the last page back, with an independent decoder (zbar)."""
    (tmp_path / "sealed.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-l", "99", str(tmp_path / "sealed.pdf"), str(tmp_path / "p")],
                   check=True)
    last = sorted(tmp_path.glob("p-*.png"))[-1]
    return subprocess.run(["zbarimg", "--quiet", "--raw", str(last)], capture_output=True, text=True).stdout.strip()


def test_keyword_riding_watermark_and_a_qr_code_that_leads_to_the_verification_page(app, client, org, tmp_path):
    original = contract_pdf(pages=3)
    application_id = file_and_approve(client, org.contract_seal.id, original, seal_keyword="甲方（盖章）",
                                      riding_seal="y", watermark="y")
    work_off_queue(app)
    login(client, "emma")
    sealed = _sealed(client, application_id)
    report = verify_pdf(sealed, keys.trust_roots())
    assert report.verdict == "valid", report.reason
    assert report.signatures[0].timestamp_time is not None  # PAdES B-T with the built-in TSA
    assert_independently_valid(sealed, keys.root_certificate_pem(), tmp_path / "check")
    with pikepdf.open(io.BytesIO(sealed)) as pdf:  # a watermark on every page, and a riding slice
        for page in pdf.pages:
            content = b"".join(c.read_bytes() for c in page.Contents) if isinstance(page.Contents, pikepdf.Array) \
                else page.Contents.read_bytes()
            assert b"/Subtype /Watermark" in content and b"/SealFlowRiding" in content

    url = _qr_url(sealed, tmp_path)
    assert re.fullmatch(rf"{app.config['PUBLIC_URL']}/verify/{application_id}/[0-9a-f]{{24}}", url), url
    path = url.removeprefix(app.config["PUBLIC_URL"])
    logout(client)  # the page behind the QR code is public
    page = client.get(path)
    assert page.status_code == 200 and org.contract_seal.name in page.text and "Supply" not in page.text
    same = client.post(path, data={"document": (io.BytesIO(sealed), "copy.pdf")}, content_type="multipart/form-data")
    assert "This file is exactly the sealed document." in same.text and 'class="verdict valid"' in same.text
    other = client.post(path, data={"document": (io.BytesIO(original), "o.pdf")}, content_type="multipart/form-data")
    assert "This file is not the sealed document" in other.text and 'class="verdict unsigned"' in other.text
    assert client.get(f"/verify/{application_id}/{'0' * 24}").status_code == 404
    assert client.get(f"/verify/9999/{'0' * 24}").status_code == 404


def test_a_missing_keyword_or_page_is_refused_when_filing(app, client, org):
    login(client, "emma")
    before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    for options, message in (({"seal_keyword": "乙方（盖章）"}, "is not in the document"),
                             ({"seal_page": "7"}, "page 7 does not exist")):
        response = client.post("/applications/new", data={
            "seal_id": str(org.contract_seal.id), "document_type": "contract", "reason": "x",
            "document": (io.BytesIO(contract_pdf()), "c.pdf"), **options}, content_type="multipart/form-data")
        assert response.status_code == 422 and message in response.text
    assert db.session.execute(select(func.count()).select_from(SealApplication)).scalar() == 0
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == before
    assert file_application(client, org.contract_seal.id, contract_pdf(), seal_page="-2")


def test_verify_page_reports_a_revoked_seal_and_the_crl_lists_it(app, client, org):
    application_id = file_and_approve(client, org.contract_seal.id, contract_pdf())
    work_off_queue(app)
    login(client, "alice")
    sealed = _sealed(client, application_id)
    checked = client.post("/verify", data={"document": (io.BytesIO(sealed), "s.pdf")},
                          content_type="multipart/form-data")
    assert 'class="verdict valid"' in checked.text and org.contract_seal.name in checked.text

    seals.set_status(org.contract_seal.id, SealStatus.REVOKED, Actor.system("test"))
    db.session.commit()
    crl = x509.load_der_x509_crl(client.get("/pki/crl").data)
    serial = x509.load_pem_x509_certificate(org.contract_seal.certificate_pem.encode()).serial_number
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    checked = client.post("/verify", data={"document": (io.BytesIO(sealed), "s.pdf")},
                          content_type="multipart/form-data")
    assert 'class="verdict revoked"' in checked.text


def test_verify_needs_a_login_and_refuses_a_non_pdf(client, org):
    assert client.get("/verify").status_code == 302
    login(client, "alice")
    response = client.post("/verify", data={"document": (io.BytesIO(b"hello"), "x.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "not a PDF" in response.text
