"""The directory package's errors: ldap3's exceptions leave the package as one of these."""


class DirectoryError(Exception):
    """The directory answered something SealFlow cannot use: a refused bind of its own account, a base that does
    not exist, a filter the server rejects. Its settings are likely wrong; the message says what the server said."""


class DirectoryUnavailableError(DirectoryError):
    """The directory could not be reached, did not answer in time, or its TLS certificate was not trusted."""
