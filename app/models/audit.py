"""The audit log: append-only, each event chained to the previous one by a SHA-256 hash.

`record` is the one way an event is written; every layer (services, the workflow engine, jobs) uses it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, ForeignKey, Index, String, Table, insert, select, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model, db
from app.models.timestamps import utcnow
from app.models.user import User


class AuditEvent(Model):
    __tablename__ = "audit_events"
    # An object's history (a seal's page, newest first) is read by this index.
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Unique: two events claiming the same predecessor would fork the chain.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who acts, and from which address; the system (a worker, the CLI) has no user."""

    user_id: int | None
    name: str
    address: str | None = None

    @classmethod
    def of(cls, user: User, address: str | None = None) -> Actor:
        return cls(user.id, user.username, address)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(None, name, None)


def digest(event: AuditEvent) -> str:
    body = {
        "prev": event.prev_hash,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor": event.actor_name,
        "action": event.action,
        "object": [event.object_type, event.object_id],
        "address": event.address,
        "details": event.details,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


_CHAIN_HEAD = "sealflow_audit_chain_head"
_HEAD = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(7203010)")
_SQLITE_LOCK = text("UPDATE audit_events SET id = id WHERE id = 0")
_TABLE = cast(Table, AuditEvent.__table__)
_WRITTEN = [column for column in _TABLE.columns if column.key != "id"]


def _chain_head() -> str | None:
    """The hash of the newest event, with the chain locked until the transaction ends. Once this transaction has
    written an event it holds the lock, so its own newest event is the head: no need to ask the database again."""
    transaction = db.session().get_transaction()
    known = db.session.info.get(_CHAIN_HEAD)
    if known is not None and known[0] is transaction:
        head: str = known[1]
        return head
    # One writer at a time extends the chain. SQLite has one writer anyway, but pysqlite reads outside any
    # transaction until the first write: unless this transaction has written already (and so holds the write
    # lock), a no-op write takes the lock, so that the head read below is still the head at commit.
    # No autoflush: the head is a committed event (this transaction has recorded none yet), and the session's
    # pending changes go with the step's own flush.
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_LOCK)
    elif not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.execute(_SQLITE_LOCK)
    return connection.execute(_HEAD).scalar()


def record(actor: Actor, action: str, object_type: str, object_id: object, **details: Any) -> AuditEvent:
    """Append an event to the chain: written at once, committed by the caller with the change it describes.
    The event returned is not in the session (an event never changes once written)."""
    last = _chain_head()
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor.name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        address=actor.address,
        details=json.loads(json.dumps(details, default=str)),
        prev_hash=last or GENESIS,
    )
    event.hash = digest(event)
    # A plain INSERT on the session's connection: the ORM's unit of work costs several times more per row (a step
    # records several events), and the session's pending changes need not be flushed for it.
    row = {column.key: getattr(event, column.key) for column in _WRITTEN}
    written = db.session.connection().execute(insert(_TABLE), row)
    event.id = written.inserted_primary_key[0]  # type: ignore[index]  # one row: never None
    db.session.info[_CHAIN_HEAD] = (db.session().get_transaction(), event.hash)
    return event


def events_for(object_type: str, object_id: object) -> list[AuditEvent]:
    """The events about one object, oldest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
        .order_by(AuditEvent.id)
    )
    return list(db.session.execute(query).scalars())
