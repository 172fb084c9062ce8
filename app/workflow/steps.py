"""One step of a process: SpiffWorkflow runs until the process waits, then what it waits on is mirrored as rows
(inbox tasks, jobs, timers), with an audit event for each change, and its state is saved.

The rows mirror the waits after every step, so what a process waited on when it was loaded tells which rows are
open: a step compares the waits before and after it and touches only the rows of what changed, without looking
up the others. (The unique keys on inbox tasks, jobs and timers stop a row from being made twice.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin as BusinessRuleTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import select

from app.errors import PolicyViolation
from app.extensions import db
from app.models import HumanTask, InstanceStatus, Job, JobStatus, ProcessInstance, TaskCandidate, TaskState
from app.models.audit import Actor, record
from app.models.timestamps import utcnow
from app.workflow import assignment, store, timers
from app.workflow.errors import WorkflowFailed
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


@dataclass
class Waits:
    """What a process waits on (task guid -> SpiffWorkflow task): people, jobs, timers; and the decision tables
    it evaluated in the step just run."""

    user_tasks: dict[str, Any] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    timers: dict[str, Any] = field(default_factory=dict)
    decisions: list[Any] = field(default_factory=list)


def scan(workflow: Any, since: float | None = None) -> Waits:
    """One walk of the task tree; decision tables are collected only when `since` (a time.time()) is given."""
    waits = Waits()
    for task in workflow.get_tasks():
        spec, state = task.task_spec, task.state
        if state == SpiffState.READY and spec.manual:
            waits.user_tasks[str(task.id)] = task
        elif state == SpiffState.STARTED and isinstance(spec, AsyncServiceTask):
            waits.services[str(task.id)] = task
        elif state == SpiffState.WAITING and timers.is_timer(spec):
            waits.timers[str(task.id)] = task
        elif (since is not None and state == SpiffState.COMPLETED and isinstance(spec, BusinessRuleTask)
              and task.last_state_change >= since):
            waits.decisions.append(task)
    return waits


def load(instance: ProcessInstance) -> tuple[Any, Waits]:
    """The workflow of an instance, and what it waits on (so, which of its rows are open)."""
    workflow = store.load(instance)
    return workflow, scan(workflow)


def run(step: Callable[[], Any]) -> None:
    """Run a SpiffWorkflow call; its failures become the domain's."""
    try:
        step()
    except SpiffWorkflowException as exc:
        raise WorkflowFailed(f"the process stopped: {str(exc).strip().rstrip('.')}") from exc


def mirror(instance: ProcessInstance, workflow: Any, actor: Actor, before: Waits | None,
           settled: Collection[str], since: float) -> StepResult:
    """Mirror the change in the process's waits since `before` (None: it was created in this step) as inbox rows,
    jobs and timers, with an audit event for each; `since` is when this step's engine steps began.

    The rows are written with the step's state, in one flush (the lookups here need nothing the step changed):
    the audit events of new inbox rows and jobs name them by task guid, which is unique in the instance.
    """
    prior, after = before or Waits(), scan(workflow, since)
    result = StepResult(instance)
    with db.session.no_autoflush:
        passed = _open_rows(instance.id, prior.user_tasks.keys() - after.user_tasks.keys() - set(settled))
        timers.sync(instance.id, prior.timers.keys() - after.timers.keys() - set(settled),
                    {guid: t for guid, t in after.timers.items() if guid not in prior.timers})
        opened = [_new_task(instance, t) for guid, t in after.user_tasks.items() if guid not in prior.user_tasks]
        started = [(t, _new_job(instance, t)) for guid, t in after.services.items() if guid not in prior.services]
    for task in after.decisions:
        outputs = [o.name for o in task.task_spec.dmnEngine.decision_table.outputs]
        record(actor, "decision.evaluated", "process_instance", instance.id, element_id=task.task_spec.bpmn_id,
               table=task.task_spec.dmnEngine.decision_table.id,
               result={name: task.data.get(name) for name in outputs})
    close_tasks(instance, passed, "the process moved on without it", actor)
    for row, note in opened:
        record(actor, "task.ready", "process_instance", instance.id, task_guid=row.task_guid,
               element_id=row.element_id, assignee_id=row.assignee_id,
               candidate_user_ids=[c.user_id for c in row.candidates if c.user_id is not None],
               candidate_roles=[str(c.role) for c in row.candidates if c.role is not None],
               **({"level": row.level} if row.level is not None else {}), **({"note": note} if note else {}))
    for spiff_task, job in started:
        record(actor, "service.started", "process_instance", instance.id, element_id=spiff_task.task_spec.bpmn_id,
               task_guid=job.task_guid, operation=job.operation, params=job.params)
    result.new_tasks, result.jobs = [row for row, _ in opened], [job for _, job in started]
    if workflow.is_completed():
        instance.status = InstanceStatus.COMPLETED
        instance.outcome = end_event(workflow)
        record(actor, "process.completed", "process_instance", instance.id, outcome=instance.outcome)
    return result


