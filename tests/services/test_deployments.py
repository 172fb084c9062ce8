"""Dual control of deployments: a diagram takes effect only once a second seal administrator approves it, through
the shipped deployment_approval process; the request and the decision are audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.errors import InvalidInput, InvalidTransition, PermissionDenied
from app.extensions import db
from app.models import (
    AuditEvent,
    DeploymentStatus,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    RoleName,
    TaskState,
    User,
)
from app.models.audit import Actor
from app.services import accounts, approvals, deployments, flows, people
from app.workflow import InvalidDefinition, latest_definition, tasks_of
from tests.conftest import PASSWORD, Org, work_off_queue

SHIPPED = Path(__file__).resolve().parents[2] / "bpmn" / "seal_application.bpmn"
ACTOR = Actor.system("test")


def _version_two() -> bytes:
    return SHIPPED.read_bytes().replace(b'name="Approvals the seal policy requires"',
                                        b'name="Approvals the policy requires (v2)"')


@pytest.fixture
def nora(org: Org) -> User:
    """A second seal administrator."""
    user = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    db.session.commit()
    return user


def _review_task(request_id: int) -> int:
    found = deployments.get_request(request_id)
    task_id = deployments.review_task_id(found)
    assert task_id is not None
    return task_id


def _actions(request_id: int) -> list[str]:
    return list(db.session.execute(select(AuditEvent.action).where(
        AuditEvent.object_type == "deployment_request", AuditEvent.object_id == str(request_id))
        .order_by(AuditEvent.id)).scalars())


def test_a_deployment_waits_for_a_second_seal_administrator_then_becomes_the_newest_version(app, org: Org, nora):
    sam = org.seal_admin
    request = deployments.request_process(_version_two(), "seal_application.bpmn", "rename the policy step", sam,
                                          Actor.of(sam))
    db.session.commit()
    assert request.status == DeploymentStatus.PENDING
    assert latest_definition("seal_application").version == 1  # nothing changed yet

    task_id = _review_task(request.id)
    assert task_id not in {t.id for t in approvals.inbox(sam)}  # never offered to the one who asked
    assert task_id in {t.id for t in approvals.inbox(nora)}
    with pytest.raises(PermissionDenied, match="own request"):
        approvals.decide(task_id, sam, "approve", "", Actor.of(sam))
    db.session.rollback()

    approvals.decide(task_id, nora, "approve", "looks right", Actor.of(nora))
    db.session.commit()
    work_off_queue(app)  # the approval process's service task deploys it
    db.session.expire_all()

    request = deployments.get_request(request.id)
    newest = latest_definition("seal_application")
    assert request.status == DeploymentStatus.DEPLOYED and request.deployed_version == newest.version == 2
    assert newest.version == 2 and newest.comment == "rename the policy step"
    assert (newest.deployed_by_id, newest.approved_by_id) == (sam.id, nora.id)
    assert request.decided_by_id == nora.id
    assert _actions(request.id) == ["deployment.requested", "deployment.deployed"]
    instance = db.session.get(ProcessInstance, request.instance_id)
    assert instance is not None and instance.status == InstanceStatus.COMPLETED and instance.outcome == "deployed"


def test_a_rejected_deployment_deploys_nothing(app, org: Org, nora):
    sam = org.seal_admin
    request = deployments.request_process(_version_two(), "seal_application.bpmn", "rename", sam, Actor.of(sam))
    db.session.commit()
    with pytest.raises(InvalidInput, match="say why"):
        approvals.decide(_review_task(request.id), nora, "reject", " ", Actor.of(nora))
    db.session.rollback()
    approvals.decide(_review_task(request.id), nora, "reject", "the old name is the policy's word", Actor.of(nora))
    db.session.commit()
    work_off_queue(app)
    db.session.expire_all()
    request = deployments.get_request(request.id)
    assert request.status == DeploymentStatus.REJECTED and request.decided_by_id == nora.id
    assert request.outcome == "the old name is the policy's word"
    assert latest_definition("seal_application").version == 1
    assert _actions(request.id) == ["deployment.requested", "deployment.rejected"]


def test_the_requester_withdraws_a_waiting_request_and_its_task_leaves_the_inbox(app, org: Org, nora):
    sam = org.seal_admin
    request = deployments.request_process(_version_two(), "seal_application.bpmn", "rename", sam, Actor.of(sam))
    db.session.commit()
    with pytest.raises(PermissionDenied):
        deployments.withdraw(request.id, nora, Actor.of(nora))
    deployments.withdraw(request.id, sam, Actor.of(sam))
    db.session.commit()
    assert deployments.get_request(request.id).status == DeploymentStatus.WITHDRAWN
    assert approvals.inbox(nora) == []
    assert all(t.state == TaskState.CANCELLED for t in tasks_of(request.instance_id))
    with pytest.raises(InvalidTransition):
        deployments.withdraw(request.id, sam, Actor.of(sam))


def test_what_cannot_be_requested_is_refused_and_leaves_nothing_behind(app, org: Org, nora):
    sam = org.seal_admin
    before = db.session.execute(select(ProcessDefinition.id)).scalars().all()
    with pytest.raises(InvalidInput, match="comment"):
        deployments.request_process(_version_two(), "x.bpmn", "  ", sam, Actor.of(sam))
    with pytest.raises(PermissionDenied):
        deployments.request_process(_version_two(), "x.bpmn", "why", org.employee, Actor.of(org.employee))
    with pytest.raises(InvalidInput, match="already has this content"):
        deployments.request_process(SHIPPED.read_bytes(), "x.bpmn", "again", sam, Actor.of(sam))
    broken = _version_two().replace(b'sourceRef="policy_decision" targetRef="rejected"',
                                    b'sourceRef="policy_decision" targetRef="nowhere"')
    with pytest.raises(InvalidDefinition):
        deployments.request_process(broken, "x.bpmn", "why", sam, Actor.of(sam))
    approval = (Path(flows.SHIPPED_DIR) / "deployment_approval.bpmn").read_bytes().replace(
        b'value="role:seal_admin"', b'value="data:requester_id"')
    with pytest.raises(PermissionDenied, match="dual control"):
        deployments.request_process(approval, "x.bpmn", "no more second pair of eyes", sam, Actor.of(sam))
    db.session.rollback()
    assert deployments.list_requests() == []
    assert db.session.execute(select(ProcessDefinition.id)).scalars().all() == before

    deployments.request_process(_version_two(), "x.bpmn", "first", sam, Actor.of(sam))
    db.session.commit()
    with pytest.raises(InvalidTransition, match="still waits"):
        deployments.request_process(_version_two().replace(b"(v2)", b"(v3)"), "x.bpmn", "second", nora,
                                    Actor.of(nora))


def test_an_approved_request_is_deployed_once_even_if_its_job_runs_twice(app, org: Org, nora):
    sam = org.seal_admin
    request = deployments.request_process(_version_two(), "x.bpmn", "rename", sam, Actor.of(sam))
    db.session.commit()
    approvals.decide(_review_task(request.id), nora, "approve", "", Actor.of(nora))
    db.session.commit()
    work_off_queue(app)
    again = deployments.carry_out({"deployment_id": request.id}, Actor.system("worker"))
    db.session.commit()
    assert again == {"deployed": True}
    assert latest_definition("seal_application").version == 2


def test_the_database_keeps_a_second_waiting_request_for_the_same_process_out(app, org: Org, nora):
    """Two requests made at the same instant both pass the service's check; the partial unique index stops one."""
    from sqlalchemy.exc import IntegrityError

    from app.models import DeploymentKind, DeploymentRequest

    sam = org.seal_admin
    first = deployments.request_process(_version_two(), "x.bpmn", "rename", sam, Actor.of(sam))
    db.session.commit()
    twin = DeploymentRequest(kind=DeploymentKind.PROCESS, subject=first.subject, name="", source_name="x.bpmn",
                             content="x", content_hash="0" * 64, comment="at the same instant",
                             requested_by_id=nora.id)
    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    deployments.withdraw(first.id, sam, Actor.of(sam))
    db.session.commit()
    db.session.add(DeploymentRequest(kind=DeploymentKind.PROCESS, subject=first.subject, name="",
                                     source_name="x.bpmn", content="x", content_hash="0" * 64, comment="later",
                                     requested_by_id=nora.id))
    db.session.flush()  # a withdrawn request no longer counts


