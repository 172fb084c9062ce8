"""The operators diagrams may call (app/services/operators.py): `deploy_change` deploys a deployment request only
from the request's own approval process; another diagram naming the request by its parameters deploys nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.errors import PermissionDenied
from app.extensions import db
from app.jobs.runner import run_job
from app.models import DeploymentStatus, Job, JobStatus, ProcessDefinition, RoleName, User
from app.models.audit import Actor
from app.services import accounts, approvals, deployments, flows, operators
from app.workflow import latest_definition, start
from tests.conftest import PASSWORD, Org

ACTOR = Actor.system("test")
SHIPPED = Path(__file__).resolve().parents[2] / "bpmn" / "seal_application.bpmn"
# A diagram a seal administrator might get deployed: nothing but the deployment operator, pointed by its data at
# whichever request it is started with.
ROGUE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D_rogue"
                  targetNamespace="http://sealflow.example/review">
  <bpmn:process id="rogue_deploy" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="deploy" name="Deploy">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="deploy_change" resultVariable="deployment_result">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="deployment_id" type="int" value="deployment_id"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="deploy"/>
    <bpmn:sequenceFlow id="f2" sourceRef="deploy" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def nora(org: Org) -> User:
    user = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    db.session.commit()
    return user


def _version_two() -> bytes:
    return SHIPPED.read_bytes().replace(b'name="Approvals the seal policy requires"',
                                        b'name="Approvals the policy requires (v2)"')


def _job_of(instance_id: int) -> Job:
    return db.session.execute(select(Job).where(Job.instance_id == instance_id)).scalar_one()


def _versions() -> int:
    return db.session.execute(select(func.count()).select_from(ProcessDefinition)).scalar() or 0


def test_deploy_change_deploys_a_request_only_from_its_own_approval_process(app, org: Org, nora):
    sam = org.seal_admin
    request = deployments.request_process(_version_two(), "x.bpmn", "rename", sam, Actor.of(sam))
    db.session.commit()
    approvals.decide(deployments.review_task_id(request), nora, "approve", "", Actor.of(nora))
    flows.deploy_diagram(ROGUE, "rogue.bpmn", ACTOR)
    rogue = start("rogue_deploy", {"requester_id": sam.id, "deployment_id": request.id}, None, ACTOR)
    db.session.commit()
    before = _versions()

    # The approved request's deployment job waits; a process of another diagram naming the request runs first.
    assert run_job(_job_of(rogue.instance.id).id) == "failed"
    db.session.expire_all()
    job = _job_of(rogue.instance.id)
    assert job.status == JobStatus.FAILED
    assert f"deployment request {request.id} is deployed only by its own approval process" in (job.error or "")
    assert f"instance {request.instance_id}" in job.error and f"process instance {rogue.instance.id}" in job.error
    assert deployments.get_request(request.id).status == DeploymentStatus.PENDING
    assert _versions() == before and latest_definition("seal_application").version == 1
    with pytest.raises(PermissionDenied, match="its own approval process"):
        operators.run_operator("deploy_change", {"deployment_id": request.id}, None, ACTOR)
    db.session.rollback()

    # The request's own approval process still deploys it.
    assert run_job(_job_of(request.instance_id).id) == "done"
    db.session.expire_all()
    assert deployments.get_request(request.id).status == DeploymentStatus.DEPLOYED
    assert latest_definition("seal_application").version == 2
