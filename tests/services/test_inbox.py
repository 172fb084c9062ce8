"""The inbox page's reading (app/services/inbox.py): the same tasks as approvals.inbox, in its order, split into pages,
with what each is about and for whom it would be decided, in a number of statements that does not grow with the
tasks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from app.errors import InvalidInput
from app.extensions import db
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import applications, approvals, substitutes
from app.services.applications import ApplicationSpec
from app.services.inbox import inbox_page
from tests.conftest import Org, contract_pdf


def _file(org: Org, count: int) -> None:
    for n in range(count):
        applications.submit(ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract",
                                            filename=f"c{n}.pdf", content=contract_pdf(), reason=f"supply {n}",
                                            amount=Decimal(1000 + n)), org.employee, Actor.system("test"))
    db.session.commit()


@contextmanager
def _statements() -> Iterator[list[str]]:
    said: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        said.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield said
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_pages_hold_the_inbox_s_tasks_in_its_order_with_what_each_is_about(app, org: Org) -> None:
    _file(org, 5)
    expected = [t.id for t in approvals.inbox(org.head)]
    assert len(expected) == 5
    pages = [inbox_page(org.head, n, per_page=2) for n in (1, 2, 3)]
    assert [r.task_id for p in pages for r in p.rows] == expected
    assert [(p.total, p.page, p.pages, len(p.rows)) for p in pages] == [(5, 1, 3, 2), (5, 2, 3, 2), (5, 3, 3, 1)]
    assert inbox_page(org.head, 99, per_page=2).page == 3 and inbox_page(org.head, -4, per_page=2).page == 1
    first = pages[0].rows[0]
    task = approvals.inbox(org.head)[0]
    application = approvals.application_of(task)
    assert application is not None
    assert (first.name, first.since, first.application_id, first.requester, first.seal, first.on_behalf_of) == (
        task.name, task.created_at, application.id, "Emma", "Contract Seal", None)
    assert first.deployment_id is None


def test_a_substitute_sees_the_absent_person_s_tasks_marked_as_theirs(app, org: Org) -> None:
    _file(org, 3)
    now = utcnow()
    substitutes.name_substitute(org.head, org.other_approver.id, now - timedelta(hours=1), now + timedelta(days=1),
                                "leave", Actor.of(org.head))
    db.session.commit()
    found = inbox_page(org.other_approver)
    tasks = approvals.inbox(org.other_approver)
    assert [r.task_id for r in found.rows] == [t.id for t in tasks] and len(tasks) == 3
    assert {approvals.acting_for(t, org.other_approver) for t in tasks} == {org.head.id}
    assert {r.on_behalf_of for r in found.rows} == {"Harry"}


def test_nothing_for_an_auditor_and_a_page_size_out_of_bounds_is_refused(app, org: Org) -> None:
    _file(org, 1)
    assert inbox_page(org.auditor).rows == [] and inbox_page(org.auditor).pages == 1
    with pytest.raises(InvalidInput):
        inbox_page(org.head, per_page=0)
    with pytest.raises(InvalidInput):
        inbox_page(org.head, per_page=10_000)


@pytest.mark.parametrize("substituting", [False, True])
def test_the_statements_read_do_not_grow_with_the_tasks(app, org: Org, substituting: bool) -> None:
    reader = org.other_approver if substituting else org.head
    if substituting:
        now = utcnow()
        substitutes.name_substitute(org.head, reader.id, now - timedelta(hours=1), now + timedelta(days=1), "leave",
                                    Actor.of(org.head))
    _file(org, 2)
    db.session.expire_all()
    with _statements() as few:
        assert len(inbox_page(reader).rows) == 2
    _file(org, 6)
    db.session.expire_all()
    with _statements() as many:
        assert len(inbox_page(reader).rows) == 8
    assert len(many) == len(few)
