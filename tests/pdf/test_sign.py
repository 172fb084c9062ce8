import io
import logging
import subprocess
from pathlib import Path

import pikepdf
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm, SigFieldSpec
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from app.pdf import (
    AlreadySignedError,
    InvalidPdfError,
    LongTermSpec,
    SealImageSpec,
    SignatureField,
    SignatureFieldError,
    SigningIdentity,
    SignSpec,
    StampSpec,
    add_signature_fields,
    inspect_pdf,
    locate,
    make_signer,
    placement_rect,
    render_seal_pdf,
    sign_pdf,
    stamp_seal,
    verify_pdf,
)
from app.pdf.appearance import CAPTION_SHARE
from app.pdf.errors import library_message
from app.pki import SigningError, TimeStampAuthority
from app.pki.ca import create_crl, create_root_ca, issue_seal_certificate, issue_tsa_certificate
from tests.conftest import corpus_pdf
from tests.pdf.verifiers import (
    assert_independently_valid,
    mutool_unchanged,
    mutool_verdicts,
    nss_db_with,
    pdfsig,
    qpdf_check,
)


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


# --- the seal as the signature's appearance ---------------------------------------------------------

APPEARANCE_ASPECT = 1 / (1 - CAPTION_SHARE)  # the seal, with the signer and time beneath


@pytest.mark.parametrize("page", [1, 2, 3, 4])
def test_seal_appearance_is_upright_where_asked_on_rotated_pages(tmp_path: Path, ca, identity, page: int):
    """habibi-rotated.pdf has /Rotate 90, 180, 270, 360: the widget must read upright at the visible corner."""
    data = corpus_pdf("habibi-rotated.pdf")
    spec = StampSpec(page=page, x_mm=20, y_mm=30, size_mm=40)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        box = locate(data, pdf, spec, APPEARANCE_ASPECT)[0]
    seal = render_seal_pdf(SealImageSpec("TEST ORG", "CONTRACT SEAL"))
    signed = sign_pdf(data, make_signer(identity), SignSpec("Seal", box.page_index, box.rect, appearance_pdf=seal))
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    subprocess.run(["pdftoppm", "-png", "-r", "36", "-f", str(page), "-l", str(page), "-singlefile", str(path),
                    str(tmp_path / "page")], check=True)
    image = Image.open(tmp_path / "page.png").convert("RGB")
    mm = 36 / 25.4
    reds = [(x, y) for x in range(image.width) for y in range(image.height)
            if (p := image.getpixel((x, y)))[0] > 150 and p[1] < 90 and p[2] < 90]
    x1, y1 = min(r[0] for r in reds), min(r[1] for r in reds)
    x2, y2 = max(r[0] for r in reds), max(r[1] for r in reds)
    assert abs((image.width - x2) - 20 * mm) <= 2 * mm
    assert abs((x2 - x1) - 40 * mm) <= 2 * mm and abs((y2 - y1) - 40 * mm) <= 2 * mm
    # Upright: the caption (dark text) sits under the seal, and the seal's bottom is 30 mm up plus the caption.
    caption_top = y2 + 1
    dark = [(x, y) for x in range(x1, x2) for y in range(caption_top, min(image.height, y2 + int(12 * mm)))
            if sum(image.getpixel((x, y))) < 300]
    assert dark, "no caption under the seal"
    assert abs((image.height - y2) - (30 + 40 * (APPEARANCE_ASPECT - 1)) * mm) <= 2 * mm
    assert validate_pdf_signature(PdfFileReader(io.BytesIO(signed)).embedded_signatures[0], _trust_root(ca)).valid
    assert_independently_valid(signed, ca.certificate_pem, tmp_path / "check")


# --- several parties on one document ----------------------------------------------------------------

