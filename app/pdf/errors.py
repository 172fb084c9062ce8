"""The exception family of app.pdf; every PDF library error leaves this package as one of these (key and
time-stamp failures leave as app.pki's)."""


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
