"""The seal registry pages: previews, adding drawn and uploaded seals, suspending and revoking; a seal's page with
its image versions, certificates, usage and history; editing, new image versions and certificate renewal."""

import html
import io
import re
import time

from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, RevocationReason, Seal, SealImage, SealStatus
from app.models.audit import events_for
from app.pdf import verify_pdf
from app.services import keys
from tests.conftest import contract_pdf, file_and_approve, login, logout, work_off_queue
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


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _state(seal_id: int) -> tuple:
    """What a refused change must leave as it was: name, holders, image version, certificate, images, events."""
    db.session.expire_all()
    seal = db.session.get(Seal, seal_id)
    images = db.session.execute(select(func.count()).select_from(SealImage)).scalar()
    return (seal.name, [u.id for u in seal.custodians], seal.image_version, seal.certificate_pem, images,
            len(events_for("seal", seal_id)))


def test_only_seal_administrators_edit_replace_images_and_renew(client, org):
    seal_id = org.contract_seal.id
    before = _state(seal_id)
    for username in ("emma", "alice", "harry"):
        login(client, username)
        page = client.get(f"/seals/{seal_id}")
        assert page.status_code == 200 and "Image versions" in page.text and "edit-seal" not in page.text
        assert "renew-form" not in page.text
        assert client.get(f"/seals/{seal_id}/images/1.png").mimetype == "image/png"
        assert client.get(f"/seals/{seal_id}/edit").status_code == 403
        assert client.post(f"/seals/{seal_id}/edit", data={"name": "Mine"}).status_code == 403
        assert client.get(f"/seals/{seal_id}/image").status_code == 403
        assert client.post(f"/seals/{seal_id}/image", data={"image": (io.BytesIO(_png()), "s.png")},
                           content_type="multipart/form-data").status_code == 403
        assert client.post(f"/seals/{seal_id}/certificate").status_code == 403
        logout(client)
    assert _state(seal_id) == before
    assert client.get(f"/seals/{seal_id}").status_code == 302  # not logged in: to the login page
    login(client, "sam")
    assert client.get(f"/seals/{seal_id}/images/2.png").status_code == 404
    assert client.get("/seals/9999/edit").status_code == 404
    assert client.post("/seals/9999/certificate").status_code == 404


