"""The workflow engine's public interface: deploy, start, complete, resume after a job, history.

Everything SpiffWorkflow-specific happens here and in the modules beside it; callers see models
(ProcessDefinition, ProcessInstance, HumanTask, Job) and plain data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import selectinload

from app.errors import InvalidTransition, NotFound
from app.extensions import db
from app.models import (
    AuditEvent,
    HumanTask,
    InstanceStatus,
    Job,
    JobStatus,
    ProcessDefinition,
    ProcessInstance,
    ProcessTimer,
    TaskState,
)
from app.models.audit import Actor, events_for, record
from app.models.timestamps import utcnow
from app.workflow import store, timers
from app.workflow.calls import DeployedProcess
from app.workflow.errors import Problem
from app.workflow.filing import BPMN_NS, Filing, read_filing
from app.workflow.parser import ParsedDefinition, lint_definition, parse_definition, parse_xml, validate_definition
from app.workflow.serializer import dump_state, new_workflow
from app.workflow.steps import StepResult, Waits, close_tasks, load, mirror, run


def validate(data: bytes, source: str, operators: Collection[str], policies: Mapping[str, bytes],
             sealing: Collection[str] | None = None) -> list[Problem]:
    """Every problem that would stop the diagram from deploying (business-rule tasks call decisions in the
    policy files given, name -> DMN content; `sealing`: the operators that apply a seal, default all). Reads the
    database only to find the deployed processes its call activities call."""
    return validate_definition(data, source, operators, policies, sealing, find_deployed)


def find_deployed(process_id: str, version: int | None = None) -> DeployedProcess | None:
    """A deployed process a diagram may call: the given version, or the newest."""
    query = select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
    if version is not None:
        query = query.where(ProcessDefinition.version == version)
    definition = db.session.execute(query.order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()
    if definition is None:
        return None
    return DeployedProcess(definition.process_id, definition.version, definition.content_hash, definition.spec_json)


def lint(data: bytes, source: str) -> list[Problem]:
    """Warnings that do not stop the diagram from deploying: deciding tasks that could reach the requester. Needs
    no database."""
    return lint_definition(data, source)


def inspect(data: bytes, source: str, operators: Collection[str], policies: Mapping[str, bytes],
            sealing: Collection[str] | None = None) -> ParsedDefinition:
    """The process the diagram holds (id, name, content hash) as deploy would store it; InvalidDefinition lists every
    problem. Reads the database only to find the deployed processes its call activities call."""
    return parse_definition(data, source, operators, policies, sealing, find_deployed)


def deploy(data: bytes, source: str, operators: Collection[str], policies: Mapping[str, bytes],
           actor: Actor, keep_any_version: bool = False,
           sealing: Collection[str] | None = None, comment: str = "", deployed_by_id: int | None = None,
           approved_by_id: int | None = None) -> tuple[ProcessDefinition, bool]:
    """Store the diagram's process as its newest version, unless the newest version has the same content (the
    diagram and the decision tables it uses): then that one is returned, unchanged. Content an earlier version
    had becomes the newest again (a rollback), unless keep_any_version: then that earlier version is returned
    (the shipped diagrams, deployed at every upgrade, must not undo an administrator's newer version). The comment
    and the two seal administrators of a deployment under dual control are kept with the new version. A process it
    calls that the file does not hold is taken from its newest deployed version (or the one the call names)."""
    parsed = parse_definition(data, source, operators, policies, sealing, find_deployed)
    same = select(ProcessDefinition).where(ProcessDefinition.process_id == parsed.process_id,
                                           ProcessDefinition.content_hash == parsed.content_hash)
    existing = db.session.execute(same.order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()
    newest = _newest(parsed.process_id)
    if existing is not None and (keep_any_version or existing is newest):
        return existing, False
    definition = ProcessDefinition(
        process_id=parsed.process_id, name=parsed.name, version=(newest.version if newest else 0) + 1,
        content_hash=parsed.content_hash, source_name=source, bpmn_xml=parsed.xml, spec_json=parsed.spec,
        comment=comment, deployed_by_id=deployed_by_id, approved_by_id=approved_by_id,
    )
    db.session.add(definition)
    db.session.flush()
    record(actor, "process.deployed", "process_definition", definition.id,
           process_id=definition.process_id, version=definition.version, content_hash=definition.content_hash,
           restores_version=existing.version if existing is not None else None, comment=comment,
           deployed_by_id=deployed_by_id, approved_by_id=approved_by_id)
    return definition, True


_NEWEST = (select(ProcessDefinition).where(ProcessDefinition.process_id == bindparam("process_id"))
           .order_by(ProcessDefinition.version.desc()).limit(1))


def _newest(process_id: str) -> ProcessDefinition | None:
    return db.session.execute(_NEWEST, {"process_id": process_id}).scalar_one_or_none()


def is_deployed(process_id: str) -> bool:
    """Whether some version of the process is deployed."""
    query = select(ProcessDefinition.id).where(ProcessDefinition.process_id == process_id).limit(1)
    return db.session.execute(query).first() is not None


def latest_definition(process_id: str) -> ProcessDefinition:
    """The newest deployed version of a process."""
    definition = _newest(process_id)
    if definition is None:
        raise NotFound(f"no process {process_id!r} is deployed; run `flask --app wsgi flows deploy`")
    return definition


def operations_of(process_id: str) -> set[str]:
    """The service operators the newest version of a process (and the processes it calls) may run."""
    found: set[str] = set()
    stack: list[Any] = [latest_definition(process_id).spec_json]
    while stack:  # the stored spec is plain JSON: dicts and lists
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("operation_name"), str):
                found.add(item["operation_name"])
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return found


@lru_cache(maxsize=256)
def _filing(content_hash: str, process_id: str, xml: str) -> Filing:
    root = parse_xml(xml.encode(), process_id)
    process = next((p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("id") == process_id), None)
    return read_filing(process) if process is not None else Filing(process_id, startable=False)


def filing_of_version(definition: ProcessDefinition) -> Filing:
    """The filing form and audience of one version of a process."""
    return _filing(definition.content_hash, definition.process_id, definition.bpmn_xml)


def filing_of(process_id: str) -> Filing:
    """The filing form and audience of the newest version of a process."""
    return filing_of_version(latest_definition(process_id))


def newest_filings() -> list[tuple[ProcessDefinition, Filing]]:
    """The newest version of every deployed process with its filing form and audience, by process id."""
    newest = (select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("version"))
              .group_by(ProcessDefinition.process_id).subquery())
    query = (select(ProcessDefinition).join(newest, (ProcessDefinition.process_id == newest.c.process_id)
                                            & (ProcessDefinition.version == newest.c.version))
             .order_by(ProcessDefinition.process_id))
    return [(d, filing_of_version(d)) for d in db.session.execute(query).scalars()]


def start(process_id: str, data: dict[str, Any], application_id: int | None, actor: Actor) -> StepResult:
    """Start the newest version of a process with the given data and run it to its first wait."""
    definition = latest_definition(process_id)
    workflow = new_workflow(store.specs_of(definition))
    workflow.data.update(data)
    workflow.get_next_task(state=SpiffState.READY).data.update(data)
    since = time.time()
    run(workflow.do_engine_steps)
    # The row is written once, with the state of the first wait: its own rows (inbox, jobs, timers) need its id.
    requester = data.get("requester_id")
    instance = ProcessInstance(definition=definition, application_id=application_id, state=dump_state(workflow),
                               requester_id=requester if isinstance(requester, int) else None)
    db.session.add(instance)
    db.session.flush()
    record(actor, "process.started", "process_instance", instance.id,
           process_id=process_id, version=definition.version, application_id=application_id)
    result = mirror(instance, workflow, actor, None, (), since)
    db.session.flush()
    return result


def complete_task(task_id: int, actor: Actor, data: dict[str, Any], on_behalf_of_id: int | None = None,
                  document_sha256: str | None = None, decided_as: str | None = None) -> StepResult:
    """Complete a ready inbox task with the given form data. The caller has checked permission (acting_for) and
    separation of duties; on_behalf_of_id names the absent user a substitute acts for; document_sha256 and
    decided_as are what the decision was made on and the approval rule the decider met then (kept with it)."""
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")

    def decide(instance: ProcessInstance, workflow: Any, before: Waits) -> None:
        # The saved process tells whether the task still waits (another request may have completed it); only a
        # refusal needs the row's own account of what became of it.
        spiff_task = before.user_tasks.get(task.task_guid)
        if spiff_task is None or instance.status != InstanceStatus.RUNNING:
            db.session.refresh(task, ["state"])
            if task.state != TaskState.READY:
                raise InvalidTransition(f"the task “{task.name}” was already {task.state.value}")
            if instance.status != InstanceStatus.RUNNING:
                raise InvalidTransition(f"the process is {instance.status}; its tasks can no longer be done")
            raise InvalidTransition(f"the task “{task.name}” is no longer waiting")
        spiff_task.data.update(data)
        run(lambda: spiff_task.run())

    step = _step(task.instance_id, decide)
    task.state = TaskState.COMPLETED
    task.completed_by_id = actor.user_id
    task.completed_at = utcnow()
    task.on_behalf_of_id = on_behalf_of_id if on_behalf_of_id != actor.user_id else None
    task.decision = str(data.get("decision", "")) or None
    task.comment = str(data.get("comment", "")) or None
    task.document_sha256, task.decided_as = document_sha256, decided_as
    record(actor, "task.completed", "process_instance", step.instance.id,
           task_id=task.id, task_guid=task.task_guid, element_id=task.element_id, decision=task.decision,
           comment=task.comment, on_behalf_of_id=task.on_behalf_of_id, data=data, level=task.level,
           document_sha256=document_sha256, decided_as=decided_as)
    return step.finish(actor, settled={task.task_guid})


def _service_step(job: Job, change: Callable[[Any], None]) -> Stepped | None:
    """Run the change on the service task a job ran, and the process on, if that task still waits (None when it
    does not: the process moved on without the job, or an earlier run of the same job settled it)."""
    if job.instance_id is None or job.task_guid is None:
        raise NotFound(f"job {job.id} belongs to no process")
    task_guid = job.task_guid

    def settle(instance: ProcessInstance, workflow: Any, before: Waits) -> bool:
        spiff_task = before.services.get(task_guid)
        if spiff_task is None:
            return False
        change(spiff_task)
        return True

    step = _step(job.instance_id, settle)
    return step if step.changed else None


def resume_service(job: Job, result: dict[str, Any], actor: Actor) -> StepResult:
    """Complete the service task a finished job ran, and run the process on. Safe to call twice."""
    element: list[str] = []

    def complete(spiff_task: Any) -> None:
        spiff_task.data[spiff_task.task_spec.result_variable] = result
        element.append(spiff_task.task_spec.bpmn_id)
        run(lambda: spiff_task.complete())

    step = _service_step(job, complete)
    if step is None:
        return StepResult(db.session.get(ProcessInstance, job.instance_id))  # type: ignore[arg-type]
    record(actor, "service.completed", "process_instance", step.instance.id,
           element_id=element[0], job_id=job.id, result=result)
    return step.finish(actor)


# The error code a service task's job throws when it has failed for good; an error boundary on the task with this
# code, or with none, catches it (its spiffworkflow:variableName, if set, receives {service_error, failed_operation}).
SERVICE_FAILED = "service_failed"


def fail_service(job: Job, reason: str, actor: Actor) -> StepResult:
    """A job failed for good: an error boundary event on its service task takes the process down the error path;
    without one, the process fails."""
    payload = {"service_error": reason, "failed_operation": job.operation}
    caught: dict[str, Any] = {}

    def catch(spiff_task: Any) -> None:
        # Only the error boundary events attached to this task (SpiffWorkflow makes them its siblings under one
        # split) whose error code is ours or unset; the event is built of the catcher's own class, which is what
        # it matches.
        catchers = [t for t in spiff_task.parent.children
                    if t is not spiff_task and t.state == SpiffState.WAITING
                    and isinstance(getattr(t.task_spec, "event_definition", None), ErrorEventDefinition)
                    and t.task_spec.event_definition.code in (None, SERVICE_FAILED)]
        caught.update(element=spiff_task.task_spec.bpmn_id, by=[c.task_spec.bpmn_id for c in catchers])
        if not catchers:
            raise _NoCatcher
        for catcher in catchers:
            definition = type(catcher.task_spec.event_definition)(SERVICE_FAILED, code=SERVICE_FAILED)
            catcher.task_spec.catch(catcher, BpmnEvent(definition, payload=payload))
            catcher.task_spec._update(catcher)  # noqa: SLF001 - what SpiffWorkflow's event manager does on a catch

    try:
        step = _service_step(job, catch)
    except _NoCatcher:
        return StepResult(fail_instance(job.instance_id, reason, actor))  # type: ignore[arg-type]
    if step is None:
        return StepResult(db.session.get(ProcessInstance, job.instance_id))  # type: ignore[arg-type]
    record(actor, "service.failed", "process_instance", step.instance.id, element_id=caught["element"],
           job_id=job.id, reason=reason, caught_by=caught["by"])
    return step.finish(actor)


class _NoCatcher(Exception):
    """No error boundary event catches the failed job's error: the process fails."""


def cancel(instance_id: int, reason: str, actor: Actor) -> StepResult:
    """Stop a running process: its open tasks and timers are closed with it. Refused while a background job
    works for it (sealing has begun: the process finishes or fails on its own)."""
    instance = store.lock_instance(instance_id)
    if instance.status != InstanceStatus.RUNNING:
        raise InvalidTransition(f"the process is {instance.status}; it cannot be cancelled")
    busy = db.session.execute(select(Job.id).where(
        Job.instance_id == instance.id, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))).first()
    if busy is not None:
        raise InvalidTransition("a background job is working on it (sealing has begun); it cannot be cancelled")
    workflow = store.load(instance)
    run(workflow.cancel)
    _close_waits(instance, reason, actor)
    instance.status = InstanceStatus.CANCELLED
    instance.outcome = "cancelled"
    record(actor, "process.cancelled", "process_instance", instance.id, reason=reason)
    store.save(instance, workflow)
    return StepResult(instance)


