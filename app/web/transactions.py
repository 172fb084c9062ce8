"""How a request's transaction ends on PostgreSQL: one that wrote nothing is committed, not rolled back.

psycopg forgets every statement a connection prepared when a ROLLBACK passes through it, and closing the session
at the end of a request rolls back whatever it did not commit: every page that only read had PostgreSQL plan each of
its statements anew (the inbox's takes 2 ms to plan and 0.3 ms to run). Committing a transaction that changed
nothing is the same to the database, and the connection keeps its prepared statements, so that from their sixth use
PostgreSQL may run them on a plan it made once.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Connection

from app.extensions import db
from app.models.audit import has_pending

_WROTE = "sealflow.wrote"  # on the connection: a statement other than a plain SELECT ran in its transaction


def _began(connection: Connection) -> None:
    connection.info.pop(_WROTE, None)


def _statement(connection: Connection, cursor: Any, statement: str, *_: Any) -> None:
    # Anything but a plain SELECT may have written (WITH … INSERT included); SELECT … FOR UPDATE only locks, and a
    # commit releases its locks as a rollback does.
    if statement.lstrip()[:6].upper() != "SELECT":
        connection.info[_WROTE] = True


def _end(error: BaseException | None) -> None:
    session = db.session()  # the scoped session's own
    if error is not None or not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted or has_pending(session):
        return  # a commit would write what the request left unsaved: closing the session drops it
    if not session.connection().info.get(_WROTE):
        session.commit()


def init_app(app: Flask) -> None:
    """On PostgreSQL, commit each request's transaction that wrote nothing (before Flask-SQLAlchemy closes the
    session: teardowns run last registered first)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return
        event.listen(db.engine, "begin", _began)
        event.listen(db.engine, "before_cursor_execute", _statement)
    app.teardown_appcontext(_end)
