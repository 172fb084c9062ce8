"""The approval evidence embedded before signing: read back by tools that are not SealFlow, covered by the
signature, and taken as evidence only while it is exactly what the first signature signed."""

import datetime as dt
import io
import json
import subprocess
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from app.pdf import (
    EVIDENCE_FILE,
    InvalidPdfError,
    SealImageSpec,
    SigningIdentity,
    SignSpec,
    StampPlan,
    StampSpec,
    make_signer,
    read_evidence,
    render_seal_pdf,
    sign_pdf,
    stamp,
    verify_pdf,
)
from app.pdf.evidence import MAX_EVIDENCE
from app.pki.ca import create_root_ca, issue_seal_certificate
from tests.conftest import corpus_pdf
from tests.pdf.verifiers import assert_independently_valid

EVIDENCE: dict[str, Any] = {
    "format": "sealflow-evidence/1",
    "organisation": "Test Org",
    "application_id": 42,
    "seal": "合同专用章",
    "document_type": "contract",
    "document_sha256": "ab" * 32,
    "approvals": [
        {"level": 1, "role": "department_head", "label": "Department head", "name": "Harry", "on_behalf_of": None,
         "at": "2026-03-01T09:30:00Z"},
        {"level": 2, "role": "seal_admin", "label": "Seal administrator", "name": "Nora", "on_behalf_of": "Sam",
         "at": "2026-03-01T10:00:00Z"},
    ],
    "audit_chain_head": "cd" * 32,
    "sealed_at": "2026-03-01T10:01:00Z",
}


@pytest.fixture(scope="module")
def ca():
    return create_root_ca("Test Org", "ec-p256")


@pytest.fixture(scope="module")
def signer(ca):
    issued = issue_seal_certificate(ca, "Contract Seal", "Test Org", "ec-p256")
    return make_signer(SigningIdentity(issued.key, issued.certificate, (ca.certificate,)))


def _sign(data: bytes, signer, field: str = "Seal1", y: int = 50) -> bytes:
    return sign_pdf(data, signer, SignSpec(field, 0, (50, y, 250, y + 50), reason="test"))


@pytest.fixture(scope="module")
def signed(signer) -> bytes:
    """Stamped with a seal and the evidence, as the sealing job does, then signed."""
    plan = StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("TEST ORG", "CONTRACT SEAL")), seals=(StampSpec(),),
                     evidence=EVIDENCE)
    return _sign(stamp(corpus_pdf("pdflatex-4-pages.pdf"), plan), signer)


def _trusting(ca) -> ValidationContext:
    der = ca.certificate.public_bytes(serialization.Encoding.DER)
    return ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)])


def test_tools_that_are_not_sealflow_read_the_evidence_and_the_signature_stays_valid(tmp_path: Path, ca,
                                                                                        signed: bytes):
    with pikepdf.open(io.BytesIO(signed)) as pdf:
        assert json.loads(pdf.attachments[EVIDENCE_FILE].get_file().read_bytes()) == EVIDENCE
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    shown = subprocess.run(["qpdf", f"--show-attachment={EVIDENCE_FILE}", str(path)], capture_output=True, check=True)
    assert json.loads(shown.stdout) == EVIDENCE
    subprocess.run(["pdfdetach", "-savefile", EVIDENCE_FILE, "-o", str(tmp_path / "detached.json"), str(path)],
                   check=True)
    assert json.loads((tmp_path / "detached.json").read_bytes()) == EVIDENCE

    assert_independently_valid(signed, ca.certificate_pem, tmp_path / "check")  # pdfsig and mutool
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(signed)).embedded_signatures[0], _trusting(ca))
    assert status.intact and status.valid and status.trusted and status.coverage.name == "ENTIRE_FILE"


