import hashlib
import io
import re
import resource
import zlib
from collections import OrderedDict
from dataclasses import replace

import pikepdf
import pytest

from app.pdf import (
    CHECK_VERSION,
    ContentCheck,
    EncryptedPdfError,
    InvalidPdfError,
    SealImageSpec,
    SigningIdentity,
    SignSpec,
    StampPlan,
    StampSpec,
    check_signable,
    inspect_pdf,
    make_signer,
    render_seal_pdf,
    sign_pdf,
    stamp,
    stamp_seal,
    verify_pdf,
)
from app.pdf.budget import MAX_PAGE_DECODED as MAX
from app.pdf.budget import check_pages
from app.pki.ca import create_root_ca, issue_seal_certificate
from tests.conftest import CORPUS, corpus_pdf
from tests.pdf.verifiers import qpdf_check

ACCEPTED = sorted(p.name for p in (CORPUS / "pdf").glob("*.pdf") if p.name != "libreoffice-writer-password.pdf")


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_unencrypted_corpus_pdf_is_accepted(name: str):
    assert inspect_pdf(corpus_pdf(name)).page_count >= 1


def test_encrypted_corpus_pdf_is_refused_with_a_clear_message():
    with pytest.raises(EncryptedPdfError, match="password"):
        inspect_pdf(corpus_pdf("libreoffice-writer-password.pdf"))


@pytest.mark.parametrize("data, message", [
    (b"hello, this is a text file", "not a PDF"),
    (b"", "not a PDF"),
    (b"%PDF-1.7\n1 0 obj\n<<", "damaged"),
])
def test_broken_input_is_refused(data: bytes, message: str):
    with pytest.raises(InvalidPdfError, match=message):
        inspect_pdf(data)


