"""Reading an uploaded PDF: checks that make a clear refusal instead of a broken output."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pikepdf

from app.pdf.errors import EncryptedPdfError, InvalidPdfError

__all__ = ["PdfInfo", "count_signatures", "inspect_pdf", "open_pdf"]


@dataclass(frozen=True)
class PdfInfo:
    page_count: int
    signature_count: int


def open_pdf(data: bytes, max_pages: int = 2000) -> pikepdf.Pdf:
    """Open PDF bytes with pikepdf, refusing what SealFlow must not process."""
    if b"%PDF-" not in data[:1024]:
        raise InvalidPdfError("the file is not a PDF")
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise EncryptedPdfError("the PDF is protected by a password; upload it without protection") from exc
    except pikepdf.PdfError as exc:
        raise InvalidPdfError(f"the PDF is damaged and cannot be read ({_short(exc)})") from exc
    if pdf.is_encrypted:
        pdf.close()
        # Saving would silently drop the owner-password protection; refuse rather than weaken it.
        raise EncryptedPdfError("the PDF is encrypted (permission password); upload it without protection")
    try:
        count = len(pdf.pages)
    except pikepdf.PdfError as exc:
        pdf.close()
        raise InvalidPdfError(f"the PDF page tree is damaged ({_short(exc)})") from exc
    if count == 0:
        pdf.close()
        raise InvalidPdfError("the PDF has no pages")
    if count > max_pages:
        pdf.close()
        raise InvalidPdfError(f"the PDF has {count} pages; the limit is {max_pages}")
    return pdf


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__


def count_signatures(pdf: pikepdf.Pdf) -> int:
    acroform = pdf.Root.get("/AcroForm")
    if acroform is None:
        return 0
    return sum(1 for field in acroform.get("/Fields", []) if field.get("/FT") == "/Sig" and "/V" in field)


def inspect_pdf(data: bytes, max_pages: int = 2000) -> PdfInfo:
    """Validate PDF bytes and tell their page and signature counts."""
    with open_pdf(data, max_pages) as pdf:
        return PdfInfo(page_count=len(pdf.pages), signature_count=count_signatures(pdf))