def test_parties_sign_in_turn_and_every_earlier_signature_stays_valid(tmp_path: Path, ca):
    parties = [issue_seal_certificate(ca, name, "Test Org", algorithm)
               for name, algorithm in (("Party A", "rsa2048"), ("Party B", "ec-p256"), ("Party C", "rsa2048"))]
    data = corpus_pdf("pdflatex-4-pages.pdf")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        boxes = [locate(data, pdf, StampSpec(page=-1, x_mm=15 + 50 * i, y_mm=30, size_mm=40), APPEARANCE_ASPECT)[0]
                 for i in range(3)]
    data = add_signature_fields(data, tuple(SignatureField(f"Party{i}", b.page_index, b.rect)
                                            for i, b in enumerate(boxes)))
    seal = render_seal_pdf(SealImageSpec("TEST ORG"))
    for i, party in enumerate(parties):
        identity = SigningIdentity(party.key, party.certificate, (ca.certificate,))
        data = sign_pdf(data, make_signer(identity), SignSpec(f"Party{i}", appearance_pdf=seal, certify=i == 0))
        signatures = PdfFileReader(io.BytesIO(data)).embedded_signatures
        assert len(signatures) == i + 1
        for signature in signatures:
            status = validate_pdf_signature(signature, _trust_root(ca))
            assert status.intact and status.valid and status.trusted, status.summary()
            # Filling the prepared fields is allowed by the certification: no illegal modification.
            assert status.modification_level in (ModificationLevel.NONE, ModificationLevel.FORM_FILLING)
            assert status.docmdp_ok
    assert PdfFileReader(io.BytesIO(data)).embedded_signatures[0].docmdp_level == MDPPerm.FILL_FORMS
    path = tmp_path / "three.pdf"
    path.write_bytes(data)
    report = pdfsig(path, nss_db_with(ca.certificate_pem, tmp_path / "nss"))
    assert report.text.count("Signature is Valid.") == 3 and report.text.count("Certificate is Trusted.") == 3
    unchanged, text = mutool_unchanged(path)
    assert unchanged, text


def test_a_signed_field_cannot_be_signed_again(ca, identity):
    data = _seal_and_sign(corpus_pdf("minimal-document.pdf"), identity)
    with pytest.raises(SignatureFieldError, match="'Seal1' is already signed"):
        sign_pdf(data, make_signer(identity), SignSpec("Seal1"))


# --- long-term levels ------------------------------------------------------------------------------

@pytest.mark.parametrize("archive", [False, True], ids=["B-LT", "B-LTA"])
def test_long_term_signature_embeds_validation_data(tmp_path: Path, ca, identity, archive: bool):
    tsa = TimeStampAuthority(issue_tsa_certificate(ca, "Test Org"), chain=(ca.certificate,))
    crl = create_crl(ca, [])
    data = corpus_pdf("minimal-document.pdf")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        box = locate(data, pdf, StampSpec(), APPEARANCE_ASPECT)[0]
    signed = sign_pdf(data, make_signer(identity), SignSpec("Seal", box.page_index, box.rect),
                      timestamper=tsa.timestamper(),
                      long_term=LongTermSpec((ca.certificate,), (crl,), archive=archive))
    with pikepdf.open(io.BytesIO(signed)) as pdf:
        assert "/DSS" in pdf.Root and len(pdf.Root.DSS.Certs) >= 2 and len(pdf.Root.DSS.CRLs) == 1
    report = verify_pdf(signed, [ca.certificate], [crl])
    kinds = [s.kind for s in report.signatures]
    assert kinds == (["signature", "document-timestamp"] if archive else ["signature"])
    assert report.verdict == "valid", report.reason
    assert report.signatures[0].timestamp_valid and report.signatures[0].timestamp_trusted
    # pdfsig lists the B-LTA document timestamp too, but does not verify that kind (ETSI.RFC3161).
    assert_independently_valid(signed, ca.certificate_pem, tmp_path / "check", updated_after=True)


def test_long_term_needs_a_timestamper(ca, identity):
    with pytest.raises(SigningError, match="time-stamp authority"):
        sign_pdf(corpus_pdf("minimal-document.pdf"), make_signer(identity), SignSpec("S", 0, (10, 10, 50, 50)),
                 long_term=LongTermSpec((ca.certificate,)))


def test_the_signer_parses_its_key_once_not_per_signature(monkeypatch, identity):
    """pyHanko's SimpleSigner loads its key from DER for every signature; ours keeps the parsed key."""
    import pyhanko.sign.signers.pdf_cms as pdf_cms

    loads = []
    original = pdf_cms.serialization.load_der_private_key
    monkeypatch.setattr(pdf_cms.serialization, "load_der_private_key",
                        lambda *a, **k: loads.append(1) or original(*a, **k))
    signer = make_signer(identity)
    for _ in range(3):
        assert sign_pdf(corpus_pdf("minimal-document.pdf"), signer, SignSpec("S", 0, (10, 10, 60, 60)))
    assert loads == []


