import io
import resource
import zlib

import pikepdf
import pytest

from app.pdf import EncryptedPdfError, InvalidPdfError, inspect_pdf
from app.pdf.budget import check_pages
from tests.conftest import CORPUS, corpus_pdf

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
