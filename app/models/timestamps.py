"""The one clock the models use."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


def utcnow() -> datetime:
    """Now in UTC, without tzinfo: SQLite keeps no zone, so every stored time is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class UtcNow(FunctionElement[datetime]):
    """The database's own clock as utcnow() keeps times (naive UTC), for server defaults: rows SQLAlchemy inserts
    without naming the column (an association table's) get the time they were written."""

    type = DateTime()
    inherit_cache = True
    name = "utcnow"


@compiles(UtcNow)
def _utcnow_default(element: UtcNow, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(UtcNow, "sqlite")
def _utcnow_sqlite(element: UtcNow, compiler: Any, **kw: Any) -> str:
    return "strftime('%Y-%m-%d %H:%M:%f', 'now')"  # UTC, to the millisecond (CURRENT_TIMESTAMP: the second)


@compiles(UtcNow, "postgresql")
def _utcnow_postgresql(element: UtcNow, compiler: Any, **kw: Any) -> str:
    # The statement's time in UTC whatever the session's TimeZone (now() would be the transaction's start).
    return "timezone('utc', statement_timestamp())"
