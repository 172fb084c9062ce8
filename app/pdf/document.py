"""Reading an uploaded PDF: checks that make a clear refusal instead of a broken output.

What `inspect_pdf` accepts, stamping and signing finish: every entry point runs the same `check_document`
(page tree, form fields, page geometry, decoded-size budget) on the open PDF, and every library error leaves
as an InvalidPdfError whose message holds what the library found, never a Python repr.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pikepdf
from pyhanko.pdf_utils.metadata.xmp_xml import meta_from_xmp, parse_xmp

from app.pdf.budget import MAX_PAGE_DECODED, check_object_streams, check_pages
from app.pdf.errors import EncryptedPdfError, InvalidPdfError, library_message
from app.pdf.filters import Decoded, decode, filter_names
from app.pdf.geometry import frame_of
from app.pdf.structure import check_form_fields, check_page_tree

__all__ = [
    "CHECK_VERSION",
    "MAX_PAGE_DECODED",
    "ContentCheck",
    "PdfInfo",
    "check_content",
    "check_document",
    "check_signable",
    "check_signable_open",
    "count_signatures",
    "inspect_pdf",
    "open_pdf",
    "reading",
    "signed_field_names",
]

MAX_XMP = 4 * 2**20  # bytes of XMP metadata; real packets are a few kilobytes
# Documents whose every page passed `check_document` in this process, by the SHA-256 of their bytes and the limit
# they passed at (see `check_content`); a few hundred digests, oldest forgotten first.
CHECKED_LIMIT = 512
_checked: OrderedDict[tuple[bytes, int], None] = OrderedDict()
_checked_lock = threading.Lock()
# The rules of `check_document`: raise it whenever they change (a new check, a stricter one), so that a ContentCheck
# written under older rules no longer spares the walk.
CHECK_VERSION = 1


@dataclass(frozen=True)
class ContentCheck:
    """Bytes that passed `check_document` on every page: their SHA-256 (hexadecimal), the per-page decoded limit they
    passed at, and the CHECK_VERSION of the rules. A caller may keep it beside the bytes (stored by their SHA-256,
    never changed) and hand it back to `stamp`, which skips the walk when it names the same bytes, limit and rules."""

    sha256: str
    max_decoded: int
    version: int = CHECK_VERSION

    def covers(self, digest: str, max_decoded: int) -> bool:
        """Whether these bytes passed, at this limit, under the current rules (the same limit only: that a check is
        monotonic in its limit is not assumed)."""
        return self.sha256 == digest and self.max_decoded == max_decoded and self.version == CHECK_VERSION


@dataclass(frozen=True)
class PdfInfo:
    """What an upload is: pages, signatures, and whether it was damaged and had to be repaired to be read
    (stamping writes the repaired file, so the seal and signature go onto a sound document); and the record that
    its every page passed `check_document`, for the caller to keep beside the bytes."""

    page_count: int
    signature_count: int
    repaired: bool = False
    repairs: tuple[str, ...] = ()
    check: ContentCheck | None = None


@contextmanager
def reading(doing: str = "the PDF is damaged and cannot be read") -> Iterator[None]:
    """pikepdf's errors (qpdf found damage while reading lazily) as InvalidPdfError: `doing (what qpdf found)`."""
    try:
        yield
    except pikepdf.PasswordError as exc:
        raise EncryptedPdfError("the PDF is protected by a password; upload it without protection") from exc
    except pikepdf.PikepdfError as exc:
        raise InvalidPdfError(f"{doing} ({library_message(exc)})") from exc


