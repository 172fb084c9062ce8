"""The exception family of app.pki; every key, certificate, token and time-stamp failure leaves as one of these."""


class PkiError(Exception):
    """Base class; the message is meant for the operator who configured the key, token or authority."""


class SigningError(PkiError):
    """A signing key cannot be used (wrong secret, token away, certificate not matching), or signing failed."""


class TimeStampError(PkiError):
    """A time-stamp could not be obtained or the time-stamp authority is misconfigured."""