def _close_waits(instance: ProcessInstance, reason: str, actor: Actor) -> None:
    """Close the instance's open inbox tasks and timers: it will not go on."""
    close_tasks(instance, [t for t in tasks_of(instance.id) if t.state == TaskState.READY], reason, actor)
    timers.cancel_open(instance.id)


def history(instance_id: int) -> list[AuditEvent]:
    """Every step of a process, oldest first: started, tasks opened and completed (by whom, for whom, with
    which decision and data), jobs, timers, the end."""
    return events_for("process_instance", instance_id)


def fail_instance(instance_id: int, reason: str, actor: Actor) -> ProcessInstance:
    """Mark an instance failed, with the reason in the audit log; its open tasks and timers close."""
    instance = store.lock_instance(instance_id)
    _close_waits(instance, reason, actor)
    instance.status = InstanceStatus.FAILED
    record(actor, "process.failed", "process_instance", instance.id, reason=reason)
    return instance


def tasks_of(instance_id: int, with_candidates: bool = False) -> list[HumanTask]:
    """Every inbox row an instance opened, oldest first; with_candidates: with whom each is offered to, for a page
    that shows it (in one more statement)."""
    query = select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)
    if with_candidates:
        query = query.options(selectinload(HumanTask.candidates))
    return list(db.session.execute(query).scalars())


