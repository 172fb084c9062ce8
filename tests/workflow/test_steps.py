"""A step mirrors only what changed in the process's waits (app/workflow/steps.py).

tests/data/steps_mirror.bpmn runs three branches at once: Harry's approval (a timer hands it to Olga after a
day), a sealing job, and Olga's own approval. After every step the open rows must be exactly what the saved
process waits on: no row opened twice, none left open, no job queued twice, no timer lost.
"""

from __future__ import annotations

from sqlalchemy import select

from app import workflow as engine
from app.extensions import db
from app.models import AuditEvent, HumanTask, InstanceStatus, Job, ProcessInstance, ProcessTimer, TaskState
from app.models.audit import Actor
from app.services import flows
from app.workflow import steps, store
from tests.conftest import DATA

ACTOR = Actor.system("test")


def _rows(instance_id: int) -> tuple[dict[str, str], set[str], set[str]]:
    """The instance's rows as the database has them: inbox rows (guid -> state), jobs' task guids, open timers."""
    db.session.expire_all()
    tasks = {t.task_guid: t.state.value for t in engine.tasks_of(instance_id)}
    jobs = set(db.session.execute(select(Job.task_guid).where(Job.instance_id == instance_id)).scalars())
    timers = set(db.session.execute(select(ProcessTimer.task_guid).where(
        ProcessTimer.instance_id == instance_id, ProcessTimer.fired_at.is_(None),
        ProcessTimer.cancelled_at.is_(None))).scalars())
    return tasks, {g for g in jobs if g is not None}, timers


def _assert_mirrored(instance_id: int) -> None:
    """The open rows are exactly the saved process's waits."""
    instance = db.session.get(ProcessInstance, instance_id)
    assert instance is not None
    waits = steps.scan(store.load(instance))
    tasks, jobs, timers = _rows(instance_id)
    assert {g for g, state in tasks.items() if state == "ready"} == set(waits.user_tasks)
    assert set(waits.services) <= jobs
    assert timers == set(waits.timers)


def _ready(instance_id: int, element_id: str) -> HumanTask:
    [task] = [t for t in engine.tasks_of(instance_id) if t.element_id == element_id and t.state == TaskState.READY]
    return task


def test_each_step_touches_only_the_rows_of_what_changed(app, org):
    flows.deploy_file(DATA / "steps_mirror.bpmn", ACTOR)
    levels = [{"level": 1, "approver": "user:sam", "label": "Seal administrator"}]
    started = engine.start("steps_mirror", {"application_id": None, "required_approvals": levels}, None, ACTOR)
    db.session.commit()
    instance_id = started.instance.id
    _assert_mirrored(instance_id)
    split = engine.complete_task(_ready(instance_id, "policy_approval").id, ACTOR, {"decision": "approve"})
    db.session.commit()
    assert sorted(t.element_id for t in split.new_tasks) == ["harry_approves", "olga_approves"]
    [job] = split.jobs
    _assert_mirrored(instance_id)

    # Olga decides while the job and Harry's task wait: nothing else is opened, queued or closed.
    harry = _ready(instance_id, "harry_approves")
    step = engine.complete_task(_ready(instance_id, "olga_approves").id, ACTOR, {"decision": "approve"})
    db.session.commit()
    assert step.new_tasks == [] and step.jobs == []
    assert db.session.execute(select(Job.id).where(Job.instance_id == instance_id)).scalars().all() == [job.id]
    _assert_mirrored(instance_id)

    # The timer fires: Harry's task closes as passed, Olga's takeover opens, the timer is fired (not cancelled).
    [timer_id] = db.session.execute(select(ProcessTimer.id).where(ProcessTimer.instance_id == instance_id)).scalars()
    fired = engine.fire_timer(timer_id, ACTOR)
    db.session.commit()
    assert fired is not None and [t.element_id for t in fired.new_tasks] == ["olga_takes_over"]
    db.session.refresh(harry)
    assert harry.state == TaskState.CANCELLED
    timer = db.session.get(ProcessTimer, timer_id)
    assert timer is not None and timer.fired_at is not None and timer.cancelled_at is None
    _assert_mirrored(instance_id)

    # The job resumes the sealing branch; then the last task ends the process.
    engine.resume_service(db.session.get(Job, job.id), {}, ACTOR)
    db.session.commit()
    _assert_mirrored(instance_id)
    last = engine.complete_task(_ready(instance_id, "olga_takes_over").id, ACTOR, {"decision": "approve"})
    db.session.commit()
    assert last.instance.status == InstanceStatus.COMPLETED
    _assert_mirrored(instance_id)

    # Each opened row has one audit event naming it by its task guid.
    ready_events = db.session.execute(select(AuditEvent).where(
        AuditEvent.object_id == str(instance_id), AuditEvent.action == "task.ready")).scalars().all()
    assert sorted(e.details["task_guid"] for e in ready_events) == sorted(_rows(instance_id)[0])
