"""Reading an uploaded PDF: checks that make a clear refusal instead of a broken output."""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from typing import Any

import pikepdf

from app.pdf.errors import EncryptedPdfError, InvalidPdfError

__all__ = ["PdfInfo", "check_page_content", "count_signatures", "inspect_pdf", "open_pdf", "signed_field_names"]


MAX_PAGE_CONTENT = 64 * 1024 * 1024  # decoded bytes of one page's content streams


@dataclass(frozen=True)
class PdfInfo:
    """What an upload is: pages, signatures, and whether it was damaged and had to be repaired to be read
    (stamping writes the repaired file, so the seal and signature go onto a sound document)."""

    page_count: int
    signature_count: int
    repaired: bool = False
    repairs: tuple[str, ...] = ()


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
    # qpdf names the in-memory stream first ("stream <_io.BytesIO object at 0x…>: "): only what it found is news.
    text = re.sub(r"^stream <[^>]*>:?\s*", "", str(exc).splitlines()[0]) if str(exc) else ""
    return text[:200] or exc.__class__.__name__


def _signed_fields(pdf: pikepdf.Pdf) -> list[str]:
    acroform = pdf.Root.get("/AcroForm")
    if acroform is None:
        return []
    fields: Any = acroform.get("/Fields", [])
    return [str(field.get("/T")) for field in fields if field.get("/FT") == "/Sig" and "/V" in field]


def count_signatures(pdf: pikepdf.Pdf) -> int:
    """How many signature fields of an open PDF hold a signature."""
    return len(_signed_fields(pdf))


def signed_field_names(data: bytes, max_pages: int = 2000) -> frozenset[str]:
    """The names of the signature fields that hold a signature, in PDF bytes."""
    with open_pdf(data, max_pages) as pdf:
        return frozenset(_signed_fields(pdf))


def inspect_pdf(data: bytes, max_pages: int = 2000) -> PdfInfo:
    """Validate PDF bytes and tell their page and signature counts."""
    with open_pdf(data, max_pages) as pdf:
        repairs = tuple(_repair_message(w) for w in pdf.get_warnings())
        return PdfInfo(len(pdf.pages), count_signatures(pdf), bool(repairs), repairs)


def _repair_message(warning: str) -> str:
    # qpdf names the in-memory stream first ("stream <_io.BytesIO …>: "): keep only what it found.
    return warning.split(": ", 1)[-1][:200]


def check_page_content(page: pikepdf.Page, page_number: int, limit: int = MAX_PAGE_CONTENT) -> None:
    """Refuse a page whose content streams decode to more than `limit` bytes, without ever holding more
    than that in memory (a decompression bomb), before a text or rendering library decodes them."""
    contents = page.obj.get("/Contents")
    streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents] if contents is not None else []
    total = 0
    for stream in streams:
        if not isinstance(stream, pikepdf.Stream):
            continue
        total += _decoded_size(stream, limit - total)
        if total > limit:
            raise InvalidPdfError(f"page {page_number}'s content expands to more than {limit // 2**20} MiB; "
                                  "the file looks like a decompression bomb")


def _decoded_size(stream: pikepdf.Stream, budget: int) -> int:
    filters = stream.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)] if filters else []
    raw = stream.read_raw_bytes()
    if not names:
        return len(raw)
    if names == ["/FlateDecode"]:
        inflater = zlib.decompressobj()
        size, chunk = 0, inflater.decompress(raw, 1 << 20)
        while chunk:
            size += len(chunk)
            if size > budget:
                return size
            chunk = inflater.decompress(inflater.unconsumed_tail, 1 << 20) if inflater.unconsumed_tail else b""
        return size
    # Other filters are rare in page content; qpdf decodes them, bounded by their raw size.
    if len(raw) > budget // 100:
        return budget + 1
    return len(stream.read_bytes())