def test_truncated_pdf_is_refused_or_repaired_never_crashes():
    data = corpus_pdf("pdflatex-4-pages.pdf")
    try:
        info = inspect_pdf(data[: len(data) // 3])
    except InvalidPdfError:
        return
    assert info.page_count >= 1  # qpdf recovered what it could


def test_page_limit():
    with pytest.raises(InvalidPdfError, match="the limit is 2"):
        inspect_pdf(corpus_pdf("pdflatex-4-pages.pdf"), max_pages=2)


def test_a_damaged_but_repairable_pdf_says_it_was_repaired():
    data = corpus_pdf("pdflatex-4-pages.pdf")
    shifted = data.replace(b"\n", b"\n%shifted\n", 1)  # every xref offset now points 10 bytes short
    info = inspect_pdf(shifted)
    assert info.page_count == 4 and info.repaired
    assert any("reconstruct" in repair for repair in info.repairs)
    assert not inspect_pdf(data).repaired


def _bomb(decoded_mib: int) -> bytes:
    """A one-page PDF whose content stream is a few hundred kB of Flate that inflates to `decoded_mib` MiB."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    inflater = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    raw = b"".join(inflater.compress(chunk) for _ in range(decoded_mib)) + inflater.flush()
    pdf.pages[0].obj.Contents = pdf.make_stream(raw, Filter=pikepdf.Name.FlateDecode)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def test_a_decompression_bomb_is_refused_before_anything_decodes_it():
    bomb = _bomb(100)
    assert len(bomb) < 1_000_000
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pikepdf.open(io.BytesIO(bomb)) as pdf, pytest.raises(InvalidPdfError, match="decompression bomb"):
        check_pages(pdf)
    # Bounded memory: far less than the 100 MiB the stream would inflate to (ru_maxrss is in KiB).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 80 * 1024
    with pikepdf.open(io.BytesIO(_bomb(2))) as pdf:
        check_pages(pdf)  # an honest page of 2 MiB passes


def test_a_damaged_file_is_described_without_a_python_repr():
    """The reproduction: qpdf names its input `stream <_io.BytesIO object at 0x7f69…>`, and that reached users."""
    data = corpus_pdf("habibi-rotated.pdf")
    for broken in (data[:8000], data[:3000], data.replace(b"xref", b"fxre")):
        try:
            info = inspect_pdf(broken)
        except InvalidPdfError as exc:
            said = [str(exc)]
        else:
            said = list(info.repairs)
        assert said and not any(re.search(r"0x[0-9a-f]{6}|<_io\.|object at", s) for s in said), said


def _identity():
    ca = create_root_ca("Doc Org")
    issued = issue_seal_certificate(ca, "Contract Seal", "Doc Org", "rsa2048")
    return ca, SigningIdentity(issued.key, issued.certificate, (ca.certificate,))


def test_a_truncated_file_is_stamped_into_one_that_signs(tmp_path):
    """The reproduction: stamping repaired a truncated file but wrote a trailer without /Size, so signing it
    crashed with KeyError '/Size'."""
    truncated = corpus_pdf("habibi-rotated.pdf")[:8000]
    assert inspect_pdf(truncated).repaired
    with pytest.raises(InvalidPdfError, match="stamping it writes a repaired copy that can be signed"):
        check_signable(truncated)  # pyHanko would append to the damaged file as it is
    seal = render_seal_pdf(SealImageSpec("DOC ORG", "CONTRACT SEAL"))
    stamped = stamp_seal(truncated, seal, StampSpec(page=1))
    with pikepdf.open(io.BytesIO(stamped)) as pdf:
        assert isinstance(pdf.trailer.get("/Size"), int)
    check_signable(stamped)
    ca, identity = _identity()
    signed = sign_pdf(stamped, make_signer(identity), SignSpec("Seal", 0, (300, 100, 400, 200)))
    (tmp_path / "signed.pdf").write_bytes(signed)
    sound, said = qpdf_check(tmp_path / "signed.pdf")
    assert sound, said
    assert verify_pdf(signed, [ca.certificate]).verdict == "valid"


def test_damaged_metadata_and_trailer_are_refused_before_signing_and_repaired_by_stamping():
    with pikepdf.open(io.BytesIO(corpus_pdf("minimal-document.pdf"))) as pdf:
        pdf.Root.Metadata = pdf.make_stream(b"<x:xmpmeta><unclosed", Type=pikepdf.Name.Metadata,
                                            Subtype=pikepdf.Name.XML)
        pdf.trailer.Info = pikepdf.Name.Oops
        out = io.BytesIO()
        pdf.save(out, fix_metadata_version=False)
    with pytest.raises(InvalidPdfError, match="trailer"):
        check_signable(out.getvalue())
    stamped = stamp_seal(out.getvalue(), render_seal_pdf(SealImageSpec("X")), StampSpec(page=1))
    check_signable(stamped)


def test_a_document_is_walked_once_per_content_and_limit(monkeypatch: pytest.MonkeyPatch):
    """check_content remembers bytes that passed on every page, by their SHA-256 and the limit; other bytes, another
    limit, and a check of some pages only are walked again."""
    from app.pdf import document

    walks: list[int] = []
    real = document.check_document
    monkeypatch.setattr(document, "check_document", lambda pdf, limit=MAX, pages=None: (walks.append(limit),
                                                                                      real(pdf, limit, pages)))
    honest = _bomb(2) + b"\n% a document of its own\n"
    inspect_pdf(honest)
    inspect_pdf(honest)
    stamp_seal(honest, render_seal_pdf(SealImageSpec("X")), StampSpec(page=1))
    assert walks == [MAX]
    inspect_pdf(honest, max_decoded=3 * 2**20)
    assert walks == [MAX, 3 * 2**20]
    with pytest.raises(InvalidPdfError, match="decompression bomb"):
        inspect_pdf(honest, max_decoded=2**20)  # the same bytes, a lower limit: refused, not remembered
    with pytest.raises(InvalidPdfError, match="decompression bomb"):
        inspect_pdf(honest, max_decoded=2**20)
    assert walks == [MAX, 3 * 2**20, 2**20, 2**20]


def test_a_refused_document_is_refused_again():
    bomb = _bomb(100) + b"\n% refused twice\n"
    for _ in range(2):
        with pytest.raises(InvalidPdfError, match="decompression bomb"):
            inspect_pdf(bomb)


def test_a_kept_content_check_spares_the_walk_for_its_bytes_limit_and_rules_only(monkeypatch: pytest.MonkeyPatch):
    """What inspect_pdf vouches for (a ContentCheck, kept by the caller beside the bytes) lets stamp skip the walk in
    a process that never saw the bytes; a check at a lower or higher limit, under other rules, or of other bytes
    does not, and a document refused at the limit in force stays refused."""
    from app.pdf import document

    walks: list[int] = []
    real = document.check_document
    monkeypatch.setattr(document, "check_document", lambda pdf, limit=MAX, pages=None: (
        walks.append(limit) if pages is None else None, real(pdf, limit, pages)))
    plan = StampPlan(seal_pdf=render_seal_pdf(SealImageSpec("X")), seals=(StampSpec(page=1),))

    def fresh(tag: str) -> tuple[bytes, str]:
        data = _bomb(2) + f"\n% kept check: {tag}\n".encode()
        return data, hashlib.sha256(data).hexdigest()

    inspected, digest = fresh("inspected")
    check = inspect_pdf(inspected).check
    assert check == ContentCheck(digest, MAX, CHECK_VERSION) and walks == [MAX]
    monkeypatch.setattr(document, "_checked", OrderedDict())  # another process: the check is all it knows
    stamp(inspected, plan, checked=check)
    assert walks == [MAX]

    for checked in (lambda d: ContentCheck(d, 3 * 2**20), lambda d: ContentCheck(d, 2 * MAX),
                    lambda d: ContentCheck(d, MAX, CHECK_VERSION + 1), lambda d: replace(check, sha256="0" * 64)):
        data, other = fresh(repr(checked(digest)))
        walks.clear()
        stamp(data, plan, checked=checked(other))
        assert walks == [MAX]
    data, other = fresh("refused")
    with pytest.raises(InvalidPdfError, match="decompression bomb"):
        stamp(data, plan, max_decoded=2**20, checked=ContentCheck(other, MAX))
