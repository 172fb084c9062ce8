"""Signature authorizations (签字授权): a leader's grant lets the signing job put their signature on an application it
covers without a step of theirs, one use each, exactly as many uses as granted even when jobs race; revoking takes
effect at once, for jobs already queued too; out of scope, the leader decides as before."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from decimal import Decimal

import pikepdf
import pytest
from flask import Flask
from sqlalchemy import func, select

from app.errors import InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.jobs.runner import run_job
from app.models import (
    ApplicationStatus,
    AuthorizationUse,
    DocumentKind,
    HumanTask,
    Job,
    JobStatus,
    SealApplication,
    SealKind,
    SignatureAuthorization,
    TaskState,
)
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.pdf import SealImageSpec, read_evidence
from app.services import accounts, applications, approvals, authorizations, documents, keys, seals, verification
from app.services.applications import ApplicationSpec
from app.services.authorizations import GrantSpec
from tests.conftest import Org, corpus_pdf
from tests.pdf.verifiers import assert_independently_valid

ACTOR = Actor.system("test")


@pytest.fixture
def signature(org: Org) -> int:
    """Leo's personal seal: his signature, which Sales may request."""
    seal = seals.create_seal("Leo's Signature", SealKind.PERSONAL, SealImageSpec("LEO", shape="oval"), ACTOR,
                             org.department)
    seals.set_holders(seal.id, seals.HoldersSpec(owner_id=org.leader.id, department_ids=(org.department.id,)), ACTOR)
    db.session.commit()
    return seal.id


def _grant(org: Org, seal_id: int, uses: int = 3, **scope: object) -> SignatureAuthorization:
    now = utcnow()
    spec = GrantSpec(seal_id=seal_id, valid_from=now - timedelta(minutes=1), valid_until=now + timedelta(days=30),
                     uses=uses, **scope)  # type: ignore[arg-type]
    granted = authorizations.grant(spec, org.leader, Actor.of(org.leader))
    db.session.commit()
    return granted


def _file(org: Org, seal_id: int, document_type: str = "letter", amount: str | None = None) -> SealApplication:
    spec = ApplicationSpec(seal_id=seal_id, document_type=document_type, filename="letter.pdf",
                           content=corpus_pdf("pdflatex-4-pages.pdf"), reason="Sign the letter",
                           process_id="leader_signature", amount=None if amount is None else Decimal(amount))
    application = applications.submit(spec, org.employee, Actor.of(org.employee)).application
    db.session.commit()
    return application


def _approve_levels(org: Org, application: SealApplication) -> None:
    """The policy's one level for a letter: the department head."""
    [task] = [t for t in approvals.inbox(org.head) if t.instance.application_id == application.id]
    approvals.decide(task.id, org.head, "approve", "", Actor.of(org.head))
    db.session.commit()


def _run_jobs(operation: str | None = None) -> list[str]:
    """Run the queued jobs (of one operation) through the worker's own entry point, one by one."""
    outcomes = []
    while True:
        query = select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.id)
        if operation:
            query = query.where(Job.operation == operation)
        job_id = db.session.execute(query.limit(1)).scalar()
        if job_id is None:
            return outcomes
        outcomes.append(run_job(job_id))


def _status(application: SealApplication) -> ApplicationStatus:
    db.session.expire_all()
    return applications.get_application(application.id).status


def _leader_tasks(org: Org) -> list[HumanTask]:
    return [t for t in approvals.inbox(org.leader) if t.element_id == "leader_authorization"]


def test_the_grant_is_a_letter_signed_with_the_leaders_seal(app: Flask, org: Org, signature: int, tmp_path):
    granted = _grant(org, signature, uses=5, document_types=("letter",), amount_ceiling=Decimal("10000"))
    letter = authorizations.letter_of(granted)
    report = verification.verify_document(letter)
    assert report.verdict == "valid" and [s.seal_name for s in report.signatures] == ["Leo's Signature"]
    assert_independently_valid(letter, keys.root_certificate_pem(), tmp_path)
    with pikepdf.open(io.BytesIO(letter)) as pdf:
        assert len(pdf.pages) == 1
    assert granted.uses_left == 5 and granted.scope()["document_types"] == ["letter"]


def test_only_the_owner_who_is_a_leader_grants(app: Flask, org: Org, signature: int):
    now = utcnow()
    spec = GrantSpec(seal_id=signature, valid_from=now, valid_until=now + timedelta(days=1), uses=1)
    with pytest.raises(PermissionDenied, match="only leaders"):
        authorizations.grant(spec, org.head, Actor.of(org.head))
    with pytest.raises(PermissionDenied, match="not your signature"):
        authorizations.grant(GrantSpec(seal_id=org.contract_seal.id, valid_from=now,
                                       valid_until=now + timedelta(days=1), uses=1), org.leader, ACTOR)
    with pytest.raises(InvalidInput, match="number of uses"):
        authorizations.grant(GrantSpec(seal_id=signature, valid_from=now, valid_until=now + timedelta(days=1),
                                       uses=0), org.leader, ACTOR)
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SignatureAuthorization)).scalar() == 0


def test_an_application_the_grant_covers_is_signed_with_no_leader_step_and_uses_one(app: Flask, org: Org,
                                                                                   signature: int):
    granted = _grant(org, signature, uses=3, document_types=("letter",))
    application = _file(org, signature)
    _approve_levels(org, application)
    assert _run_jobs() == ["done", "done"]  # find the authorization, then sign under it

    assert _status(application) == ApplicationStatus.SEALED and _leader_tasks(org) == []
    db.session.refresh(granted)
    assert granted.uses_left == 2
    [use] = authorizations.uses_of(granted)
    assert use.application_id == application.id
    sealed = applications.get_application(application.id).document(DocumentKind.SEALED)
    evidence = read_evidence(documents.read_content(sealed))
    assert evidence is not None and evidence["signature_authorization"]["id"] == granted.id
    assert evidence["signature_authorization"]["letter_sha256"] == granted.letter_sha256
    report = verification.verify_document(documents.read_content(sealed))
    assert report.evidence is not None and report.evidence.covered and report.evidence.content is not None
    assert report.evidence.content.authorization is not None
    assert report.evidence.content.authorization.letter_sha256 == granted.letter_sha256