def open_pdf(data: bytes, max_pages: int = 2000, max_decoded: int = MAX_PAGE_DECODED) -> pikepdf.Pdf:
    """Open PDF bytes with pikepdf, refusing what SealFlow must not process (compressed object streams that
    expand beyond `max_decoded` are refused before qpdf reads them)."""
    if b"%PDF-" not in data[:1024]:
        raise InvalidPdfError("the file is not a PDF")
    check_object_streams(data, max_decoded)
    with reading():
        pdf = pikepdf.open(io.BytesIO(data))
    if pdf.is_encrypted:
        pdf.close()
        # Saving would silently drop the owner-password protection; refuse rather than weaken it.
        raise EncryptedPdfError("the PDF is encrypted (permission password); upload it without protection")
    try:
        with reading("the PDF page tree is damaged"):
            if not isinstance(pdf.trailer.get("/Root"), pikepdf.Dictionary):
                raise InvalidPdfError("the PDF is damaged and cannot be read (its catalog is not a dictionary)")
            count = len(pdf.pages)
    except InvalidPdfError:
        pdf.close()
        raise
    if count == 0:
        pdf.close()
        raise InvalidPdfError("the PDF has no pages")
    if count > max_pages:
        pdf.close()
        raise InvalidPdfError(f"the PDF has {count} pages; the limit is {max_pages}")
    return pdf


def check_document(pdf: pikepdf.Pdf, max_decoded: int = MAX_PAGE_DECODED, pages: list[int] | None = None) -> None:
    """What every entry point checks on an open PDF: the page tree and form fields, then the geometry and the
    decoded-size budget of the given pages (0-based; default all)."""
    with reading():
        check_page_tree(pdf)
        check_form_fields(pdf)
        every = list(pdf.pages)  # one list: pdf.pages[i] costs 70 µs each
        indexes = pages if pages is not None else list(range(len(every)))
        for index in indexes:
            frame_of(every[index], index + 1)
        check_pages(pdf, indexes, max_decoded)
        _metadata(pdf)  # pikepdf rewrites it when saving


def check_content(data: bytes, pdf: pikepdf.Pdf, max_decoded: int = MAX_PAGE_DECODED,
                  pages: list[int] | None = None, checked: ContentCheck | None = None) -> ContentCheck | None:
    """`check_document` on `pdf`, opened from `data` by the caller, done once per content: bytes whose every page
    passed at this limit in this process (an upload inspected, then stamped; a retried job), or that `checked`
    vouches for (a pass in another process, kept by the caller beside the bytes), pass again without the walk.
    The check is a function of the bytes, the limit and the rules, and the bytes are known by their SHA-256, which
    no one can make other bytes match: what is skipped is exactly what would pass. Returns the ContentCheck of a
    check of every page (None for some pages only)."""
    digest = hashlib.sha256(data).digest()
    key = (digest, max_decoded)
    done = ContentCheck(digest.hex(), max_decoded)
    vouched = checked is not None and checked.covers(done.sha256, max_decoded)
    with _checked_lock:
        if key in _checked or vouched:
            _checked[key] = None
            _checked.move_to_end(key)
            _forget_oldest()
            return done
    check_document(pdf, max_decoded, pages)
    if pages is not None:  # only a check of every page vouches for the document
        return None
    with _checked_lock:
        _checked[key] = None
        _forget_oldest()
    return done


def _forget_oldest() -> None:
    while len(_checked) > CHECKED_LIMIT:
        _checked.popitem(last=False)


def _signed_fields(pdf: pikepdf.Pdf) -> list[str]:
    acroform = pdf.Root.get("/AcroForm")
    fields: Any = acroform.get("/Fields") if isinstance(acroform, pikepdf.Dictionary) else None
    if not isinstance(fields, pikepdf.Array):
        return []
    return [str(field.get("/T")) for field in fields
            if isinstance(field, pikepdf.Dictionary) and field.get("/FT") == "/Sig" and "/V" in field]


def count_signatures(pdf: pikepdf.Pdf) -> int:
    """How many signature fields of an open PDF hold a signature."""
    return len(_signed_fields(pdf))


def signed_field_names(data: bytes, max_pages: int = 2000) -> frozenset[str]:
    """The names of the signature fields that hold a signature, in PDF bytes."""
    with open_pdf(data, max_pages) as pdf, reading():
        return frozenset(_signed_fields(pdf))