def fire_timer(timer_id: int, actor: Actor) -> StepResult | None:
    """Fire one due timer: the process takes the timer's path (a reminder, an escalation). The stored due time
    decides, not the clock of the machine that runs this, so tests and late sweeps behave the same.
    None when the timer is gone (fired, or its process moved on, meanwhile)."""
    timer = db.session.get(ProcessTimer, timer_id)
    if timer is None:
        return None
    moved_on = False

    def fire(instance: ProcessInstance, workflow: Any, before: Waits) -> bool:
        nonlocal moved_on
        db.session.refresh(timer)
        if timer.fired_at is not None or timer.cancelled_at is not None or instance.status != InstanceStatus.RUNNING:
            return False
        spiff_task = before.timers.get(timer.task_guid)
        if spiff_task is None:
            moved_on = True  # a guid the process no longer waits on never comes back
            return False
        spiff_task._set_internal_data(event_fired=True)  # noqa: SLF001 - how SpiffWorkflow marks a timer fired
        run(workflow.refresh_timers)
        return True

    step = _step(timer.instance_id, fire)
    if not step.changed:
        if moved_on:
            timer.cancelled_at = utcnow()
        return None
    timer.fired_at = utcnow()
    record(actor, "timer.fired", "process_instance", step.instance.id, element_id=timer.element_id,
           task_guid=timer.task_guid, due_at=timer.due_at.isoformat())
    return step.finish(actor, settled={timer.task_guid})


