"""Reading the audit log: checking its chain, an object's history. (Events are written with app.models.audit.record.)"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from app.models.audit import GENESIS, digest, events_for

__all__ = ["EventsPage", "chain_head", "events_for", "events_page", "verify_chain"]


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


@dataclass(frozen=True)
class EventsPage:
    """One page of an object's events, newest first: the events, the page number (from 1), and how many pages and
    events there are in all."""

    events: list[AuditEvent]
    page: int
    pages: int
    total: int


def events_page(object_type: str, object_id: object, page: int = 1, per_page: int = 20) -> EventsPage:
    """The events about one object, newest first, one page of them (a page past the last is the last)."""
    where = (AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id))
    total = db.session.execute(select(func.count()).select_from(AuditEvent).where(*where)).scalar_one()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    events = db.session.execute(select(AuditEvent).where(*where).order_by(AuditEvent.id.desc())
                                .offset((page - 1) * per_page).limit(per_page)).scalars()
    return EventsPage(list(events), page, pages, total)
