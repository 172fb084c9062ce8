"""The workflow engine's public interface: deploy, start, complete, resume after a job, history.

Everything SpiffWorkflow-specific happens here and in the modules beside it; callers see models
(ProcessDefinition, ProcessInstance, HumanTask, Job) and plain data.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import func, or_, select
from sqlalchemy.sql import Select

from app.errors import InvalidTransition, NotFound
from app.extensions import db
from app.models import (
    HumanTask,
    InstanceStatus,
    Job,
    JobStatus,
    ProcessDefinition,
    ProcessInstance,
    TaskState,
    User,
)
from app.models.timestamps import utcnow
from app.services.audit import Actor, record
from app.workflow import assignment, store
from app.workflow.errors import Problem, WorkflowFailed
from app.workflow.parser import parse_definition, validate_definition
from app.workflow.serializer import new_workflow
from app.workflow.specs import SERVICE_REQUEST, AsyncServiceTask


@dataclass
class StepResult:
    """What one step changed: the instance, the inbox rows it opened and the jobs it queued."""

    instance: ProcessInstance
    new_tasks: list[HumanTask] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)


def service_job_key(instance_id: int, task_guid: str) -> str:
    """The deterministic key of the job that runs one service task."""
    return f"service-{instance_id}-{task_guid}"


def _deployed_process_ids() -> set[str]:
    return set(db.session.execute(select(ProcessDefinition.process_id).distinct()).scalars())


def validate(data: bytes, source: str, operators: Collection[str]) -> list[Problem]:
    """Every problem that would stop the diagram from deploying (called processes may be deployed ones)."""
    return validate_definition(data, source, operators, _deployed_process_ids())


def deploy(data: bytes, source: str, operators: Collection[str], actor: Actor) -> tuple[ProcessDefinition, bool]:
    """Store a new version of the diagram's process, or return the existing one with that content."""
    parsed = parse_definition(data, source, operators, _deployed_process_ids())
    existing = db.session.execute(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == parsed.process_id, ProcessDefinition.content_hash == parsed.content_hash
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    latest = db.session.execute(
        select(func.max(ProcessDefinition.version)).where(ProcessDefinition.process_id == parsed.process_id)
    ).scalar()
    definition = ProcessDefinition(
        process_id=parsed.process_id, name=parsed.name, version=(latest or 0) + 1,
        content_hash=parsed.content_hash, source_name=source, bpmn_xml=parsed.xml, spec_json=parsed.spec,
    )
    db.session.add(definition)
    db.session.flush()
    record(actor, "process.deployed", "process_definition", definition.id,
           process_id=definition.process_id, version=definition.version, content_hash=definition.content_hash)
    return definition, True


def latest_definition(process_id: str) -> ProcessDefinition:
    """The newest deployed version of a process."""
    definition = db.session.execute(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"no process {process_id!r} is deployed; run `flask --app wsgi flows deploy`")
    return definition


def start(process_id: str, data: dict[str, Any], application_id: int | None, actor: Actor) -> StepResult:
    """Start the newest version of a process with the given data and run it to its first wait."""
    definition = latest_definition(process_id)
    workflow = new_workflow(definition.spec_json)
    workflow.data.update(data)
    workflow.get_next_task(state=SpiffState.READY).data.update(data)
    instance = ProcessInstance(definition=definition, application_id=application_id, state={})
    db.session.add(instance)
    db.session.flush()
    record(actor, "process.started", "process_instance", instance.id,
           process_id=process_id, version=definition.version, application_id=application_id)
    return _advance(instance, workflow, actor)


def complete_task(task_id: int, actor: Actor, data: dict[str, Any]) -> StepResult:
    """Complete a ready inbox task with the given form data. The caller has checked permission."""
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    instance = store.lock_instance(task.instance_id)
    db.session.refresh(task)  # under the lock: another request may have completed it meanwhile
    if task.state != TaskState.READY:
        raise InvalidTransition(f"the task “{task.name}” was already {task.state.value}")
    workflow = store.load(instance)
    spiff_task = workflow.get_task_from_id(UUID(task.task_guid))
    if spiff_task is None or spiff_task.state != SpiffState.READY:
        raise InvalidTransition(f"the task “{task.name}” is no longer waiting")
    spiff_task.data.update(data)
    _run(lambda: spiff_task.run())
    task.state = TaskState.COMPLETED
    task.completed_by_id = actor.user_id
    task.completed_at = utcnow()
    task.decision = str(data.get("decision", "")) or None
    task.comment = str(data.get("comment", "")) or None
    record(actor, "task.completed", "process_instance", instance.id,
           task_id=task.id, element_id=task.element_id, decision=task.decision, comment=task.comment, data=data)
    return _advance(instance, workflow, actor)


def resume_service(job: Job, result: dict[str, Any], actor: Actor) -> StepResult:
    """Complete the service task a finished job ran, and run the process on. Safe to call twice."""
    if job.instance_id is None or job.task_guid is None:
        raise NotFound(f"job {job.id} belongs to no process")
    instance = store.lock_instance(job.instance_id)
    workflow = store.load(instance)
    spiff_task = workflow.get_task_from_id(UUID(job.task_guid))
    if spiff_task is None or spiff_task.state != SpiffState.STARTED:
        return StepResult(instance)  # already resumed by an earlier run of the same job
    spiff_task.data[spiff_task.task_spec.result_variable] = result
    _run(lambda: spiff_task.complete())
    record(actor, "service.completed", "process_instance", instance.id,
           element_id=spiff_task.task_spec.bpmn_id, job_id=job.id, result=result)
    return _advance(instance, workflow, actor)


def fail_instance(instance_id: int, reason: str, actor: Actor) -> ProcessInstance:
    """Mark an instance failed, with the reason in the audit log."""
    instance = store.lock_instance(instance_id)
    instance.status = InstanceStatus.FAILED
    record(actor, "process.failed", "process_instance", instance.id, reason=reason)
    return instance


def inbox_query(user: User) -> Select[HumanTask]:
    """Ready tasks for a user: assigned to them, or offered to a role they hold."""
    return (
        select(HumanTask)
        .where(HumanTask.state == TaskState.READY)
        .where(or_(HumanTask.assignee_id == user.id, HumanTask.candidate_role.in_(user.role_names)))
        .order_by(HumanTask.created_at)
    )


def tasks_of(instance_id: int) -> list[HumanTask]:
    """Every inbox row an instance opened, oldest first."""
    query = select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)
    return list(db.session.execute(query).scalars())


