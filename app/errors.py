"""SealFlow's domain exceptions. Raised by services; turned into HTTP answers in app/web/errors.py."""


class DomainError(Exception):
    """Base of every error SealFlow reports to a user; `message` is safe to show."""

    status = 400
    # Whether trying again later may succeed (a service that was away); a job retries only such failures.
    transient = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedRequest(DomainError):
    """A request SealFlow cannot read at all (a body that is not JSON, or not text, or nested without end)."""

    status = 400


class NotFound(DomainError):
    status = 404


class PermissionDenied(DomainError):
    status = 403


class InvalidTransition(DomainError):
    """The object is not in a state that allows this action (approving twice, for example)."""

    status = 409


class PolicyViolation(DomainError):
    """The request breaks a rule of the seal registry (a suspended seal, for example)."""

    status = 422


class InvalidDocument(DomainError):
    """An uploaded document SealFlow cannot accept."""

    status = 422


class InvalidInput(DomainError):
    """A form or API value that is missing or wrong."""

    status = 422


class ExportTooLarge(InvalidInput):
    """A search finds more rows than one export holds."""

    def __init__(self, message: str, total: int, limit: int) -> None:
        super().__init__(message)
        self.total, self.limit = total, limit


class SigningFailed(DomainError):
    """The signing key, token or timestamp authority did not answer as it should."""

    status = 500
    transient = True


class DirectoryUnavailable(DomainError):
    """The directory (LDAP) could not be reached, did not answer in time, or was not trusted."""

    status = 503
    transient = True


class DirectoryRefused(DomainError):
    """The directory answered something SealFlow cannot use (a refused bind of SealFlow's own account, a base that
    does not exist, a filter it rejects): its settings are likely wrong."""

    status = 502