def test_a_seal_administrator_edits_replaces_the_image_and_renews_and_the_page_shows_it(client, org):
    seal_id = org.contract_seal.id
    login(client, "sam")
    edited = client.post(f"/seals/{seal_id}/edit", data={"name": "合同专用章 2027",
                                                        "custodian_ids": [str(org.seal_admin.id)],
                                                        "department_ids": [str(org.department.id)]})
    assert edited.status_code == 302 and edited.location.endswith(f"/seals/{seal_id}")
    replaced = client.post(f"/seals/{seal_id}/image", data={"image": (io.BytesIO(_png()), "seal.png"),
                                                           "note": "new seal carved"},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "Image version 2 of “合同专用章 2027” is now the one sealing uses" in html.unescape(replaced.text)
    drawn = client.post(f"/seals/{seal_id}/image", data={"organisation": "测试有限公司", "purpose": "合同专用章",
                                                        "shape": "round"}, content_type="multipart/form-data")
    assert drawn.status_code == 302
    renewed = client.post(f"/seals/{seal_id}/certificate", follow_redirects=True)
    assert "has a new key and certificate" in renewed.text
    page = html.unescape(client.get(f"/seals/{seal_id}").text)
    assert "<h1>合同专用章 2027</h1>" in page and 'id="custodians">Sam<' in page
    assert all(f'id="image-{v}"' in page for v in (1, 2, 3)) and "new seal carved" in page
    assert page.count("still verifies earlier signatures") == 1
    for words in ("Renamed", "Holders changed", "New image version", "Certificate renewed", "Seal added"):
        assert words in page
    assert page.index("Certificate renewed") < page.index("Renamed")  # newest first
    for version in (1, 2, 3):
        assert Image.open(io.BytesIO(client.get(f"/seals/{seal_id}/images/{version}.png").data)).mode == "RGBA"
    assert Image.open(io.BytesIO(client.get(f"/seals/{seal_id}/preview.png").data)).size != (0, 0)


def test_the_history_is_paginated(client, org):
    login(client, "sam")
    for n in range(21):
        client.post(f"/seals/{org.contract_seal.id}/edit", data={"name": f"Contract Seal {n}"})
    first = client.get(f"/seals/{org.contract_seal.id}").text
    assert "Page 1 of 2" in first and "Contract Seal 20" in first and "Seal added" not in first
    second = client.get(f"/seals/{org.contract_seal.id}?page=2").text
    assert "Page 2 of 2" in second and "Seal added" in second and 'rel="prev"' in second
    assert client.get(f"/seals/{org.contract_seal.id}?page=abc").status_code == 200


def test_bad_input_is_refused_and_nothing_changes(app, client, org):
    seal_id = org.contract_seal.id
    login(client, "sam")
    client.post("/seals/new", data={"name": "Other Seal", "kind": "company", "department_id": "",
                                    "organisation": "X"}, content_type="multipart/form-data")
    before = _state(seal_id)
    for data, message in (({"name": "Other Seal"}, "already a seal named"), ({"name": ""}, "Give the seal a name"),
                          ({"name": "x" * 201}, "longer than 200"),
                          ({"name": "X", "custodian_ids": ["99999"]}, "not a valid choice"),
                          ({"name": "X", "owner_id": str(org.leader.id)}, "only personal and legal-representative")):
        response = client.post(f"/seals/{seal_id}/edit", data=data)
        assert response.status_code == 422 and message in html.unescape(response.text), (data, response.text)
    xxe = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>'
    uploads = [(xxe, "DOCTYPE"), (b"GIF89a....", "PNG, SVG or PDF")] + [(build(), message) for build, message in
                                                                       REPRODUCTIONS.values()]
    for data, message in uploads:
        response = client.post(f"/seals/{seal_id}/image", data={"image": (io.BytesIO(data), "seal.bin")},
                               content_type="multipart/form-data")
        assert response.status_code == 422 and message in html.unescape(response.text), message
        assert 'id="image-form"' in response.text
    empty = client.post(f"/seals/{seal_id}/image", data={}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Give the seal's text or upload its image" in html.unescape(empty.text)
    app.config["SEAL_MAX_MB"] = 1
    oversized = client.post(f"/seals/{seal_id}/image", data={"image": (io.BytesIO(_png() + b"\0" * 2 * 2**20),
                                                                       "seal.png")},
                            content_type="multipart/form-data")
    assert oversized.status_code == 422 and "the seal image is 2 MiB; the limit is 1 MiB" in oversized.text
    assert _state(seal_id) == before


def test_every_change_needs_the_form_token(app, client, org):
    seal_id = org.contract_seal.id
    login(client, "sam")
    before = _state(seal_id)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(f"/seals/{seal_id}/edit", data={"name": "Forged"}).status_code == 400
        assert client.post(f"/seals/{seal_id}/image", data={"image": (io.BytesIO(_png()), "s.png")},
                           content_type="multipart/form-data").status_code == 400
        assert client.post(f"/seals/{seal_id}/certificate").status_code == 400
        assert _state(seal_id) == before
        token = _csrf(client.get(f"/seals/{seal_id}").text)
        assert client.post(f"/seals/{seal_id}/certificate", data={"csrf_token": token}).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _state(seal_id)[3] != before[3]


def test_a_revoked_seal_keeps_its_image_and_certificate(client, org):
    seal_id = org.contract_seal.id
    login(client, "sam")
    client.post(f"/seals/{seal_id}/status", data={"status": "revoked", "revocation_reason": "superseded"})
    before = _state(seal_id)
    page = client.get(f"/seals/{seal_id}").text
    assert "replace-image" not in page and "renew-form" not in page
    image = client.post(f"/seals/{seal_id}/image", data={"image": (io.BytesIO(_png()), "s.png")},
                        content_type="multipart/form-data")
    assert image.status_code == 422 and "revoked for good" in image.text
    renew = client.post(f"/seals/{seal_id}/certificate", follow_redirects=True)
    assert "revoked for good" in renew.text
    assert _state(seal_id) == before