def _run(step: Any) -> None:
    try:
        step()
    except SpiffWorkflowException as exc:
        raise WorkflowFailed(f"the process stopped: {exc}") from exc


def _advance(instance: ProcessInstance, workflow: Any, actor: Actor) -> StepResult:
    """Run engine steps until the process waits, then mirror its waits as inbox rows and jobs."""
    _run(workflow.do_engine_steps)
    result = StepResult(instance)
    known = {t.task_guid for t in tasks_of(instance.id)}
    for spiff_task in workflow.get_tasks(state=SpiffState.READY, manual=True):
        if str(spiff_task.id) not in known:
            result.new_tasks.append(_open_task(instance, spiff_task, actor))
    for spiff_task in workflow.get_tasks(state=SpiffState.STARTED, spec_class=AsyncServiceTask):
        job = _queue_service(instance, spiff_task, actor)
        if job is not None:
            result.jobs.append(job)
    if workflow.is_completed():
        instance.status = InstanceStatus.COMPLETED
        record(actor, "process.completed", "process_instance", instance.id)
    store.save(instance, workflow)
    return result


def _open_task(instance: ProcessInstance, spiff_task: Any, actor: Actor) -> HumanTask:
    spec = spiff_task.task_spec
    target = assignment.resolve(spec.extensions.get("properties", {}), spec.lane, spiff_task.data)
    task = HumanTask(
        instance_id=instance.id, task_guid=str(spiff_task.id), element_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id, assignee_id=target.assignee_id, candidate_role=target.candidate_role,
    )
    db.session.add(task)
    db.session.flush()
    record(actor, "task.ready", "process_instance", instance.id, task_id=task.id, element_id=task.element_id,
           assignee_id=task.assignee_id, candidate_role=task.candidate_role)
    return task


def _queue_service(instance: ProcessInstance, spiff_task: Any, actor: Actor) -> Job | None:
    key = service_job_key(instance.id, str(spiff_task.id))
    if db.session.execute(select(Job.id).where(Job.key == key)).scalar() is not None:
        return None
    request = spiff_task.internal_data[SERVICE_REQUEST]
    job = Job(key=key, operation=request["operation"], instance_id=instance.id, task_guid=str(spiff_task.id),
              params=request["params"], status=JobStatus.QUEUED)
    db.session.add(job)
    db.session.flush()
    record(actor, "service.started", "process_instance", instance.id, element_id=spiff_task.task_spec.bpmn_id,
           job_id=job.id, operation=job.operation, params=job.params)
    return job
