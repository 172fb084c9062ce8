"""The seal registry pages: previews, adding drawn and uploaded seals, suspending and revoking."""

import html
import io
import time

from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, RevocationReason, Seal, SealStatus
from app.pdf import verify_pdf
from app.services import keys
from tests.conftest import contract_pdf, file_and_approve, login, work_off_queue
from tests.pdf.hostile_seals import pdf_with_page
from tests.pdf.test_seal_upload import REPRODUCTIONS
from tests.pdf.verifiers import assert_independently_valid


def _png(width: int = 240, height: int = 240) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    for x in range(20, 220):
        for y in range(20, 220):
            if (x - 120) ** 2 + (y - 120) ** 2 < 90 ** 2:
                image.putpixel((x, y), (200, 20, 20, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _seal_count() -> int:
    return db.session.execute(select(func.count()).select_from(Seal)).scalar()


def test_everyone_sees_the_registry_with_transparent_previews(client, org):
    login(client, "emma")
    page = client.get("/seals")
    assert page.status_code == 200 and org.contract_seal.name in page.text and "new-seal" not in page.text
    preview = client.get(f"/seals/{org.contract_seal.id}/preview.png")
    image = Image.open(io.BytesIO(preview.data))
    assert preview.mimetype == "image/png" and image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0


def test_seal_admin_adds_a_drawn_and_an_uploaded_seal_and_the_uploaded_one_seals(app, client, org, tmp_path):
    login(client, "sam")
    drawn = client.post("/seals/new", data={"name": "财务专用章", "kind": "finance", "department_id": "",
                                            "organisation": "测试有限公司", "purpose": "财务专用章", "shape": "round"},
                        content_type="multipart/form-data")
    assert drawn.status_code == 302, drawn.text
    uploaded = client.post("/seals/new", data={"name": "Scanned Seal", "kind": "contract",
                                               "department_id": str(org.department.id),
                                               "image": (io.BytesIO(_png()), "seal.png")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 302, uploaded.text
    seal = db.session.execute(select(Seal).where(Seal.name == "Scanned Seal")).scalar_one()
    assert seal.certificate_pem.startswith("-----BEGIN CERTIFICATE-----")
    application_id = file_and_approve(client, seal.id, contract_pdf())
    work_off_queue(app)
    login(client, "emma")
    sealed = client.get(f"/applications/{application_id}/documents/sealed").data
    report = verify_pdf(sealed, keys.trust_roots(), seal_names=keys.seal_names())
    assert report.verdict == "valid" and report.signatures[0].seal_name == "Scanned Seal"
    assert_independently_valid(sealed, keys.root_certificate_pem(), tmp_path)


def test_a_hostile_or_useless_upload_is_refused_and_nothing_is_stored(client, org):
    login(client, "sam")
    before, audit = _seal_count(), db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    xxe = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>'
    for data, message in ((xxe, "DOCTYPE"), (b"GIF89a....", "PNG, SVG or PDF")):
        response = client.post("/seals/new", data={"name": "Bad", "kind": "contract", "department_id": "",
                                                    "image": (io.BytesIO(data), "x.svg")},
                               content_type="multipart/form-data")
        assert response.status_code == 422 and message in response.text, response.text
    duplicate = client.post("/seals/new", data={"name": org.contract_seal.name, "kind": "contract",
                                                "department_id": "", "organisation": "X"},
                            content_type="multipart/form-data")
    assert duplicate.status_code == 422 and "already a seal named" in duplicate.text
    assert _seal_count() == before
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == audit


def test_only_seal_admins_manage_and_a_revoked_seal_stays_revoked(client, org):
    login(client, "emma")
    assert client.get("/seals/new").status_code == 403
    assert client.post(f"/seals/{org.contract_seal.id}/status", data={"status": "revoked"}).status_code == 403
    login(client, "sam")
    mixed = client.post(f"/seals/{org.contract_seal.id}/status", data={"status": "suspended",
                                                                       "revocation_reason": "superseded"},
                        follow_redirects=True)
    assert "only when revoking" in mixed.text
    db.session.expire_all()
    assert db.session.get(Seal, org.contract_seal.id).status == SealStatus.ACTIVE
    assert client.post(f"/seals/{org.contract_seal.id}/status", data={
        "status": "revoked", "revocation_reason": "cessationOfOperation"}).status_code == 302
    again = client.post(f"/seals/{org.contract_seal.id}/status", data={"status": "active"}, follow_redirects=True)
    assert "revoked for good" in again.text and "Cessation of operation" in again.text
    db.session.expire_all()
    seal = db.session.get(Seal, org.contract_seal.id)
    assert seal.status == SealStatus.REVOKED and seal.revocation_reason == RevocationReason.CESSATION_OF_OPERATION
    assert client.get("/seals/9999/preview.png").status_code == 404


def test_the_hostile_uploads_of_issue_11_are_form_errors_and_nothing_is_stored(client, org):
    login(client, "sam")
    before, audit = _seal_count(), db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    for name, (build, message) in REPRODUCTIONS.items():
        started = time.perf_counter()
        response = client.post("/seals/new", data={"name": "Hostile", "kind": "contract", "department_id": "",
                                                    "image": (io.BytesIO(build()), "seal.bin")},
                               content_type="multipart/form-data")
        assert response.status_code == 422 and message in html.unescape(response.text), name
        assert 'name="name"' in response.text and time.perf_counter() - started < 10, name  # the form, at once
    assert _seal_count() == before
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == audit
    fine = client.post("/seals/new", data={"name": "Hostile", "kind": "contract", "department_id": "",
                                           "image": (io.BytesIO(_png()), "seal.png")},
                       content_type="multipart/form-data")
    assert fine.status_code == 302 and _seal_count() == before + 1


def test_previews_are_fitted_and_a_broken_stored_image_is_no_server_error(client, org):
    login(client, "emma")
    seal = db.session.get(Seal, org.contract_seal.id)
    seal.current_image.image_pdf = pdf_with_page(14400)  # stored before uploads were bounded: its preview answered 500
    db.session.commit()
    preview = client.get(f"/seals/{seal.id}/preview.png")
    assert preview.status_code == 200 and Image.open(io.BytesIO(preview.data)).size == (600, 600)
    seal.current_image.image_pdf = b"not a pdf"
    db.session.commit()
    assert client.get(f"/seals/{seal.id}/preview.png").status_code == 422
