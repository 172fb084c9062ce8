"""The audit log: append-only, each event chained to the previous one by a SHA-256 hash.

`record` is the one way an event is written; every layer (services, the workflow engine, jobs) uses it. Chaining
happens after commit (app/services/audit.py), so that approvals of different applications never wait for each other.

A transaction's events are written together, in one statement: before it commits, or before the session runs a
statement that may read them; they are dropped with it when it ends without committing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, Row, String, Table, insert, select, text
from sqlalchemy import event as sqla_event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, SessionTransaction, mapped_column
from sqlalchemy.sql import Executable, Select
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.util import find_tables

from app.extensions import Model, db
from app.models.timestamps import utcnow
from app.models.user import User
from tools.verify_audit import GENESIS, event_digest


class AuditEvent(Model):
    """One event. Written unchained (seq, prev_hash and hash empty) with the change it describes, so that writers never
    wait for each other; `app.services.audit.extend_chain` links committed events into the chain afterwards."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # An object's history (a seal's page, newest first) is read by this index.
        Index("ix_audit_events_object", "object_type", "object_id", "id"),
        # The events still to chain, found without reading the chained ones.
        Index("ix_audit_events_unchained", "id", postgresql_where=text("seq IS NULL"),
              sqlite_where=text("seq IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The position in the chain (1, 2, 3 …) and the links, set once when the event is chained. Unique: two events
    # claiming one position or one predecessor would fork the chain.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class AuditAnchor(Model):
    """The chain's head at a position, time-stamped by a TSA (an RFC 3161 token whose imprint is the head hash): the
    log cannot later lose events up to there, or be recomputed, without the anchor showing it."""

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    token: Mapped[bytes] = mapped_column(LargeBinary)


__all__ = ["GENESIS", "Actor", "AuditAnchor", "AuditEvent", "as_record", "digest", "events_for", "record"]


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


def as_record(event: AuditEvent | Row[Any]) -> dict[str, Any]:
    """The event (or a row of its table) as the audit bundle carries it (one line of events.jsonl) and as its hash
    covers it."""
    return {"seq": event.seq, "id": event.id, "at": event.at.isoformat(timespec="microseconds"),
            "actor_id": event.actor_id, "actor": event.actor_name, "action": event.action,
            "object": [event.object_type, event.object_id], "address": event.address, "details": event.details,
            "prev": event.prev_hash, "hash": event.hash}


def digest(event: AuditEvent) -> str:
    """The event's hash, computed as the offline verifier computes it (one definition for both)."""
    return event_digest(as_record(event))


_TABLE = cast(Table, AuditEvent.__table__)
_WRITTEN = [column for column in _TABLE.columns if column.key not in ("id", "seq", "prev_hash", "hash")]
# Built once: a step records several events. In the order given, so that each event learns its id.
_INSERT_RETURNING = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)


_PENDING = "sealflow.audit_events"  # the session's events not yet written


def record(actor: Actor, action: str, object_type: str, object_id: object, **details: Any) -> AuditEvent:
    """Keep an event, written and committed with the change it describes (see the module's docstring); it joins the
    chain once committed. The event returned is not in the session (an event never changes once written); it has its
    id once written."""
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor.name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        address=actor.address,
        details=json.loads(json.dumps(details, default=str)),
    )
    db.session.connection()  # the transaction the event belongs to has begun: its end takes the event along
    db.session.info.setdefault(_PENDING, []).append(event)
    return event


def has_pending(session: Session) -> bool:
    """Whether the session holds events its transaction has not written yet."""
    return bool(session.info.get(_PENDING))


def _write_pending(session: Session) -> None:
    # Plain rows, not the ORM's unit of work: it costs several times more per row, and a step records several.
    events = session.info.pop(_PENDING, None)
    if events:
        rows = [{column.key: getattr(event, column.key) for column in _WRITTEN} for event in events]
        ids = session.connection().execute(_INSERT_RETURNING, rows).scalars().all()
        for event, event_id in zip(events, ids, strict=True):
            event.id = event_id


def _before_statement(state: ORMExecuteState) -> None:
    if state.session.info.get(_PENDING) and _may_read_events(state.statement):
        _write_pending(state.session)


def _may_read_events(statement: Executable) -> bool:
    """Whether the statement may see the audit log: it names its table (any statement but a plain SELECT, INSERT,
    UPDATE or DELETE, such as text, counts as naming it)."""
    if not isinstance(statement, Select | UpdateBase):
        return True
    return _TABLE in find_tables(statement, check_columns=True, include_aliases=True, include_crud=True)


def _after_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed: its events go with it (a commit wrote them)
        session.info.pop(_PENDING, None)


sqla_event.listen(Session, "before_commit", _write_pending)
sqla_event.listen(Session, "do_orm_execute", _before_statement)
sqla_event.listen(Session, "after_transaction_end", _after_transaction)


def events_for(object_type: str, object_id: object) -> list[AuditEvent]:
    """The events about one object, oldest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
        .order_by(AuditEvent.id)
    )
    return list(db.session.execute(query).scalars())