def inspect_pdf(data: bytes, max_pages: int = 2000, max_decoded: int = MAX_PAGE_DECODED) -> PdfInfo:
    """Validate PDF bytes (the checks of `check_document`, on every page) and tell their page and signature
    counts, what qpdf had to repair to read them, and the ContentCheck of the pass."""
    with open_pdf(data, max_pages, max_decoded) as pdf:
        check = check_content(data, pdf, max_decoded)
        repairs = tuple(_repair_message(w) for w in pdf.get_warnings())
        return PdfInfo(len(pdf.pages), count_signatures(pdf), bool(repairs), repairs, check)


def check_signable(data: bytes, max_pages: int = 2000) -> None:
    """Refuse, before pyHanko reads it, a PDF that signing cannot update soundly: one qpdf had to repair
    (pyHanko appends to the file as it is; stamping writes a repaired copy), one whose trailer lacks /Size or has
    a wrong /Info or /ID, damaged XMP metadata, a corrupt compressed object stream. (Which fields it may sign in
    is sign_pdf's to say.)"""
    with open_pdf(data, max_pages) as pdf:
        check_signable_open(data, pdf)


def check_signable_open(data: bytes, pdf: pikepdf.Pdf, max_decoded: int = MAX_PAGE_DECODED) -> None:
    """`check_signable`'s checks on `pdf`, opened from `data` by the caller."""
    check_document(pdf, max_decoded, pages=[])
    with reading():
        repairs = [_repair_message(w) for w in pdf.get_warnings()]
        if repairs:
            raise InvalidPdfError(f"the PDF is damaged ({_first_finding(repairs)}); stamping it writes a "
                                  "repaired copy that can be signed")
        trailer = pdf.trailer
        info, ids = trailer.get("/Info", pikepdf.Dictionary()), trailer.get("/ID", pikepdf.Array())
        if not isinstance(trailer.get("/Size"), int) or not isinstance(info, pikepdf.Dictionary) or \
                not isinstance(ids, pikepdf.Array):
            raise InvalidPdfError("the PDF is damaged (its trailer lacks /Size or has a wrong /Info or /ID); "
                                  "stamping it writes a repaired copy that can be signed")
        _check_metadata(pdf)
        if check_object_streams(data):  # pyHanko reads them itself, and fails on a wrong checksum
            raise InvalidPdfError("the PDF is damaged (a compressed object stream is corrupt); stamping it "
                                  "writes a repaired copy that can be signed")


def _metadata(pdf: pikepdf.Pdf) -> Decoded | None:
    """The document's XMP metadata, decoded no further than MAX_XMP: pikepdf rewrites it when stamping saves,
    pyHanko when signing; both decode it whole."""
    stream = pdf.Root.get("/Metadata")
    if not isinstance(stream, pikepdf.Stream):
        return None
    decoded = decode(stream.read_raw_bytes(), filter_names(stream.get("/Filter")), MAX_XMP)
    if decoded.data is None:
        raise InvalidPdfError(f"the PDF's XMP metadata is larger than {MAX_XMP // 2**20} MiB")
    return decoded


def _check_metadata(pdf: pikepdf.Pdf) -> None:
    """pyHanko reads the XMP metadata when it signs: it must read as pyHanko reads it."""
    decoded = _metadata(pdf)
    if decoded is None or decoded.data is None:
        return
    try:
        if decoded.damaged:
            raise ValueError("damaged")
        meta_from_xmp(parse_xmp(io.BytesIO(decoded.data)))
    except (ValueError, LookupError, TypeError) as exc:  # lxml's and the date parser's errors are ValueErrors
        raise InvalidPdfError("the PDF's XMP metadata is damaged; stamping it writes a repaired copy that can be "
                              "signed") from exc


def _repair_message(warning: str) -> str:
    # qpdf names the in-memory stream first ("stream <_io.BytesIO …> (object 3 0, offset 9): "): keep what it found.
    return library_message(warning).split("): ", 1)[-1].strip(" :")


# qpdf's first words when it repairs say only that it does; the next ones say what it found.
_GENERIC = ("file is damaged", "Attempting to reconstruct cross-reference table")


def _first_finding(repairs: list[str]) -> str:
    return next((r for r in repairs if not r.startswith(_GENERIC)), repairs[0])