def test_a_seal_administrator_whose_password_the_requester_set_does_not_approve_until_another_resets_it(app, org: Org,
                                                                                                        nora):
    """A puppet: sam reset nora's password, so could have logged in as her (her own change since does not help)."""
    sam = org.seal_admin
    temporary = people.reset_password(nora.id, None, Actor.of(sam))
    accounts.change_password(nora, temporary, "nora's very own phrase", Actor.of(nora))
    request = deployments.request_process(_version_two(), "x.bpmn", "rename", sam, Actor.of(sam))
    db.session.commit()
    with pytest.raises(PermissionDenied, match="the requester set this account's password"):
        approvals.decide(_review_task(request.id), nora, "approve", "", Actor.of(nora))
    db.session.rollback()

    otto = accounts.save_user("otto", "Otto", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    people.reset_password(nora.id, None, Actor.of(otto))
    db.session.commit()
    approvals.decide(_review_task(request.id), nora, "approve", "", Actor.of(nora))
    db.session.commit()
    work_off_queue(app)
    db.session.expire_all()
    assert deployments.get_request(request.id).status == DeploymentStatus.DEPLOYED


def test_whoever_set_the_requesters_password_does_not_approve_their_deployment(app, org: Org, nora):
    """The other direction: sam reset nora's password, so a request made as nora could be his own."""
    sam = org.seal_admin
    otto = accounts.save_user("otto", "Otto", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    temporary = people.reset_password(nora.id, None, Actor.of(sam))
    accounts.change_password(nora, temporary, "nora's very own phrase", Actor.of(nora))
    request = deployments.request_process(_version_two(), "x.bpmn", "rename", nora, Actor.of(nora))
    db.session.commit()
    with pytest.raises(PermissionDenied, match="you set the password of the seal administrator who asked"):
        approvals.decide(_review_task(request.id), sam, "approve", "", Actor.of(sam))
    db.session.rollback()
    assert deployments.get_request(request.id).status == DeploymentStatus.PENDING
    approvals.decide(_review_task(request.id), otto, "approve", "", Actor.of(otto))  # a third administrator may
    db.session.commit()
    work_off_queue(app)
    db.session.expire_all()
    assert deployments.get_request(request.id).status == DeploymentStatus.DEPLOYED


def test_someone_made_a_seal_administrator_after_the_request_does_not_approve_it(app, org: Org, nora):
    sam, olga = org.seal_admin, org.other_approver
    request = deployments.request_process(_version_two(), "x.bpmn", "rename", sam, Actor.of(sam))
    db.session.commit()
    people.set_roles(olga.id, {RoleName.APPROVER, RoleName.SEAL_ADMIN}, Actor.of(sam))
    people.set_roles(nora.id, {RoleName.SEAL_ADMIN, RoleName.APPROVER}, Actor.of(sam))  # she keeps her old grant
    db.session.commit()
    task_id = _review_task(request.id)
    assert task_id in {t.id for t in approvals.inbox(olga)}
    with pytest.raises(PermissionDenied, match="already a seal administrator when the deployment was requested"):
        approvals.decide(task_id, olga, "approve", "", Actor.of(olga))
    db.session.rollback()
    assert deployments.get_request(request.id).status == DeploymentStatus.PENDING

    approvals.decide(task_id, nora, "approve", "", Actor.of(nora))
    db.session.commit()
    work_off_queue(app)
    db.session.expire_all()
    assert deployments.get_request(request.id).status == DeploymentStatus.DEPLOYED
    # The next request, made once she was one, is hers to decide.
    later = deployments.request_process(_version_two().replace(b"(v2)", b"(v3)"), "x.bpmn", "again", sam,
                                        Actor.of(sam))
    db.session.commit()
    assert approvals.can_decide(olga, approvals.get_task(_review_task(later.id), olga))


def test_a_comment_is_at_most_2000_characters(app, org: Org):
    sam = org.seal_admin
    table = (Path(__file__).resolve().parents[2] / "seal_policies" / "required_approvals.dmn").read_bytes().replace(
        b'"Department head"</text>', b'"Head of the department"</text>')
    for ask, content in ((deployments.request_process, _version_two()),
                         (deployments.request_policy, table)):
        name = "x.bpmn" if ask is deployments.request_process else "required_approvals.dmn"
        before = len(deployments.list_requests())
        with pytest.raises(InvalidInput, match="longer than 2000 characters"):
            ask(content, name, "x" * 2001, sam, Actor.of(sam))
        db.session.rollback()
        assert len(deployments.list_requests()) == before
        kept = ask(content, name, "说" * 2000, sam, Actor.of(sam))  # at the limit: kept whole
        db.session.commit()
        db.session.expire_all()
        assert deployments.get_request(kept.id).comment == "说" * 2000
        deployments.withdraw(kept.id, sam, Actor.of(sam))
        db.session.commit()