def _hybrid_xref_pdf() -> bytes:
    """A hybrid-reference file (classic xref table whose trailer points, by /XRefStm, to an xref stream),
    as some Word versions write them."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
               b" /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"]
    text = b"BT /F1 24 Tf 72 700 Td (hybrid) Tj ET"
    body = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    offsets.append(len(body))
    body += b"4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (len(text), text)
    # The xref stream (object 5) lists objects 0-4 again, as a hybrid file's supplement does.
    rows = b"".join(bytes([1]) + o.to_bytes(4, "big") + b"\x00" for o in offsets)
    rows = bytes([0, 0, 0, 0, 0, 0]) + rows
    stream_offset = len(body)
    body += b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 1] /Index [0 5] /Length %d >>\nstream\n" % len(rows)
    body += rows + b"\nendstream\nendobj\n"
    xref = len(body)
    body += b"xref\n0 6\n0000000000 65535 f \n"
    body += b"".join(b"%010d 00000 n \n" % o for o in [*offsets, stream_offset])
    body += b"trailer\n<< /Size 6 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (stream_offset, xref)
    return bytes(body)


def test_a_hybrid_xref_file_is_normalised_by_stamping_and_signs_cleanly(tmp_path: Path, ca, identity):
    """Stamping rewrites the file with one cross-reference form, so the signature's incremental update is not
    appended to a hybrid file that some readers would read differently."""
    hybrid = _hybrid_xref_pdf()
    assert inspect_pdf(hybrid).page_count == 1 and not inspect_pdf(hybrid).repaired
    signed = _seal_and_sign(hybrid, identity)
    assert b"/XRefStm" not in signed
    path = tmp_path / "hybrid-signed.pdf"
    path.write_bytes(signed)
    report = pdfsig(path, nss_db_with(ca.certificate_pem, tmp_path / "nss"))
    assert report.valid and report.trusted, report.text
    assert mutool_unchanged(path)[0]


def _looped_page_tree() -> bytes:
    """A one-page PDF whose page lists itself as its /Parent (a mutant seen in the wild: signing used to loop)."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0].obj
    page.Parent = page
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_a_page_whose_parent_is_itself_is_refused_not_looped_on(identity):
    data = _looped_page_tree()
    with pytest.raises(InvalidPdfError, match="page tree is damaged"):
        sign_pdf(data, make_signer(identity), SignSpec("Seal", 0, (100, 100, 200, 200)))


def test_a_rotation_that_is_no_multiple_of_90_is_refused(identity):
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.pages[0].obj.Rotate = 45
    out = io.BytesIO()
    pdf.save(out)
    with pytest.raises(InvalidPdfError, match="multiple of 90"):
        sign_pdf(out.getvalue(), make_signer(identity), SignSpec("Seal", 0, (100, 100, 200, 200)))


# --- later signatures and B-LTA timestamps keep earlier ones valid ------------------------------------

