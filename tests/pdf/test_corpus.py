"""Every PDF of the corpus (tests/data/corpus) goes through the whole engine, or is refused with a specific message."""

import io
from pathlib import Path

import pikepdf
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from app.pdf import (
    EncryptedPdfError,
    EveryPageSpec,
    QrSpec,
    RidingSpec,
    SealImageSpec,
    SigningIdentity,
    SignSpec,
    StampPlan,
    StampSpec,
    WatermarkSpec,
    inspect_pdf,
    locate,
    make_signer,
    render_seal_pdf,
    sign_pdf,
    stamp,
)
from app.pdf.appearance import CAPTION_SHARE
from app.pki.ca import create_root_ca, issue_seal_certificate
from tests.conftest import CORPUS
from tests.pdf.verifiers import mutool_unchanged, nss_db_with, pdfsig

CORPUS_PDFS = sorted(p.name for p in (CORPUS / "pdf").glob("*.pdf"))
REFUSED = {"libreoffice-writer-password.pdf": (EncryptedPdfError, "password")}


@pytest.fixture(scope="module")
def ca():
    return create_root_ca("Corpus Org")


@pytest.fixture(scope="module")
def signer(ca):
    issued = issue_seal_certificate(ca, "Contract Seal", "Corpus Org", "rsa2048")
    return make_signer(SigningIdentity(issued.key, issued.certificate, (ca.certificate,)))


def test_the_corpus_is_there():
    assert len(CORPUS_PDFS) >= 9, "the corpus is in tests/data/corpus"


@pytest.mark.parametrize("name", CORPUS_PDFS)
def test_corpus_pdf_is_sealed_and_signed_or_refused(tmp_path: Path, ca, signer, name: str):
    data = (CORPUS / "pdf" / name).read_bytes()
    if name in REFUSED:
        error, message = REFUSED[name]
        with pytest.raises(error, match=message):
            inspect_pdf(data)
        return
    seal = render_seal_pdf(SealImageSpec("CORPUS ORG", "CONTRACT SEAL", "1234567890"))
    pages = inspect_pdf(data).page_count
    plan = StampPlan(
        seal_pdf=seal,
        every_page=EveryPageSpec(size_mm=20),
        riding=RidingSpec() if pages > 1 else None,
        watermark=WatermarkSpec("CONFIDENTIAL · emma · 2026-11-23"),
        qr=QrSpec("https://seals.example.com/verify/1"),
    )
    stamped = stamp(data, plan)
    with pikepdf.open(io.BytesIO(stamped)) as pdf:
        box = locate(stamped, pdf, StampSpec(page=-1, x_mm=30, y_mm=40), 1 / (1 - CAPTION_SHARE))[0]
    signed = sign_pdf(stamped, signer, SignSpec("Seal", box.page_index, box.rect, appearance_pdf=seal, certify=True))
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)

    report = pdfsig(path, nss_db_with(ca.certificate_pem, tmp_path / "nss"))
    assert report.valid and report.trusted, report.text
    unchanged, text = mutool_unchanged(path)
    assert unchanged, text
    root = asn1_x509.Certificate.load(ca.certificate.public_bytes(serialization.Encoding.DER))
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(signed)).embedded_signatures[0],
                                    ValidationContext(trust_roots=[root]))
    assert status.intact and status.valid and status.trusted and status.coverage.name == "ENTIRE_FILE"
