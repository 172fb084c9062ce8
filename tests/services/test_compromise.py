"""The compromise report: a revoked seal's sealed document versions from a time on (by default 90 days before its
revocation), its party signatures included and other seals' uses left out; the CSV and the draft notice; who may
read it."""

import csv
import io
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from app.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from app.extensions import db
from app.models import DocumentKind, RevocationReason, Seal, SealStatus
from app.services import compromise, keys, seals
from tests.services.usage_data import ACTOR, Uses, build_uses


def revoke(seal: Seal, at: datetime, reason: RevocationReason = RevocationReason.KEY_COMPROMISE) -> None:
    seals.set_status(seal.id, SealStatus.REVOKED, ACTOR, reason, "key found on a shared drive")
    seal.revoked_at = at  # the time the tests choose
    db.session.commit()


@pytest.fixture
def built(org) -> Uses:
    built = build_uses(org)
    built.applications["a"].counterparty = "华东建设有限公司"
    built.applications["b"].counterparty = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    return built


def test_by_default_the_report_looks_90_days_back_from_the_revocation(org, built):
    revoke(org.contract_seal, datetime(2026, 4, 10, 15, 30))
    found = compromise.exposure(org.contract_seal.id, None, org.auditor)
    a, b = built.applications["a"], built.applications["b"]
    assert (found.since, found.default_since) == (datetime(2026, 1, 10), True)  # "old", sealed in 2025, is not in
    assert [(d.application_id, d.version, d.sealed_at) for d in found.documents] == [
        (a.id, 1, datetime(2026, 3, 10, 9)), (a.id, 2, datetime(2026, 3, 11, 9)), (b.id, 1, datetime(2026, 3, 12, 9))]
    first = found.documents[0]
    assert (first.title, first.counterparty, first.document_type, first.requester, first.filename) == (
        "采购合同 2026-017", "华东建设有限公司", "contract", "Emma", "sealed-1.pdf")
    assert first.sha256 == next(
        d.sha256 for d in a.documents if d.kind == DocumentKind.SEALED and d.version == 1)
    assert (found.application_count, found.counterparties) == (2, ("=HYPERLINK(\"http://x\")", "华东建设有限公司"))


def test_a_chosen_start_narrows_the_list_and_other_seals_uses_stay_out(org, built):
    revoke(org.contract_seal, datetime(2026, 4, 10))
    found = compromise.exposure(org.contract_seal.id, datetime(2026, 3, 11, 9), org.seal_admin)
    assert not found.default_since
    # b's second version was signed with the company seal: not this seal's use.
    assert [(d.application_id, d.version) for d in found.documents] == [
        (built.applications["a"].id, 2), (built.applications["b"].id, 1)]
    everything = compromise.exposure(org.contract_seal.id, datetime(2025, 1, 1), org.auditor)
    assert built.applications["old"].id in {d.application_id for d in everything.documents}
    assert built.applications["never"].id not in {d.application_id for d in everything.documents}


def test_a_party_signature_with_the_seal_is_exposed_too(org, built):
    revoke(built.company_seal, datetime(2026, 5, 1))
    found = compromise.exposure(built.company_seal.id, None, org.auditor)
    b, c = built.applications["b"], built.applications["c"]
    # b is the contract seal's application; the company seal signed its second version as a party.
    assert [(d.application_id, d.version, d.requester) for d in found.documents] == [(b.id, 2, "Emma"),
                                                                                     (c.id, 1, "王芳")]


def test_only_auditors_and_seal_administrators_read_it_and_only_for_a_revoked_seal(org, built):
    with pytest.raises(InvalidTransition):
        compromise.exposure(org.contract_seal.id, None, org.auditor)
    revoke(org.contract_seal, datetime(2026, 4, 10))
    for someone in (org.employee, org.head, org.leader):
        with pytest.raises(PermissionDenied):
            compromise.exposure(org.contract_seal.id, None, someone)
    with pytest.raises(NotFound):
        compromise.exposure(10_000, None, org.auditor)
    with pytest.raises(InvalidInput, match="after the seal's revocation"):
        compromise.exposure(org.contract_seal.id, datetime(2026, 4, 11), org.auditor)


@pytest.mark.parametrize("text", ["yesterday", "2026-02-30", "0001-01-01", "2026-13-01"])
def test_a_start_that_is_not_a_date_is_refused(text):
    with pytest.raises(InvalidInput):
        compromise.since_of(text)


def test_a_start_is_a_day_or_a_moment_in_utc():
    assert compromise.since_of(" ") is None
    assert compromise.since_of("2026-03-01") == datetime(2026, 3, 1)
    assert compromise.since_of("2026-03-01T10:00+08:00") == datetime(2026, 3, 1, 2)


def test_the_csv_reads_back_in_excel_s_utf_8_with_formulas_defused(org, built):
    revoke(org.contract_seal, datetime(2026, 4, 10))
    found = compromise.exposure(org.contract_seal.id, None, org.auditor)
    data = compromise.exposure_csv(found, {"counterparty": "相对方", "sealed_at": "=Sealed"}, str.upper)
    assert data.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[:2] == ["'=Sealed", "application_id"] and header[3] == "相对方"
    assert [r[0] for r in rows] == ["2026-03-10 09:00:00", "2026-03-11 09:00:00", "2026-03-12 09:00:00"]
    assert rows[0][2:6] == ["采购合同 2026-017", "华东建设有限公司", "CONTRACT", "Emma"]
    assert rows[2][3] == "'=HYPERLINK(\"http://x\")" and len(rows[2][8]) == 64


def test_the_draft_notice_names_the_seal_its_certificate_and_every_document(app, org, built, tmp_path: Path):
    revoke(org.contract_seal, datetime(2026, 4, 10))
    found = compromise.exposure(org.contract_seal.id, None, org.auditor)
    with app.test_request_context():  # the draft mark and the footer speak the reader's language
        pdf = compromise.draft_notice(found, org.auditor)
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, timeout=60).stdout.decode()
    text = " ".join(text.split())
    [certificate] = keys.certificate_history(org.contract_seal)
    for expected in ("作废声明 / Notice of invalidation", "Contract Seal", certificate.serial_number,
                     certificate.fingerprint[:20], "2026-04-10 00:00:00 UTC", "密钥泄露 key compromise",
                     f"#{built.applications['a'].id}", f"#{built.applications['b'].id}", "华东建设有限公司",
                     "DRAFT for the legal team", "by Alice"):
        assert expected in text, expected
    with pytest.raises(PermissionDenied), app.test_request_context():
        compromise.draft_notice(found, org.employee)
