"""The one clock the models use."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now in UTC, without tzinfo: SQLite keeps no zone, so every stored time is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)