def _open_rows(instance_id: int, guids: set[str]) -> list[HumanTask]:
    """The instance's ready inbox rows for these task guids (state as this session last set it)."""
    if not guids:
        return []
    query = (select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.task_guid.in_(guids))
             .order_by(HumanTask.id))
    return [t for t in db.session.execute(query).scalars() if t.state == TaskState.READY]


def close_tasks(instance: ProcessInstance, tasks: list[HumanTask], reason: str, actor: Actor) -> None:
    """Close inbox tasks nobody will do now, each with an audit event saying why."""
    now = utcnow()
    for task in tasks:
        task.state = TaskState.CANCELLED
        task.completed_at = now
        record(actor, "task.cancelled", "process_instance", instance.id, task_id=task.id,
               task_guid=task.task_guid, element_id=task.element_id, reason=reason)


def end_event(workflow: Any) -> str | None:
    """The BPMN id of the end event the (top-level) process finished at."""
    ends = [t for t in workflow.get_tasks(state=SpiffState.COMPLETED, spec_class=EndEvent) if t.workflow is workflow]
    return max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_id if ends else None


def _new_task(instance: ProcessInstance, spiff_task: Any) -> tuple[HumanTask, str | None]:
    """The inbox row of a user task that has become ready, for whoever its rule names (added, not flushed), and
    why it went where it did when that needs saying."""
    spec = spiff_task.task_spec
    properties = spec.extensions.get("properties", {})
    try:
        target = assignment.for_task(properties, spec.lane, spiff_task.data)
    except PolicyViolation as exc:  # the step cannot be taken: like an expression that fails, it fails the process
        element = f"{spec.bpmn_id} ({spec.bpmn_name})" if spec.bpmn_name else spec.bpmn_id
        raise WorkflowFailed(f"the process stopped: the task {element} can be given to nobody: {exc.message}") from exc
    task = HumanTask(
        instance_id=instance.id, task_guid=str(spiff_task.id), element_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id, assignee_id=target.assignee_id, level=target.level,
        decisions=properties.get("decisions", "approve,reject"),
        candidates=[TaskCandidate(user_id=u) for u in target.candidate_user_ids]
        + [TaskCandidate(role=r) for r in target.candidate_roles],
    )
    db.session.add(task)
    return task, target.note


def _new_job(instance: ProcessInstance, spiff_task: Any) -> Job:
    """The job that runs a service task which has started (added, not flushed)."""
    request = spiff_task.internal_data[SERVICE_REQUEST]
    job = Job(key=service_job_key(instance.id, str(spiff_task.id)), operation=request["operation"],
              instance_id=instance.id, task_guid=str(spiff_task.id), params=request["params"],
              status=JobStatus.QUEUED)
    db.session.add(job)
    return job
