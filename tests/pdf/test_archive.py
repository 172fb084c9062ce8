"""Long-term validity upkeep: the newest time-stamp's authority expiry is read from a PDF, and a document time-stamp
with validation data is added over a B-T signature (and again over an earlier B-LTA one) without invalidating
anything, as pyHanko, our verifier, pdfsig and mutool judge it."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from app.pdf import (
    InvalidPdfError,
    LongTermSpec,
    SigningIdentity,
    SignSpec,
    make_signer,
    sign_pdf,
    verify_pdf,
)
from app.pdf.archive import add_archive_timestamp, newest_timestamp
from app.pki import TimeStampAuthority
from app.pki.ca import create_crl, create_root_ca, issue_seal_certificate, issue_tsa_certificate
from tests.conftest import corpus_pdf
from tests.pdf.verifiers import assert_independently_valid


@pytest.fixture(scope="module")
def setting():
    ca = create_root_ca("Test Org")
    issued = issue_seal_certificate(ca, "Contract Seal", "Test Org", "ec-p256")
    old_tsa = TimeStampAuthority(issue_tsa_certificate(ca, "Test Org", years=1), chain=(ca.certificate,))
    new_tsa = TimeStampAuthority(issue_tsa_certificate(ca, "Test Org", years=5), chain=(ca.certificate,))
    return ca, SigningIdentity(issued.key, issued.certificate, (ca.certificate,)), old_tsa, new_tsa


def _signed_bt(setting) -> bytes:
    ca, identity, old_tsa, _ = setting
    data = corpus_pdf("pdflatex-4-pages.pdf")
    return sign_pdf(data, make_signer(identity), SignSpec("Seal", 0, (100, 100, 200, 160)),
                    timestamper=old_tsa.timestamper())


def test_the_newest_timestamp_and_its_authoritys_expiry(setting):
    ca, identity, old_tsa, _ = setting
    signed = _signed_bt(setting)
    newest = newest_timestamp(signed)
    assert newest is not None and not newest.document_timestamp
    assert newest.tsa_expires == old_tsa.certificate.not_valid_after_utc
    assert newest_timestamp(corpus_pdf("minimal-document.pdf")) is None
    unstamped = sign_pdf(corpus_pdf("minimal-document.pdf"), make_signer(identity), SignSpec("S", 0, (10, 10, 60, 60)))
    assert newest_timestamp(unstamped) is None  # B-B: no time-stamp at all


def test_a_document_timestamp_renews_a_bt_signature_and_everything_stays_valid(setting, tmp_path: Path):
    ca, identity, old_tsa, new_tsa = setting
    crl = create_crl(ca, [])
    signed = _signed_bt(setting)
    renewed = add_archive_timestamp(signed, new_tsa.timestamper(), LongTermSpec((ca.certificate,), (crl,)))
    assert renewed.startswith(signed)  # incremental: the signed bytes are untouched
    newest = newest_timestamp(renewed)
    assert newest is not None and newest.document_timestamp
    assert newest.tsa_expires == new_tsa.certificate.not_valid_after_utc
    with pikepdf.open(io.BytesIO(renewed)) as pdf:
        assert "/DSS" in pdf.Root and len(pdf.Root.DSS.CRLs) >= 1
    report = verify_pdf(renewed, [ca.certificate], [crl])
    assert [s.kind for s in report.signatures] == ["signature", "document-timestamp"]
    assert report.verdict == "valid", report.reason
    assert_independently_valid(renewed, ca.certificate_pem, tmp_path / "check", updated_after=True)
    # And once more, as the clock does before the new authority's certificate expires in turn.
    again = add_archive_timestamp(renewed, new_tsa.timestamper(), LongTermSpec((ca.certificate,), (crl,)))
    report = verify_pdf(again, [ca.certificate], [crl])
    assert [s.kind for s in report.signatures] == ["signature", "document-timestamp", "document-timestamp"]
    assert report.verdict == "valid", report.reason
    assert len(PdfFileReader(io.BytesIO(again)).embedded_signatures) == 3


def test_a_damaged_file_is_refused(setting):
    _, _, _, new_tsa = setting
    with pytest.raises(InvalidPdfError):
        add_archive_timestamp(b"%PDF-1.7 not really", new_tsa.timestamper(), LongTermSpec(()))
    with pytest.raises(InvalidPdfError):
        newest_timestamp(b"%PDF-1.7 not really")


def test_a_document_sealed_at_b_lta_is_renewed_too(setting, tmp_path: Path):
    ca, identity, old_tsa, new_tsa = setting
    crl = create_crl(ca, [])
    lta = LongTermSpec((ca.certificate,), (crl,), archive=True)
    sealed = sign_pdf(corpus_pdf("minimal-document.pdf"), make_signer(identity), SignSpec("Seal", 0, (10, 10, 60, 60)),
                      timestamper=old_tsa.timestamper(), long_term=lta)
    renewed = add_archive_timestamp(sealed, new_tsa.timestamper(), LongTermSpec((ca.certificate,), (crl,)))
    report = verify_pdf(renewed, [ca.certificate], [crl])
    assert [s.kind for s in report.signatures] == ["signature", "document-timestamp", "document-timestamp"]
    assert report.verdict == "valid", report.reason
    assert_independently_valid(renewed, ca.certificate_pem, tmp_path / "check", updated_after=True)
