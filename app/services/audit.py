"""Reading the audit log: checking its chain. (Events are written with app.models.audit.record.)"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.models.audit import GENESIS, digest, events_for

__all__ = ["chain_head", "events_for", "verify_chain"]


def chain_head() -> str:
    """The hash of the newest committed event: what a sealed document records as the log's state when sealed."""
    head = db.session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    return head or GENESIS


def verify_chain() -> list[str]:
    """Problems found in the chain (empty when every event is intact and in order)."""
    problems: list[str] = []
    expected_prev = GENESIS
    for event in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        if event.prev_hash != expected_prev:
            problems.append(f"event {event.id}: does not follow the previous event")
        if digest(event) != event.hash:
            problems.append(f"event {event.id}: content changed after it was written")
        expected_prev = event.hash
    return problems
