"""Deciding steps (app/services/approvals.py): no puppet accounts. A seal administrator who set a person's password
(by creating the account or resetting it) could have logged in as them and chosen the password they have now, so
that person never decides the administrator's requests until another administrator resets it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.errors import PermissionDenied
from app.extensions import db
from app.models import AuditEvent, RoleName, SealApplication, TaskState, User
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import accounts, applications, approvals, people, substitutes
from app.services.applications import ApplicationSpec
from tests.conftest import PASSWORD, Org, corpus_pdf

PUPPET = "the requester set this account's password"


@pytest.fixture
def sam(org: Org) -> User:
    """The seal administrator, who is also an employee of Sales (harry, its head, approves his applications)."""
    user = accounts.save_user("sam", "Sam", PASSWORD, {RoleName.EMPLOYEE, RoleName.SEAL_ADMIN}, org.department)
    db.session.commit()
    return user


@pytest.fixture
def nora(org: Org) -> User:
    """A second seal administrator."""
    user = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    db.session.commit()
    return user


def _file(requester: User, seal_id: int) -> SealApplication:
    spec = ApplicationSpec(seal_id=seal_id, document_type="letter", filename="doc.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Sign the letter")
    application = applications.submit(spec, requester, Actor.of(requester)).application
    db.session.commit()
    return application


def _waiting(application: SealApplication) -> int:
    [task] = [t for t in applications.approval_steps(applications.get_application(application.id))
              if t.state == TaskState.READY]
    return task.id


def _refusals() -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == "task.decision_refused")
                                   .order_by(AuditEvent.id)).scalars())


def _try(task_id: int, user: User) -> None:
    """Decide as a page does: a refusal is rolled back and recorded."""
    try:
        approvals.decide(task_id, user, "approve", "fine", Actor.of(user))
    except PermissionDenied as exc:
        db.session.rollback()
        approvals.record_refusal(task_id, user, exc.message, Actor.of(user))
        db.session.commit()
        raise
    db.session.commit()


def test_whom_an_administrator_reset_never_decides_their_application_until_another_resets_it(org: Org, sam, nora):
    harry = org.head
    temporary = people.reset_password(harry.id, None, Actor.of(sam))
    db.session.commit()
    assert harry.password_set_by_id == sam.id
    application = _file(sam, org.contract_seal.id)
    task_id = _waiting(application)
    assert task_id in {t.id for t in approvals.inbox(harry)}  # shown, with the reason it cannot be decided
    assert PUPPET in (approvals.decision_refusal(harry, approvals.get_task(task_id, harry)) or "")
    with pytest.raises(PermissionDenied, match=PUPPET):
        _try(task_id, harry)
    [refused] = _refusals()
    assert refused.details["user_id"] == harry.id and PUPPET in refused.details["reason"]

    # The person's own new password was chosen in a session the administrator could have opened: still refused.
    accounts.change_password(harry, temporary, "harry's very own phrase", Actor.of(harry))
    db.session.commit()
    assert harry.password_set_by_id == sam.id
    with pytest.raises(PermissionDenied, match=PUPPET):
        _try(task_id, harry)

    # Another administrator's reset ends it; an administrator who resets their own password keeps their setter.
    people.reset_password(harry.id, None, Actor.of(nora))
    people.reset_password(nora.id, None, Actor.of(nora))
    db.session.commit()
    assert (harry.password_set_by_id, nora.password_set_by_id) == (nora.id, None)
    assert approvals.can_decide(harry, approvals.get_task(task_id, harry))
    _try(task_id, harry)
    assert applications.get_application(application.id).status.value == "sealing"


def test_whom_an_administrator_created_never_decides_their_application(org: Org, sam):
    """The same for an account the administrator created (its head decides the administrator's applications)."""
    spec = people.UserSpec("hugo", "Hugo", org.department.id, frozenset({RoleName.EMPLOYEE, RoleName.APPROVER}))
    hugo, _ = people.create_user(spec, None, Actor.of(sam))
    org.department.head = hugo
    db.session.commit()
    assert hugo.password_set_by_id == sam.id
    task_id = _waiting(_file(sam, org.contract_seal.id))
    with pytest.raises(PermissionDenied, match=PUPPET):
        _try(task_id, hugo)
    # Other people's applications are theirs to decide as before.
    assert approvals.can_decide(hugo, approvals.get_task(_waiting(_file(org.employee, org.contract_seal.id)), hugo))


def test_nobody_decides_for_an_absent_person_whose_password_the_requester_set(org: Org, sam):
    harry, olga = org.head, org.other_approver
    people.reset_password(harry.id, None, Actor.of(sam))
    now = utcnow()
    substitutes.name_substitute(harry, olga.id, now - timedelta(hours=1), now + timedelta(days=2), "Trip",
                                Actor.of(harry))
    db.session.commit()
    task_id = _waiting(_file(sam, org.contract_seal.id))
    assert approvals.acting_for(approvals.get_task(task_id, olga), olga) == harry.id
    with pytest.raises(PermissionDenied, match="the requester set the password of Harry"):
        _try(task_id, olga)