@pytest.mark.parametrize("scope, document_type, amount", [
    ({"document_types": ("contract",)}, "letter", None),
    ({"amount_ceiling": Decimal("1000")}, "letter", "5000"),
    ({"amount_ceiling": Decimal("1000")}, "letter", None),  # no amount to compare: not covered
    ({"process_ids": ("seal_application",)}, "letter", None),
    ({"department_ids": "other"}, "letter", None),
])
def test_out_of_scope_the_leader_decides_as_before(app: Flask, org: Org, signature: int, scope: dict,
                                                  document_type: str, amount: str | None):
    if scope.get("department_ids") == "other":  # a department that is not the requester's
        scope = {"department_ids": (accounts.get_or_create_department("Office").id,)}
    granted = _grant(org, signature, **scope)
    application = _file(org, signature, document_type, amount)
    _approve_levels(org, application)
    assert _run_jobs() == ["done"]  # only the look-up
    assert len(_leader_tasks(org)) == 1
    db.session.refresh(granted)
    assert granted.uses_left == 3


def test_revoking_stops_a_job_already_queued_and_the_leader_is_asked(app: Flask, org: Org, signature: int):
    granted = _grant(org, signature)
    application = _file(org, signature)
    _approve_levels(org, application)
    assert _run_jobs("find_signature_authorization") == ["done"]
    assert db.session.execute(select(Job.operation).where(Job.status == JobStatus.QUEUED)).scalars().all() == [
        "apply_leader_signature"]
    authorizations.revoke(granted.id, org.leader, Actor.of(org.leader))
    db.session.commit()

    assert _run_jobs() == ["failed"]  # the gate re-checks: revoked
    assert _status(application) == ApplicationStatus.PENDING and len(_leader_tasks(org)) == 1
    db.session.refresh(granted)
    assert granted.uses_left == 3 and authorizations.uses_of(granted) == []
    [task] = _leader_tasks(org)
    approvals.decide(task.id, org.leader, "approve", "", Actor.of(org.leader))
    db.session.commit()
    assert _run_jobs() == ["done"]
    assert _status(application) == ApplicationStatus.SEALED


def test_only_the_leader_revokes(app: Flask, org: Org, signature: int):
    granted = _grant(org, signature)
    with pytest.raises(NotFound):  # someone else's authorization: as if there were none
        authorizations.revoke(granted.id, org.head, Actor.of(org.head))


def test_racing_signing_jobs_use_exactly_the_uses_left(app: Flask, org: Org, signature: int):
    uses = 2
    granted = _grant(org, signature, uses=uses)
    filed = [_file(org, signature) for _ in range(uses + 1)]
    for application in filed:
        _approve_levels(org, application)
    assert _run_jobs("find_signature_authorization") == ["done"] * (uses + 1)  # each found uses left then
    signing = db.session.execute(select(Job.id).where(Job.status == JobStatus.QUEUED)).scalars().all()
    assert len(signing) == uses + 1

    barrier = threading.Barrier(len(signing))
    outcomes: list[str] = []

    def sign(job_id: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(run_job(job_id))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sign, args=(job_id,)) for job_id in signing]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(outcomes) == ["done"] * uses + ["failed"], outcomes
    db.session.expire_all()
    assert db.session.get(SignatureAuthorization, granted.id).uses_left == 0
    assert db.session.execute(select(func.count()).select_from(AuthorizationUse)).scalar() == uses
    statuses = sorted(_status(a).value for a in filed)
    assert statuses == ["pending"] + ["sealed"] * uses  # the one too many waits for the leader
    assert len(_leader_tasks(org)) == 1


def test_a_signing_job_run_twice_uses_the_grant_once(app: Flask, org: Org, signature: int):
    granted = _grant(org, signature)
    application = _file(org, signature)
    _approve_levels(org, application)
    _run_jobs("find_signature_authorization")
    job = db.session.execute(select(Job).where(Job.status == JobStatus.QUEUED)).scalar_one()
    assert run_job(job.id) == "done"
    job.status = JobStatus.QUEUED
    db.session.commit()
    assert run_job(job.id) == "done"
    db.session.refresh(granted)
    assert granted.uses_left == 2 and _status(application) == ApplicationStatus.SEALED


def test_a_substitute_of_the_leader_never_authorizes_the_signature(app: Flask, org: Org, signature: int):
    from app.services import substitutes

    now = utcnow()
    substitutes.name_substitute(org.leader, org.other_approver.id, now - timedelta(hours=1), now + timedelta(days=1),
                                "Trip", Actor.of(org.leader))
    db.session.commit()
    application = _file(org, signature)
    _approve_levels(org, application)
    _run_jobs()
    [task] = [t for t in approvals.inbox(org.other_approver) if t.element_id == "leader_authorization"]
    approvals.decide(task.id, org.other_approver, "approve", "", Actor.of(org.other_approver))
    db.session.commit()
    assert _run_jobs() == ["failed"]
    assert _status(application) == ApplicationStatus.FAILED
    assert db.session.execute(select(HumanTask.state).where(HumanTask.id == task.id)).scalar() == TaskState.COMPLETED