def _form_pdf(info_is_form: bool) -> bytes:
    """A one-page form with a text field and an empty signature field named "Seal" (the name `pdf sign` uses
    unless told otherwise), built with pikepdf. `info_is_form`: the trailer's /Info and the catalog's /AcroForm
    are one object, as some tools write them."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0].obj
    form = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array(), Producer=pikepdf.String("odd tool"),
                                                Title=pikepdf.String("Contract")))
    pdf.Root.AcroForm = form
    if info_is_form:
        pdf.trailer.Info = form
    page.Annots = pikepdf.Array()
    for name, kind, rect in (("Name", "/Tx", [72, 700, 300, 720]), ("Seal", "/Sig", [350, 60, 500, 160])):
        field = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget,
                                                     FT=pikepdf.Name(kind), T=pikepdf.String(name), F=4,
                                                     Rect=rect, P=page))
        form.Fields.append(field)
        page.Annots.append(field)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


DOCUMENTS = {
    "annotated": lambda: corpus_pdf("annotated_pdf.pdf"),  # its annotations are direct dictionaries in /Annots
    "info-is-form": lambda: _form_pdf(info_is_form=True),
    "fields": lambda: _form_pdf(info_is_form=False),
}


@pytest.fixture(scope="module")
def parties(ca):
    issued = [issue_seal_certificate(ca, name, "Test Org", "ec-p256") for name in ("Party A", "Party B")]
    return [make_signer(SigningIdentity(p.key, p.certificate, (ca.certificate,))) for p in issued]


@pytest.fixture(scope="module")
def archive(ca):
    """B-LTA: a time-stamp authority, validation data and a document timestamp."""
    tsa = TimeStampAuthority(issue_tsa_certificate(ca, "Test Org"), chain=(ca.certificate,))
    crl = create_crl(ca, [])
    return {"timestamper": tsa.timestamper(), "long_term": LongTermSpec((ca.certificate,), (crl,), archive=True)}


def _box(column: int) -> tuple[float, float, float, float]:
    return (60 + 130 * column, 200, 180 + 130 * column, 300)


def assert_every_signature_intact(data: bytes, ca, workdir: Path, signatures: int) -> None:
    """pyHanko's validator finds every signature and document timestamp intact, valid, trusted and changed
    afterwards by signatures, form filling and validation data only; `verify_pdf`, pdfsig, mutool and qpdf agree."""
    for embedded in PdfFileReader(io.BytesIO(data)).embedded_signatures:
        if embedded.sig_object_type == "/DocTimeStamp":
            status = validate_pdf_timestamp(embedded, _trust_root(ca))
        else:
            status = validate_pdf_signature(embedded, _trust_root(ca))
        assert status.intact and status.valid and status.trusted, status.summary()
        assert status.modification_level <= ModificationLevel.FORM_FILLING, (embedded.field_name, embedded.diff_result)
        assert status.docmdp_ok is not False, embedded.field_name
    report = verify_pdf(data, [ca.certificate])
    assert report.verdict == "valid", report.reason
    assert sum(s.kind == "signature" for s in report.signatures) == signatures
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "signed.pdf"
    path.write_bytes(data)
    text = pdfsig(path, nss_db_with(ca.certificate_pem, workdir / "nss")).text
    assert text.count("Signature is Valid.") == signatures and text.count("Certificate is Trusted.") == signatures
    # mutool reads document timestamps as unsigned fields ("Signature is not signed.").
    verdicts = [verdict for verdict in mutool_verdicts(path) if verdict != "Signature is not signed."]
    assert len(verdicts) == signatures and set(verdicts) <= {"unchanged", "edited"}, verdicts
    assert qpdf_check(path)[0], qpdf_check(path)[1]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_a_second_signature_keeps_the_first_valid(tmp_path: Path, ca, parties, document: str):
    seal = render_seal_pdf(SealImageSpec("TEST ORG"))
    first = sign_pdf(DOCUMENTS[document](), parties[0], SignSpec("Seal", 0, _box(0), appearance_pdf=seal))
    second = sign_pdf(first, parties[1], SignSpec("Second", 0, _box(1), appearance_pdf=seal))
    assert_every_signature_intact(second, ca, tmp_path, signatures=2)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_archive_timestamps_keep_earlier_signatures_valid(tmp_path: Path, ca, parties, archive, document: str):
    first = sign_pdf(DOCUMENTS[document](), parties[0], SignSpec("Seal", 0, _box(0)), **archive)
    assert_every_signature_intact(first, ca, tmp_path / "one", signatures=1)
    second = sign_pdf(first, parties[1], SignSpec("Second", 0, _box(1)), **archive)
    kinds = [s.kind for s in verify_pdf(second, [ca.certificate]).signatures]
    assert kinds == ["signature", "document-timestamp", "signature", "document-timestamp"]
    assert_every_signature_intact(second, ca, tmp_path / "two", signatures=2)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_a_certified_document_is_signed_again_in_a_field_it_was_certified_with(tmp_path: Path, ca, parties, archive,
                                                                                 document: str):
    prepared = add_signature_fields(DOCUMENTS[document](), (SignatureField("Party2", 0, _box(1)),))
    certified = sign_pdf(prepared, parties[0], SignSpec("Seal", 0, _box(0), certify=True))
    second = sign_pdf(certified, parties[1], SignSpec("Party2"), **archive)
    assert PdfFileReader(io.BytesIO(second)).embedded_signatures[0].docmdp_level == MDPPerm.FILL_FORMS
    assert_every_signature_intact(second, ca, tmp_path, signatures=2)


class _Untouchable(signers.Signer):
    """A signer (and time-stamper) that must not be reached: the refusal comes before anything is signed."""

    def __init__(self) -> None:
        super().__init__()

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        raise AssertionError("the signer was used")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_a_certified_document_refuses_a_new_field_before_anything_is_signed(ca, parties, document: str):
    certified = sign_pdf(DOCUMENTS[document](), parties[0], SignSpec("Seal", 0, _box(0), certify=True))
    with pytest.raises(AlreadySignedError, match="certified by 'Seal': later signatures may only fill the empty "
                                                 "signature fields it was certified with, not one named 'Second'"):
        sign_pdf(certified, _Untouchable(), SignSpec("Second", 0, _box(1)))
    with pytest.raises(AlreadySignedError, match="certified by 'Seal'"):
        add_signature_fields(certified, (SignatureField("Later", 0, _box(2)),))
    with pytest.raises(AlreadySignedError, match="a certification signature must be the document's first"):
        sign_pdf(certified, _Untouchable(), SignSpec("Second", 0, _box(1), certify=True))


def _signed_elsewhere(data: bytes, signer: signers.Signer, field: str = "Elsewhere", **meta) -> bytes:
    """Signed by plain pyHanko, as another product would (nothing of SealFlow's preparation), in a new visible
    field."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    out = io.BytesIO()
    signers.PdfSigner(signers.PdfSignatureMetadata(field_name=field, **meta), signer=signer,
                      new_field_spec=SigFieldSpec(field, box=(400, 700, 500, 780))).sign_pdf(writer, output=out)
    return out.getvalue()


def test_a_certification_that_forbids_changes_refuses_another_signature(ca, parties):
    certified = _signed_elsewhere(corpus_pdf("minimal-document.pdf"), parties[0], certify=True,
                                  docmdp_permissions=MDPPerm.NO_CHANGES)
    with pytest.raises(AlreadySignedError, match="certified by 'Elsewhere' with no changes allowed"):
        sign_pdf(certified, _Untouchable(), SignSpec("Second", 0, _box(1)))


def test_updates_that_would_break_a_signature_made_elsewhere_are_refused(ca, parties):
    # Direct annotations nobody mended before the first signature: any new field breaks it for the validator.
    annotated = _signed_elsewhere(corpus_pdf("annotated_pdf.pdf"), parties[0])
    with pytest.raises(AlreadySignedError, match="page 1 lists annotations by value"):
        sign_pdf(annotated, _Untouchable(), SignSpec("Second", 0, _box(1)))
    # /Info is the form: filling its field changes an object reachable through /Info. Only the finished update
    # shows it (pyHanko's diff analysis, run before the bytes are handed back).
    shared = _signed_elsewhere(_form_pdf(info_is_form=True), parties[0])
    with pytest.raises(AlreadySignedError, match="would invalidate the earlier signature 'Elsewhere' "
                                                 r"\(the validator's finding: There are unexplained xrefs"):
        sign_pdf(shared, parties[1], SignSpec("Seal"))
    # What the validator allows still works: a new field on the shared-/Info form.
    second = sign_pdf(shared, parties[1], SignSpec("Second", 0, _box(1)))
    assert verify_pdf(second, [ca.certificate]).verdict == "valid"


def test_a_form_field_named_like_the_signature_field_is_refused_clearly(parties):
    data = _form_pdf(info_is_form=False)
    with pytest.raises(SignatureFieldError, match="a form field named 'Name' that is not a signature field"):
        sign_pdf(data, _Untouchable(), SignSpec("Name", 0, _box(0)))


def test_pages_sharing_one_annotation_array_show_a_signature_once(ca, parties):
    pdf = pikepdf.new()
    for _ in range(2):
        pdf.add_blank_page(page_size=(595, 842))
    note = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text,
                                                Rect=[20, 20, 40, 40], Contents=pikepdf.String("note")))
    shared = pdf.make_indirect(pikepdf.Array([note]))
    for page in pdf.pages:
        page.obj.Annots = shared
    out = io.BytesIO()
    pdf.save(out)
    first = sign_pdf(out.getvalue(), parties[0], SignSpec("Seal", 0, _box(0)))
    second = sign_pdf(first, parties[1], SignSpec("Second", 1, _box(1)))
    with pikepdf.open(io.BytesIO(second)) as signed:
        listed = [[str(annot.get("/T", "")) for annot in page.Annots] for page in signed.pages]
    assert listed == [["", "Seal"], ["", "Second"]]
    assert verify_pdf(second, [ca.certificate]).verdict == "valid"


@pytest.mark.parametrize("error, message", [
    (KeyError("/Kids"), "the entry /Kids is missing"),
    (TypeError("'NoneType' object is not subscriptable"), "an object has the wrong type or size"),
    (ValueError("Update of Reference(idnum=24, generation=0) is illegal.\nTraceback ..."),
     "Update of object 24 is illegal."),
])
def test_library_messages_carry_no_repr(error: Exception, message: str):
    assert library_message(error) == message


def test_diff_analysis_logs_no_tracebacks(caplog, ca, parties):
    certified = _signed_elsewhere(corpus_pdf("minimal-document.pdf"), parties[0], certify=True)
    broken = _signed_elsewhere(certified, parties[1], "Later")  # a new field after certification: illegal
    with caplog.at_level(logging.DEBUG):
        assert verify_pdf(broken, [ca.certificate]).verdict == "modified"
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING and record.exc_info]
