"""The exception family of app.pdf; every PDF library error leaves this package as one of these (key and
time-stamp failures leave as app.pki's)."""

import re

__all__ = ["AlreadySignedError", "EncryptedPdfError", "InvalidPdfError", "PdfError", "SealImageError",
           "library_detail"]

# qpdf names the stream it reads ("stream <_io.BytesIO object at 0x…>"); Python reprs mean nothing to a user.
_REPR = re.compile(r"\s*\(?\b(?:stream|file)?\s*<[^<>]*\bat 0x[0-9a-fA-F]+>\)?:?\s*|<[^<>]* object at 0x[0-9a-fA-F]+>")


class PdfError(Exception):
    """Base class; the message is meant for the person who supplied the input."""


class InvalidPdfError(PdfError):
    """The bytes are not a PDF SealFlow can read (not a PDF, damaged, too large)."""


class EncryptedPdfError(PdfError):
    """The PDF is encrypted; SealFlow does not remove encryption."""


class AlreadySignedError(PdfError):
    """Stamping would invalidate the signatures the PDF already carries."""


class SealImageError(PdfError):
    """A seal image could not be drawn or read."""


def library_detail(exc: BaseException | str) -> str:
    """The first line of what a library said, without Python reprs, at most 200 characters."""
    lines = str(exc).strip().splitlines()
    text = _REPR.sub(" ", lines[0]).strip(" :") if lines else ""
    return text[:200] or (exc.__class__.__name__ if isinstance(exc, BaseException) else "")
