import pytest

from app.pdf import EncryptedPdfError, InvalidPdfError, inspect_pdf
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
