import datetime as dt
import io

import pikepdf
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from app.pdf import InvalidPdfError, SigningIdentity, SignSpec, make_signer, sign_pdf
from app.pdf.verify import ModificationLevel, SignatureCoverageLevel, verify_pdf
from app.pki.ca import create_root_ca, issue_seal_certificate
from app.pki.tsa import TimeStampAuthority
from tests.conftest import corpus_pdf

CRL_URL = "http://sealflow.example/ca.crl"


@pytest.fixture(scope="module")
def seal(ca, algorithm):
    return issue_seal_certificate(ca, "Contract Seal", "Test Org", algorithm, crl_url=CRL_URL)


def _sign(data: bytes, ca, seal, authority: TimeStampAuthority, field: str = "Seal1", y: int = 50) -> bytes:
    signer = make_signer(SigningIdentity(seal.key, seal.certificate, (ca.certificate,)))
    spec = SignSpec(field, 0, (50, y, 250, y + 50), reason="test")
    return sign_pdf(data, signer, spec, timestamper=authority.timestamper())


@pytest.fixture(scope="module")
def signed(ca, seal, authority) -> bytes:
    return _sign(corpus_pdf("minimal-document.pdf"), ca, seal, authority)


def test_a_good_file_is_valid_with_every_detail(ca, seal, signed: bytes):
    report = verify_pdf(signed, [ca.certificate], seal_names={seal.certificate.serial_number: "合同专用章"})
    assert report.verdict == "valid" and not report.changed_after_last_signature, report.reason
    (signature,) = report.signatures
    assert signature.field_name == "Seal1" and signature.kind == "signature"
    assert signature.signer == "Contract Seal" and signature.seal_name == "合同专用章"
    assert signature.intact and signature.valid and signature.trusted and not signature.revoked
    assert signature.timestamp_valid and signature.timestamp_trusted
    assert signature.signing_time is not None and signature.timestamp_time is not None
    assert abs(signature.timestamp_time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert signature.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert signature.modification_level == ModificationLevel.NONE and signature.docmdp_ok


def test_an_unsigned_pdf_has_no_signatures(ca):
    report = verify_pdf(corpus_pdf("minimal-document.pdf"), [ca.certificate])
    assert report.verdict == "unsigned" and report.signatures == ()


@pytest.mark.parametrize("data", [b"hello, not a PDF", b"%PDF-1.7\n1 0 obj\n<<"])
def test_what_is_not_a_pdf_is_refused(ca, data: bytes):
    with pytest.raises(InvalidPdfError):
        verify_pdf(data, [ca.certificate])


def test_a_truncated_signed_pdf_is_refused(ca, signed: bytes):
    with pytest.raises(InvalidPdfError):
        verify_pdf(signed[: len(signed) // 3], [ca.certificate])


def test_one_changed_byte_in_the_signed_range_is_invalid(ca, signed: bytes):
    tampered = bytearray(signed)
    index = tampered.index(b"stream") + 20
    tampered[index] ^= 0x01
    report = verify_pdf(bytes(tampered), [ca.certificate])
    assert report.verdict == "invalid"
    assert not report.signatures[0].intact
    assert "changed after signing" in report.signatures[0].reason


@pytest.mark.parametrize("garbage", [b"ff", b"00000000"])
def test_a_corrupted_signature_value_is_invalid_not_an_error(ca, signed: bytes, garbage: bytes):
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    report = verify_pdf(signed[:start] + garbage + signed[start + len(garbage):], [ca.certificate])
    assert report.verdict == "invalid"
    assert "not a readable CMS object" in report.signatures[0].reason and len(report.reason) < 300


def test_a_file_rewritten_by_pikepdf_no_longer_verifies(ca, signed: bytes):
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(signed)) as pdf:
        pdf.save(out)
    report = verify_pdf(out.getvalue(), [ca.certificate])
    assert report.verdict in ("invalid", "modified"), report.reason
    assert report.changed_after_last_signature
    assert report.signatures[0].coverage != SignatureCoverageLevel.ENTIRE_FILE


def _append_page_content(data: bytes) -> bytes:
    """An incremental update drawing a red box over the first page, as a forger would."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    overlay = writer.add_object(generic.StreamObject(stream_data=b"q 1 0 0 rg 0 0 200 200 re f Q"))
    contents = page.raw_get("/Contents")
    existing = list(contents.get_object()) if isinstance(contents.get_object(), generic.ArrayObject) else [contents]
    page["/Contents"] = generic.ArrayObject([*existing, overlay])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _append_annotation(data: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Square"),
        generic.NameObject("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (0, 0, 300, 300)]),
        generic.NameObject("/IC"): generic.ArrayObject([generic.FloatObject(1)] * 3),
    })
    annots = page.get("/Annots", generic.ArrayObject())
    page["/Annots"] = generic.ArrayObject([*annots, writer.add_object(note)])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_page_content_changed_in_a_later_update_is_modified(ca, signed: bytes):
    report = verify_pdf(_append_page_content(signed), [ca.certificate])
    assert report.changed_after_last_signature
    assert report.verdict == "modified", report.reason
    signature = report.signatures[0]
    assert signature.intact and signature.trusted
    assert signature.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert signature.modification_level == ModificationLevel.OTHER and signature.docmdp_ok is False
    assert "changed after this signature" in signature.reason


def test_an_annotation_added_later_is_modified(ca, signed: bytes):
    report = verify_pdf(_append_annotation(signed), [ca.certificate])
    assert report.changed_after_last_signature
    assert report.verdict == "modified", report.reason
    # pyHanko's default diff rules cannot explain a new annotation at all: level OTHER, not ANNOTATIONS.
    assert report.signatures[0].modification_level >= ModificationLevel.ANNOTATIONS


def test_a_second_signature_keeps_the_first_valid(ca, seal, authority, signed: bytes):
    both = _sign(signed, ca, seal, authority, field="Seal2", y=120)
    report = verify_pdf(both, [ca.certificate])
    assert report.verdict == "valid" and not report.changed_after_last_signature, report.reason
    first, second = report.signatures
    assert (first.field_name, second.field_name) == ("Seal1", "Seal2")
    assert first.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert first.modification_level == ModificationLevel.FORM_FILLING and first.verdict == "valid"
    assert second.coverage == SignatureCoverageLevel.ENTIRE_FILE


def test_a_document_timestamp_is_reported(ca, authority, signed: bytes):
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    out = io.BytesIO()
    signers.PdfTimeStamper(authority.timestamper()).timestamp_pdf(writer, "sha256", output=out)
    report = verify_pdf(out.getvalue(), [ca.certificate])
    assert report.verdict == "valid", report.reason
    assert [s.kind for s in report.signatures] == ["signature", "document-timestamp"]
    assert report.signatures[1].timestamp_trusted and report.signatures[1].signer.endswith("Time-Stamp Authority")


def test_an_unknown_root_is_untrusted(signed: bytes):
    report = verify_pdf(signed, [create_root_ca("Someone Else", "ec-p256").certificate])
    assert report.verdict == "untrusted"
    signature = report.signatures[0]
    assert signature.intact and signature.valid and not signature.trusted and not signature.timestamp_trusted
    assert "trusted root" in signature.reason
