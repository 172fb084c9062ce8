import json

import pytest
from sqlalchemy import select

from app.errors import InvalidTransition
from app.extensions import db
from app.models import HumanTask, Job, JobStatus, ProcessDefinition, TaskState
from app.models.audit import Actor
from app.services import accounts, decision_tables, flows
from app.workflow import WorkflowFailed, complete_task, deploy, history, latest_definition, start

ACTOR = Actor.system("test")


HEAD_LEVEL = {"level": 1, "approver": "department_head", "label": "Department head"}


def _data(org, application_id: int | None, requester=None) -> dict:
    """What the application service starts a seal_application with (one approval level: the department head)."""
    return {"application_id": application_id, "requester_id": (requester or org.employee).id,
            "document_type": "letter", "amount": 0, "required_approvals": [HEAD_LEVEL]}


def test_deploy_is_idempotent_and_versions_by_content(app, org):
    first = db.session.execute(select(ProcessDefinition)).scalars().all()
    again = flows.deploy_shipped(ACTOR)
    assert again and not any(created for _, created in again)
    assert len(db.session.execute(select(ProcessDefinition)).scalars().all()) == len(first) == len(again)


def test_start_opens_a_task_for_the_department_head_and_state_holds_no_spec(app, org):
    step = start("seal_application", _data(org, None), None, ACTOR)
    db.session.commit()
    [task] = step.new_tasks
    assert task.assignee_id == org.head.id and task.state == TaskState.READY and task.level == 1
    assert "spec" not in step.instance.state and "subprocess_specs" not in step.instance.state
    assert "policy_approval" not in json.dumps(step.instance.state.get("spec", {}))


def test_approval_queues_one_service_job_and_a_second_completion_is_refused(app, org):
    step = start("seal_application", _data(org, 1), None, ACTOR)
    task_id = step.new_tasks[0].id
    after = complete_task(task_id, ACTOR, {"decision": "approve"})
    db.session.commit()
    [job] = after.jobs
    assert job.operation == "seal_document" and job.params == {"application_id": 1}
    assert job.status == JobStatus.QUEUED
    with pytest.raises(InvalidTransition):
        complete_task(task_id, ACTOR, {"decision": "approve"})
    db.session.rollback()
    assert db.session.execute(select(Job)).scalars().all() == [job]


def test_rejection_ends_the_process_without_a_job(app, org):
    step = start("seal_application", _data(org, 1), None, ACTOR)
    after = complete_task(step.new_tasks[0].id, ACTOR, {"decision": "reject", "comment": "no"})
    assert after.jobs == [] and after.instance.status.value == "completed"


def test_a_department_without_head_sends_the_approval_to_the_leaders_and_says_why(app, org):
    org.department.head = None
    db.session.commit()
    step = start("seal_application", _data(org, 1), None, ACTOR)
    [task] = step.new_tasks
    assert task.assignee_id is None and [str(c.role) for c in task.candidates] == ["leader"]
    [ready] = [e for e in history(step.instance.id) if e.action == "task.ready"]
    assert ready.details["note"] == "Sales has no head, and no department above has another head: the leaders approve"


def test_a_requester_who_heads_the_department_goes_to_the_head_of_the_department_above(app, org):
    office = accounts.get_or_create_department("Office")
    office.head = org.leader
    org.department.parent = office
    db.session.commit()
    step = start("seal_application", _data(org, 1, requester=org.head), None, ACTOR)
    [task] = step.new_tasks
    assert task.assignee_id == org.leader.id
    [ready] = [e for e in history(step.instance.id) if e.action == "task.ready"]
    assert ready.details["note"] == "Harry heads Sales: the head of Office approves instead"


def test_a_policy_step_without_its_levels_stops_with_a_clear_error(app, org):
    data = _data(org, 1)
    del data["required_approvals"]
    with pytest.raises(WorkflowFailed, match="required_approvals|Missing data input"):
        start("seal_application", data, None, ACTOR)
    db.session.rollback()
    assert db.session.execute(select(HumanTask)).first() is None


def test_deploying_an_earlier_diagram_again_rolls_back_but_the_shipped_ones_never_undo_a_newer_version(app, org):
    shipped = flows.SHIPPED_DIR / "countersign.bpmn"
    changed = shipped.read_text().replace('name="Countersign"', 'name="Countersign (changed)"')
    assert changed != shipped.read_text()
    v1 = latest_definition("countersign")
    v2, created = deploy(changed.encode(), "countersign.bpmn", {"seal_document"}, decision_tables.shipped(), ACTOR)
    assert created and v2.version == v1.version + 1
    assert not any(created for _, created in flows.deploy_shipped(ACTOR))  # v2 stays the newest
    assert latest_definition("countersign").id == v2.id

    v3, created = flows.deploy_file(shipped, ACTOR)  # an administrator rolls back
    assert created and v3.version == v2.version + 1 and v3.content_hash == v1.content_hash
    assert latest_definition("countersign").id == v3.id
    assert flows.deploy_file(shipped, ACTOR) == (v3, False)
