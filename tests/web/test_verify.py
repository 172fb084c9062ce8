"""Sealing options end to end, the QR code's public verification page, /verify and the CRL."""

import datetime as dt
import io
import re
import subprocess
import time
from pathlib import Path

import pikepdf
from cryptography import x509
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, RevocationReason, Seal, SealApplication, SealStatus
from app.models.audit import Actor, events_for
from app.pdf import StampPlan, stamp, verify_pdf
from app.services import keys, seals
from app.services.sealing import verification_token
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
            "seal_id": str(org.contract_seal.id), "document_type": "contract", "title": "Supply contract",
            "reason": "x", "document": (io.BytesIO(contract_pdf()), "c.pdf"), **options},
            content_type="multipart/form-data")
        assert response.status_code == 422 and message in response.text
    assert db.session.execute(select(func.count()).select_from(SealApplication)).scalar() == 0
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == before
    assert file_application(client, org.contract_seal.id, contract_pdf(), seal_page="-2")


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _sealed_and_timestamped(app, client, org) -> tuple[int, bytes, dt.datetime]:
    """An application sealed by the worker (PAdES B-T): its id, the sealed PDF and its signature time-stamp."""
    application_id = file_and_approve(client, org.contract_seal.id, contract_pdf())
    work_off_queue(app)
    login(client, "emma")
    sealed = _sealed(client, application_id)
    stamped_at = verify_pdf(sealed, keys.trust_roots()).signatures[0].timestamp_time
    assert stamped_at is not None
    logout(client)
    return application_id, sealed, stamped_at