_ATTEMPTS = 5  # steps of one instance that came first, one after another, before this one gives up


@dataclass
class Stepped:
    """A step run and claimed: the instance row (locked), its workflow after the engine ran, what it waited on
    before; `changed` is False when the step found nothing to do (nothing was run, nothing needs saving)."""

    instance: ProcessInstance
    workflow: Any
    before: Waits
    since: float
    changed: bool = True

    def finish(self, actor: Actor, settled: Collection[str] = ()) -> StepResult:
        """Mirror the change in the process's waits as rows and save its state (see steps.mirror)."""
        result = mirror(self.instance, self.workflow, actor, self.before, settled, self.since)
        store.save(self.instance, self.workflow)
        return result


def _step(instance_id: int, change: Callable[[ProcessInstance, Any, Waits], bool | None]) -> Stepped:
    """Read the instance without a lock, apply the change to its workflow and run the engine until the process
    waits (every expression on the way runs now, holding no lock), then claim the row; when another step came
    first, do it all again on that step's result. The change returns False when there is nothing to do.

    Nothing is written to the database before the claim, so a step whose expression fails leaves nothing behind.
    """
    for _ in range(_ATTEMPTS):
        instance = store.read_instance(instance_id)
        workflow, before = load(instance)
        since = time.time()
        if change(instance, workflow, before) is False:
            return Stepped(instance, workflow, before, since, changed=False)
        run(workflow.do_engine_steps)
        if store.claim(instance):
            return Stepped(instance, workflow, before, since)
    raise InvalidTransition("the process was changed by several others at the same moment; try again")
