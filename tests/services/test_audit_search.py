"""Searching the audit log for /audit: by actor (part of the name, any case), action (exact or a family), object and
UTC day; pages newest first; the actions for the filter; who may read; the chain's status without a check."""

from datetime import date, datetime

import pytest
from sqlalchemy import update

from app.errors import InvalidInput, PermissionDenied
from app.extensions import db
from app.models import AuditEvent
from app.models.audit import Actor, record
from app.services import audit
from app.services.audit import EventSearchSpec
from tests.conftest import Org

OLGA = Actor(1, "olga_w", "10.0.0.7")
HARRY = Actor(2, "harry", "10.0.0.8")


def _event(actor: Actor, action: str, object_id: int, at: datetime, object_type: str = "thing") -> int:
    event = record(actor, action, object_type, object_id, note=f"{action} {object_id}")
    db.session.commit()  # written with its transaction: it has its id now
    db.session.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(at=at))
    return event.id


@pytest.fixture
def log(org: Org) -> dict[str, int]:
    """Five events about things (and whatever the organisation's set-up wrote)."""
    ids = {
        "a": _event(OLGA, "task.completed", 1, datetime(2026, 3, 1, 9)),
        "b": _event(HARRY, "task.ready", 1, datetime(2026, 3, 2, 23, 59, 59)),
        "c": _event(OLGA, "task_like.done", 2, datetime(2026, 3, 3, 0, 0)),
        "d": _event(HARRY, "thing.made", 2, datetime(2026, 3, 4, 12)),
        "e": _event(OLGA, "task.completed", 3, datetime(2026, 3, 5, 8), object_type="other_thing"),
    }
    db.session.commit()
    return ids


def _ids(spec: EventSearchSpec, org: Org) -> list[int]:
    return [e.id for e in audit.search_events(spec, org.auditor).events]


def test_each_criterion_narrows_the_log(org: Org, log: dict[str, int]):
    assert _ids(EventSearchSpec(actor="LGA_"), org) == [log["e"], log["c"], log["a"]]  # any case; "_" is no wildcard
    assert _ids(EventSearchSpec(actor="lga%"), org) == []
    assert _ids(EventSearchSpec(action="task.completed"), org) == [log["e"], log["a"]]
    assert _ids(EventSearchSpec(action="task."), org) == [log["e"], log["b"], log["a"]]  # a family, not task_like
    assert _ids(EventSearchSpec(action="task"), org) == []  # without the dot: an exact action
    assert _ids(EventSearchSpec(object_type="thing", object_id="2"), org) == [log["d"], log["c"]]
    assert _ids(EventSearchSpec(object_id="1", object_type="thing", actor="harry"), org) == [log["b"]]
    # Days are whole UTC days, both ends included.
    assert _ids(EventSearchSpec(start=date(2026, 3, 2), end=date(2026, 3, 4)), org) == [log["d"], log["c"], log["b"]]
    assert _ids(EventSearchSpec(start=date(2026, 3, 5), action="task."), org) == [log["e"]]
    assert _ids(EventSearchSpec(end=date(2026, 3, 1), object_type="thing"), org) == [log["a"]]


def test_pages_go_newest_first_and_a_page_past_the_last_is_the_last(org: Org, log: dict[str, int]):
    spec = EventSearchSpec(object_type="thing", per_page=2)
    first = audit.search_events(spec, org.auditor)
    assert (first.total, first.pages, first.page) == (4, 2, 1)
    assert [e.id for e in first.events] == [log["d"], log["c"]]
    last = audit.search_events(EventSearchSpec(object_type="thing", per_page=2, page=99), org.seal_admin)
    assert last.page == 2 and [e.id for e in last.events] == [log["b"], log["a"]]
    nothing = audit.search_events(EventSearchSpec(actor="nobody"), org.auditor)
    assert (nothing.total, nothing.pages, nothing.page, nothing.events) == (0, 1, 1, [])


@pytest.mark.parametrize(("spec", "message"), [
    (EventSearchSpec(per_page=201), "1 to 200"), (EventSearchSpec(per_page=0), "1 to 200"),
    (EventSearchSpec(page=0), "numbered from 1"),
    (EventSearchSpec(start=date(2026, 3, 5), end=date(2026, 3, 4)), "ends before it starts"),
    (EventSearchSpec(end=date(9999, 12, 31)), "out of range"),
    (EventSearchSpec(actor="a\x00b"), "NUL"), (EventSearchSpec(object_id="1" * 201), "longer than 200"),
])
def test_a_search_that_cannot_run_says_why(org: Org, spec: EventSearchSpec, message: str):
    with pytest.raises(InvalidInput, match=message):
        audit.search_events(spec, org.auditor)


def test_only_auditors_and_seal_administrators_read_the_log(org: Org):
    assert audit.may_read_log(org.auditor) and audit.may_read_log(org.seal_admin)
    for user in (org.employee, org.head, org.other_approver, org.leader):
        assert not audit.may_read_log(user)
        with pytest.raises(PermissionDenied):
            audit.search_events(EventSearchSpec(), user)


def test_the_actions_for_the_filter_are_each_once_in_order(org: Org, log: dict[str, int]):
    actions = audit.distinct_actions()
    assert actions == sorted(set(actions))
    assert {"task.completed", "task.ready", "task_like.done", "thing.made"} <= set(actions)


def test_the_status_counts_the_chain_and_what_waits_without_checking(org: Org, log: dict[str, int]):
    waiting = audit.chain_status()
    assert waiting.length == 0 and waiting.unchained >= 5 and waiting.anchor is None
    assert waiting.unchained_since is not None
    chained = audit.extend_chain()
    db.session.commit()
    record(OLGA, "thing.made", "thing", 9)
    db.session.commit()
    status = audit.chain_status()
    assert (status.length, status.unchained) == (chained, 1)
