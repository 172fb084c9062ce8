"""The exception family of app.pdf; every PDF library error leaves this package as one of these (key and
time-stamp failures leave as app.pki's)."""

from __future__ import annotations

import re

__all__ = [
    "AlreadySignedError",
    "EncryptedPdfError",
    "InvalidPdfError",
    "PdfError",
    "SealImageError",
    "SignatureFieldError",
    "library_message",
]


class PdfError(Exception):
    """Base class; the message is meant for the person who supplied the input."""


class InvalidPdfError(PdfError):
    """The bytes are not a PDF SealFlow can read (not a PDF, damaged, too large)."""


class EncryptedPdfError(PdfError):
    """The PDF is encrypted; SealFlow does not remove encryption."""


class AlreadySignedError(PdfError):
    """The change asked for (stamping, a new field, another signature) would invalidate a signature the PDF carries,
    or a certification signature forbids it."""


class SignatureFieldError(PdfError):
    """The signature field asked for cannot be signed: it is signed already, it is another kind of field, or it is on
    no page."""


class SealImageError(PdfError):
    """A seal image could not be drawn or read."""


# pyHanko names objects by their repr, e.g. "Reference(idnum=24, generation=0)".
_REFERENCE = re.compile(r"\b(?:Reference|IndirectObject)\(idnum=(\d+), generation=\d+\)")
# qpdf names the stream it reads, e.g. "stream <_io.BytesIO object at 0x7f69…>: ".
_STREAM = re.compile(r"\(?\b(?:stream|file)?\s*<[^<>]*\bat 0x[0-9a-fA-F]+>\)?:?|<[^<>]* object at 0x[0-9a-fA-F]+>")
MAX_MESSAGE = 200


def library_message(exc: BaseException | str) -> str:
    """A PDF library's error (or qpdf's warning) as a phrase for a person: its first line, no Python reprs, at
    most MAX_MESSAGE characters."""
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else None
        return f"the entry {key} is missing" if isinstance(key, str) and key.startswith("/") else "an entry is missing"
    if isinstance(exc, (TypeError, AttributeError, IndexError)):
        return "an object has the wrong type or size"
    lines = str(exc).strip().splitlines()
    text = _STREAM.sub(" ", _REFERENCE.sub(lambda match: f"object {match[1]}", lines[0] if lines else ""))
    text = " ".join(text.split()).strip(" :")
    if not text:
        return "the library gave no reason"
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."
