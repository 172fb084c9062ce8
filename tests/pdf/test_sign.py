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
    AlreadySignedError,
    SealImageSpec,
    SigningIdentity,
    SignSpec,
    StampSpec,
    make_signer,
    placement_rect,
    render_seal_pdf,
    sign_pdf,
    stamp_seal,
)
from app.pdf.pki import create_root_ca, issue_seal_certificate
from tests.conftest import corpus_pdf
from tests.pdf.verifiers import mutool_unchanged, nss_db_with, pdfsig


@pytest.fixture(scope="module")
def ca():
    return create_root_ca("Test Org")


@pytest.fixture(scope="module", params=["rsa2048", "ec-p256"])
def identity(request, ca):
    issued = issue_seal_certificate(ca, "Contract Seal", "Test Org", request.param)
    return SigningIdentity(issued.key, issued.certificate, (ca.certificate,))


def _seal_and_sign(data: bytes, identity: SigningIdentity) -> bytes:
    seal = render_seal_pdf(SealImageSpec("TEST ORG", "CONTRACT SEAL"))
    stamped = stamp_seal(data, seal, StampSpec())
    with pikepdf.open(io.BytesIO(stamped)) as pdf:
        box = placement_rect(pdf, StampSpec(y_mm=14), height_mm=10)
    return sign_pdf(stamped, make_signer(identity), SignSpec("Seal1", box.page_index, box.rect, reason="test"))


def _trust_root(ca) -> ValidationContext:
    der = ca.certificate.public_bytes(serialization.Encoding.DER)
    return ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)])


@pytest.mark.parametrize("name", ["pdflatex-4-pages.pdf", "habibi-rotated.pdf", "minimal-document.pdf"])
def test_signed_pdf_is_valid_for_three_independent_verifiers(tmp_path: Path, ca, identity, name: str):
    signed = _seal_and_sign(corpus_pdf(name), identity)
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)

    report = pdfsig(path, nss_db_with(ca.certificate_pem, tmp_path / "nss"))
    assert report.valid and report.trusted, report.text
    assert "ETSI.CAdES.detached" in report.text
    unchanged, text = mutool_unchanged(path)
    assert unchanged, text
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(signed)).embedded_signatures[0], _trust_root(ca))
    assert status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE"


def test_pdfsig_does_not_trust_an_unknown_root(tmp_path: Path, identity):
    signed = _seal_and_sign(corpus_pdf("minimal-document.pdf"), identity)
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    other = create_root_ca("Someone Else")
    report = pdfsig(path, nss_db_with(other.certificate_pem, tmp_path / "nss"))
    assert report.valid and not report.trusted, report.text


def test_a_changed_byte_breaks_the_signature_for_every_verifier(tmp_path: Path, ca, identity):
    signed = bytearray(_seal_and_sign(corpus_pdf("minimal-document.pdf"), identity))
    # Flip one byte inside the signed content (the first page's stream), keeping the file parseable.
    index = signed.index(b"stream") + 20
    signed[index] = signed[index] ^ 0x01
    path = tmp_path / "tampered.pdf"
    path.write_bytes(bytes(signed))
    assert not pdfsig(path, nss_db_with(ca.certificate_pem, tmp_path / "nss")).valid
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(bytes(signed))).embedded_signatures[0], _trust_root(ca))
    assert not status.intact


def test_stamping_a_signed_pdf_is_refused(identity):
    signed = _seal_and_sign(corpus_pdf("minimal-document.pdf"), identity)
    with pytest.raises(AlreadySignedError):
        stamp_seal(signed, render_seal_pdf(SealImageSpec("X")), StampSpec())