def test_verify_reports_the_evidence_as_covered_by_the_signature(ca, signed: bytes):
    report = verify_pdf(signed, [ca.certificate])
    assert report.verdict == "valid", report.reason
    evidence = report.evidence
    assert evidence is not None and evidence.covered and evidence.field_name == "Seal1", evidence
    facts = evidence.content
    assert facts is not None
    assert (facts.application_id, facts.seal, facts.organisation) == (42, "合同专用章", "Test Org")
    assert facts.document_sha256 == "ab" * 32 and facts.audit_chain_head == "cd" * 32
    assert [(a.level, a.role, a.name, a.on_behalf_of) for a in facts.approvals] == [
        (1, "department_head", "Harry", None), (2, "seal_admin", "Nora", "Sam")]
    assert facts.approvals[0].at == dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def test_a_later_signature_leaves_the_evidence_covered_by_the_first(ca, signer, signed: bytes):
    report = verify_pdf(_sign(signed, signer, "Seal2", 150), [ca.certificate])
    assert report.verdict == "valid", report.reason
    assert report.evidence is not None and report.evidence.covered and report.evidence.field_name == "Seal1"


# --- what is not evidence ----------------------------------------------------------------------------------------

def _updated(data: bytes, change) -> bytes:
    """An incremental update after signing, as a forger would write it."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _replace_evidence(content: dict[str, Any]):
    def change(writer: IncrementalPdfFileWriter) -> None:
        names = writer.root["/Names"]["/EmbeddedFiles"]["/Names"]
        spec = names[names.index(EVIDENCE_FILE) + 1].get_object()
        stream = writer.add_object(generic.StreamObject(stream_data=json.dumps(content).encode()))
        spec["/EF"] = generic.DictionaryObject({generic.NameObject("/F"): stream, generic.NameObject("/UF"): stream})
        writer.update_container(spec)
    return change


def _remove_evidence(writer: IncrementalPdfFileWriter) -> None:
    del writer.root["/Names"]
    writer.update_root()


def test_evidence_replaced_after_signing_is_not_evidence(ca, signed: bytes):
    forged = json.loads(json.dumps(EVIDENCE))
    forged["approvals"][0]["name"] = "Mallory"
    data = _updated(signed, _replace_evidence(forged))
    assert read_evidence(data)["approvals"][0]["name"] == "Mallory"  # what a reader of the file alone would see

    report = verify_pdf(data, [ca.certificate])
    assert report.verdict == "modified", report.reason
    assert report.evidence is not None and report.evidence.state == "changed" and not report.evidence.covered
    assert report.evidence.content is None and "replaced after the first signature" in report.evidence.reason


def test_evidence_removed_after_signing_is_reported(ca, signed: bytes):
    report = verify_pdf(_updated(signed, _remove_evidence), [ca.certificate])
    assert report.evidence is not None and report.evidence.state == "changed"
    assert "removed" in report.evidence.reason


def test_evidence_added_only_after_the_signature_is_not_covered(ca, signer):
    plain = _sign(corpus_pdf("minimal-document.pdf"), signer)

    def add(writer: IncrementalPdfFileWriter) -> None:
        data = embed.EmbeddedFileObject.from_file_data(writer, json.dumps(EVIDENCE).encode())
        embed.embed_file(writer, embed.FileSpec(file_spec_string=EVIDENCE_FILE, embedded_data=data))

    data = _updated(plain, add)
    assert read_evidence(data) == EVIDENCE
    report = verify_pdf(data, [ca.certificate])
    assert report.verdict == "modified", report.reason
    assert report.evidence is not None and report.evidence.state == "not-covered" and report.evidence.content is None
    assert "added after the first signature ('Seal1')" in report.evidence.reason


def test_evidence_in_an_unsigned_pdf_is_not_covered(ca):
    stamped = stamp(corpus_pdf("minimal-document.pdf"), StampPlan(evidence=EVIDENCE))
    report = verify_pdf(stamped, [ca.certificate])
    assert report.verdict == "unsigned"
    assert report.evidence is not None and report.evidence.state == "not-covered" and report.evidence.content is None


def test_evidence_under_a_broken_signature_is_not_covered(ca, signed: bytes):
    assert signed.count(b"/Reason (test)") == 1
    tampered = signed.replace(b"/Reason (test)", b"/Reason (tesT)")  # inside the signed bytes, still a sound PDF
    report = verify_pdf(tampered, [ca.certificate])
    assert report.verdict == "invalid"
    assert report.evidence is not None and report.evidence.state == "not-covered" and report.evidence.content is None
    assert "'Seal1' that would cover the approval evidence does not verify" in report.evidence.reason


def test_a_signed_pdf_only_pyhanko_can_read_gives_a_clear_message(ca, signed: bytes):
    tampered = bytearray(signed)
    tampered[tampered.index(b"stream") + 20] ^= 0x01  # inside the compressed object stream holding the page tree
    report = verify_pdf(bytes(tampered), [ca.certificate])
    assert report.verdict == "invalid"
    assert report.evidence is not None and report.evidence.state == "unreadable", report.evidence
    assert report.evidence.reason.startswith("the PDF is damaged and cannot be read (")
    assert "0x" not in report.evidence.reason and "BytesIO" not in report.evidence.reason


def test_a_pdf_without_evidence_reports_none(ca, signer):
    assert verify_pdf(_sign(corpus_pdf("minimal-document.pdf"), signer), [ca.certificate]).evidence is None


# --- damaged evidence: a clear message, never a traceback or a huge allocation ----------------------------------

def _with_attachment(content: bytes, signer, encoded: bool = False) -> bytes:
    """A signed PDF whose evidence file holds these bytes (already Flate-encoded when `encoded`)."""
    with pikepdf.open(io.BytesIO(corpus_pdf("minimal-document.pdf"))) as pdf:
        pdf.attachments[EVIDENCE_FILE] = pikepdf.AttachedFileSpec(pdf, b"-", filename=EVIDENCE_FILE)
        stream = pdf.attachments[EVIDENCE_FILE].obj.EF.F
        stream.write(content, filter=pikepdf.Name.FlateDecode if encoded else None)
        out = io.BytesIO()
        pdf.save(out)
    return _sign(out.getvalue(), signer)


def _bomb(size: int) -> bytes:
    """Flate data that inflates to `size` bytes of JSON whitespace, built without holding them."""
    deflater, chunk, parts = zlib.compressobj(9), b" " * (1 << 20), []
    for _ in range(size // len(chunk)):
        parts.append(deflater.compress(chunk))
    return b"".join(parts) + deflater.flush()


@pytest.mark.parametrize(("content", "message"), [
    (b"{not json", "is not JSON"),
    (b"[" * 200_000, "is not JSON"),  # nested past Python's recursion limit
    (b'["a list"]', "not in SealFlow's format"),
    (json.dumps({**EVIDENCE, "format": "other/1"}).encode(), "not in a format SealFlow knows"),
    (json.dumps({**EVIDENCE, "approvals": [{"level": "one"}]}).encode(), "incomplete or malformed"),
    (b" " * (MAX_EVIDENCE + 1), "too large"),
])
def test_damaged_evidence_is_a_clear_message(ca, signer, content: bytes, message: str):
    report = verify_pdf(_with_attachment(content, signer), [ca.certificate])
    assert report.verdict == "valid", report.reason  # the signature itself is fine
    assert report.evidence is not None and report.evidence.state == "unreadable", report.evidence
    assert message in report.evidence.reason and report.evidence.content is None


def test_an_evidence_bomb_is_refused_without_inflating_it(ca, signer):
    data = _with_attachment(_bomb(256 << 20), signer, encoded=True)
    assert len(data) < 1 << 20
    tracemalloc.start()
    try:
        report = verify_pdf(data, [ca.certificate])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.evidence is not None and report.evidence.state == "unreadable"
    assert "too large" in report.evidence.reason
    assert peak < 32 << 20, f"{peak / 2**20:.0f} MiB"
    with pytest.raises(InvalidPdfError, match="too large"):
        read_evidence(data)


def test_two_different_contents_in_one_file_spec_are_refused(signer):
    with pikepdf.open(io.BytesIO(corpus_pdf("minimal-document.pdf"))) as pdf:
        pdf.attachments[EVIDENCE_FILE] = pikepdf.AttachedFileSpec(pdf, json.dumps(EVIDENCE).encode(),
                                                                  filename=EVIDENCE_FILE)
        files = pdf.attachments[EVIDENCE_FILE].obj.EF
        files.UF = pikepdf.Stream(pdf, b'{"format": "forged"}')  # what a tool reading /UF would show instead
        out = io.BytesIO()
        pdf.save(out)
    with pytest.raises(InvalidPdfError, match="two different contents"):
        read_evidence(out.getvalue())