def _revoke_on_the_seal_page(app, client, seal_id: int, **form: str):
    """sam revokes the seal with the form on the seal page, CSRF token and all."""
    login(client, "sam")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        token = _csrf_token(client.get("/seals").text)
        assert client.post(f"/seals/{seal_id}/status", data={"status": "revoked", **form}).status_code == 400
        return client.post(f"/seals/{seal_id}/status", data={"status": "revoked", "csrf_token": token, **form},
                           follow_redirects=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_a_document_sealed_before_its_seal_was_revoked_stays_valid_everywhere(app, client, org, tmp_path):
    application_id, sealed, stamped_at = _sealed_and_timestamped(app, client, org)
    # The CRL keeps whole seconds: revoke in a later second than the time-stamp's.
    time.sleep(max(0.0, (stamped_at.replace(microsecond=0) + dt.timedelta(seconds=1.05)
                         - dt.datetime.now(dt.UTC)).total_seconds()))

    refused = _revoke_on_the_seal_page(app, client, org.contract_seal.id)  # no reason given
    assert "Say why the seal is revoked" in refused.text
    db.session.expire_all()
    assert db.session.get(Seal, org.contract_seal.id).status == SealStatus.ACTIVE
    page = _revoke_on_the_seal_page(app, client, org.contract_seal.id, revocation_reason="keyCompromise",
                                    revocation_note="token lost in transit")
    db.session.expire_all()
    seal = db.session.get(Seal, org.contract_seal.id)
    assert seal.status == SealStatus.REVOKED and seal.revocation_reason == RevocationReason.KEY_COMPROMISE
    revoked_at = seal.revoked_at.replace(tzinfo=dt.UTC)
    assert stamped_at < revoked_at <= dt.datetime.now(dt.UTC) and revoked_at.microsecond == 0
    date = f"{revoked_at:%Y-%m-%d %H:%M:%S} UTC"
    assert f"Revoked on {date}: Key compromise — token lost in transit" in page.text
    event = events_for("seal", seal.id)[-1]
    assert event.action == "seal.status_changed" and event.actor_id == org.seal_admin.id
    assert event.details["reason"] == "keyCompromise" and event.details["note"] == "token lost in transit"

    # The CRL carries the real revocation date and the reason code.
    serial = x509.load_pem_x509_certificate(seal.certificate_pem.encode()).serial_number
    entry = x509.load_der_x509_crl(client.get("/pki/crl").data).get_revoked_certificate_by_serial_number(serial)
    assert entry is not None and entry.revocation_date_utc == revoked_at
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise

    # pdf verify, /verify and the public page agree: valid, the seal revoked later, when and why.
    (tmp_path / "sealed.pdf").write_bytes(sealed)
    cli = app.test_cli_runner().invoke(args=["pdf", "verify", str(tmp_path / "sealed.pdf")])
    assert cli.exit_code == 0, cli.output
    assert re.match(r"\S+: valid · Contract Seal · ", cli.output), cli.output
    assert f"seal revoked later, on {date} (key compromise)" in cli.output and "overall: valid" in cli.output
    login(client, "alice")
    checked = client.post("/verify", data={"document": (io.BytesIO(sealed), "s.pdf")},
                          content_type="multipart/form-data")
    assert 'class="verdict valid"' in checked.text and 'class="revoked-later"' in checked.text
    assert f"Valid — seal revoked later, on {date} (Key compromise)" in checked.text
    logout(client)
    public = client.get(f"/verify/{application_id}/{verification_token(application_id)}")
    assert f"its seal was revoked later, on {date} (Key compromise)." in public.text
    assert f"Valid: this document was sealed on {stamped_at:%Y-%m-%d %H:%M:%S} UTC" in public.text
    assert "token lost in transit" not in public.text  # the note is for the registry, not for the public
    chinese = client.get(f"/verify/{application_id}/{verification_token(application_id)}",
                         headers={"Accept-Language": "zh-CN"})
    assert f"其印章后来于 {date} 被吊销（密钥泄露）。" in chinese.text

    # And nothing can be sealed with it any more.
    signed = app.test_cli_runner().invoke(args=["pdf", "sign", str(tmp_path / "sealed.pdf"), "-o",
                                                str(tmp_path / "after.pdf"), "--seal", seal.name, "--field", "Again"])
    assert signed.exit_code == 1 and "revoked and cannot be used" in signed.output


def test_a_document_sealed_after_the_revocation_reads_invalid_everywhere(app, client, org, tmp_path):
    """It should not happen (a revoked seal cannot be used); if the records say the seal was revoked before the
    signature's time-stamp, every page says invalid."""
    application_id, sealed, stamped_at = _sealed_and_timestamped(app, client, org)
    seals.set_status(org.contract_seal.id, SealStatus.REVOKED, Actor.system("test"), RevocationReason.SUPERSEDED)
    revoked_at = (stamped_at - dt.timedelta(hours=1)).replace(microsecond=0)
    org.contract_seal.revoked_at = revoked_at.replace(tzinfo=None)
    db.session.commit()
    date = f"{revoked_at:%Y-%m-%d %H:%M:%S} UTC"

    (tmp_path / "sealed.pdf").write_bytes(sealed)
    cli = app.test_cli_runner().invoke(args=["pdf", "verify", str(tmp_path / "sealed.pdf")])
    assert cli.exit_code == 1 and re.match(r"\S+: revoked · Contract Seal · ", cli.output), cli.output
    assert f"the seal 'Contract Seal' was revoked on {date} (superseded), before the signature's trusted " \
           "time-stamp" in cli.output
    login(client, "alice")
    checked = client.post("/verify", data={"document": (io.BytesIO(sealed), "s.pdf")},
                          content_type="multipart/form-data")
    assert 'class="verdict revoked"' in checked.text
    assert f"Invalid: the seal was revoked on {date} (Superseded), before this signature" in checked.text
    logout(client)
    public = client.get(f"/verify/{application_id}/{verification_token(application_id)}")
    assert 'id="revocation-verdict" class="verdict revoked"' in public.text
    assert f"Invalid: the seal was revoked on {date} (Superseded), before this document was sealed on " \
           f"{stamped_at:%Y-%m-%d %H:%M:%S} UTC." in public.text


def test_verify_needs_a_login_and_refuses_a_non_pdf(client, org):
    assert client.get("/verify").status_code == 302
    login(client, "alice")
    response = client.post("/verify", data={"document": (io.BytesIO(b"hello"), "x.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "not a PDF" in response.text


def test_verify_shows_the_approval_evidence_and_the_public_page_names_no_approver(app, client, org):
    application_id = file_and_approve(client, org.contract_seal.id, contract_pdf())
    work_off_queue(app)
    login(client, "emma")
    sealed = _sealed(client, application_id)
    logout(client)

    login(client, "alice")
    checked = client.post("/verify", data={"document": (io.BytesIO(sealed), "s.pdf")},
                          content_type="multipart/form-data")
    assert 'id="evidence"' in checked.text
    assert "Covered by the signature: these approvals are part of what was signed" in checked.text
    assert f'<dd id="evidence-application">#{application_id}</dd>' in checked.text
    row = re.search(r'<table id="evidence-approvals">.*?</table>', checked.text, re.S)
    assert row and re.search(r"<td>1</td><td>.+ <code>department_head</code></td><td>Harry</td>"
                             r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", row.group(0)), row
    head = re.search(r'<code id="evidence-chain-head">([0-9a-f]{64})</code>', checked.text)
    assert head and db.session.execute(select(AuditEvent).where(AuditEvent.hash == head.group(1))).scalar()
    chinese = client.post("/verify", data={"document": (io.BytesIO(sealed), "s.pdf")},
                          content_type="multipart/form-data", headers={"Accept-Language": "zh-CN"})
    assert "审批证据" in chinese.text and "已被签名覆盖" in chinese.text
    logout(client)

    path = f"/verify/{application_id}/{verification_token(application_id)}"
    page = client.get(path)
    posted = client.post(path, data={"document": (io.BytesIO(sealed), "copy.pdf")}, content_type="multipart/form-data")
    assert "This file is exactly the sealed document." in posted.text
    for public in (page, posted):
        assert public.status_code == 200
        assert "Harry" not in public.text and 'id="evidence"' not in public.text


def test_verify_does_not_present_evidence_no_signature_covers(client, org):
    forged = {"format": "sealflow-evidence/1", "approvals": [{"name": "Mallory"}]}
    unsigned = stamp(contract_pdf(), StampPlan(evidence=forged))
    login(client, "alice")
    checked = client.post("/verify", data={"document": (io.BytesIO(unsigned), "u.pdf")},
                          content_type="multipart/form-data")
    assert "Not covered by any signature, so it is not evidence" in checked.text
    assert "Mallory" not in checked.text and 'id="evidence-approvals"' not in checked.text
