"""The what-if: a deployed process run in memory, as if an application had been filed with the given data, to see
the path it would take and who would be asked at each step.

Nothing is written: the workflow lives only in memory (no instance row, no inbox rows, jobs or timers), and
deciding who a task goes to only reads. Each ready user task is recorded with the people its rule names, then
completed with a decision (approve, unless the caller chose another for that step); each service task is recorded
and completed with the result the caller says its operator would give, without running it; each timer the process
waits on alone is recorded and fired. The run stops at the end of the process, when it waits on something nothing
here can give (a message), when a step fails, or after a bound on steps (a loop).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState as SpiffState

from app.errors import DomainError
from app.models import REQUESTER_DECISIONS, ProcessDefinition
from app.workflow import store
from app.workflow.assignment import (
    CAMUNDA_ASSIGNEE,
    CAMUNDA_GROUPS,
    CAMUNDA_USERS,
    POLICY_LEVEL,
    Assignment,
    resolve,
)
from app.workflow.serializer import new_workflow
from app.workflow.specs import SERVICE_REQUEST
from app.workflow.steps import end_event, run, scan

# The decision that lets a task's interrupting boundary timer fire instead of anyone deciding (the deadline passes).
TIMEOUT = "timeout"
# Steps recorded at most (a diagram may loop: return, resubmit, return …) and engine tasks run at most between two
# of them (a loop of gateways that never waits; SpiffWorkflow itself stops looking for ready tasks 1,000 deep in
# its task tree, and would call such a process complete).
MAX_STEPS = 200
MAX_ENGINE_TASKS = 500

# What a service task's operator would answer: (operation, evaluated parameters) -> its result.
ServiceAnswer = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class TimerWait:
    """A timer the process waits on: when it falls due, and after how long when it is a duration."""

    due_at: datetime
    duration: timedelta | None
    attached_to: str | None = None  # the task whose boundary it is, if any


@dataclass(frozen=True)
class PathStep:
    """One step of the simulated path. kind: user_task, service_task, timer, end or stopped."""

    kind: str
    element_id: str
    name: str
    rule: str = ""  # the user task's assignment rule as the diagram writes it
    assignment: Assignment | None = None
    level: dict[str, Any] | None = None  # the policy level the task decides ({level, approver, label})
    decisions: tuple[str, ...] = ()  # what the task offers
    decision: str | None = None  # what the simulation decided
    deadlines: tuple[TimerWait, ...] = ()  # the task's boundary timers
    operation: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    timer: TimerWait | None = None
    reason: str = ""  # why the run stopped here

    @property
    def requester_only(self) -> bool:
        """Whether the task is the requester's own step (revise and resubmit, withdraw), not a decision on it."""
        return bool(self.decisions) and set(self.decisions) <= REQUESTER_DECISIONS


class _Looping(Exception):
    """The process ran more engine tasks without waiting than MAX_ENGINE_TASKS."""


def rule_of(spec: Any) -> str:
    """A user task's assignment rule as written: its SealFlow assignee, Camunda's fields, or its lane."""
    properties = spec.extensions.get("properties", {})
    if properties.get("assignee"):
        return f"assignee {properties['assignee']}"
    camunda = [f"{name} {properties[name]}" for name in (CAMUNDA_ASSIGNEE, CAMUNDA_USERS, CAMUNDA_GROUPS)
               if properties.get(name)]
    if camunda:
        return "; ".join(camunda)
    return f"lane {spec.lane}" if spec.lane else ""


def _timer_wait(spiff_task: Any) -> TimerWait:
    """When a waiting timer falls due (naive UTC), and after how long when it is a duration."""
    definition = spiff_task.task_spec.event_definition
    value = definition.details(spiff_task).value
    started = datetime.fromtimestamp(spiff_task.last_state_change, UTC)
    due = TimerEventDefinition.get_datetime(value).astimezone(UTC) if value else started
    # SpiffWorkflow added the duration to its clock a moment after the timer began to wait: whole seconds are meant.
    duration = (timedelta(seconds=round((due - started).total_seconds()))
                if isinstance(definition, DurationTimerEventDefinition) else None)
    attached_to = None
    if isinstance(spiff_task.task_spec, BoundaryEvent):  # its siblings under one split: the task, its other events
        sibling = next((t for t in spiff_task.parent.children if not isinstance(t.task_spec, BoundaryEvent)), None)
        attached_to = sibling.task_spec.bpmn_id if sibling is not None else None
    return TimerWait(due.replace(tzinfo=None), duration, attached_to)


def _engine(workflow: Any) -> None:
    """Run the engine until the process waits, giving up on a loop that never waits."""
    count = 0

    def counted(_task: Any) -> None:
        nonlocal count
        count += 1
        if count > MAX_ENGINE_TASKS:
            raise _Looping

    run(lambda: workflow.do_engine_steps(will_complete_task=counted))


class _Run:
    """One simulation: the workflow, the steps so far and how to answer the caller's choices."""

    def __init__(self, workflow: Any, answer: ServiceAnswer, choices: Mapping[int, str],
                 department_id: int | None) -> None:
        self.workflow, self.answer, self.choices, self.department_id = workflow, answer, choices, department_id
        self.steps: list[PathStep] = []
        self.user_steps = 0

    def user_task(self, spiff_task: Any, timers: list[Any]) -> None:
        spec = spiff_task.task_spec
        properties = spec.extensions.get("properties", {})
        decisions = tuple(d.strip() for d in properties.get("decisions", "approve,reject").split(",") if d.strip())
        deadlines = [t for t in timers if _timer_wait(t).attached_to == spec.bpmn_id]
        self.user_steps += 1
        allowed = decisions + ((TIMEOUT,) if deadlines else ())
        chosen = self.choices.get(self.user_steps)
        decision = chosen if chosen in allowed else ("approve" if "approve" in decisions else decisions[0])
        step = PathStep("user_task", spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, rule_of(spec),
                    resolve(properties, spec.lane, spiff_task.data, self.department_id),
                    level=spiff_task.data.get(POLICY_LEVEL) if properties.get("assignee") == "policy" else None,
                    decisions=decisions, decision=decision,
                    deadlines=tuple(_timer_wait(t) for t in deadlines))
        self.steps.append(step)
        if decision == TIMEOUT and deadlines:
            self.fire(deadlines[0])
            return
        spiff_task.data.update({"decision": decision, "comment": "what-if"})
        run(lambda: spiff_task.run())

    def service_task(self, spiff_task: Any) -> None:
        spec = spiff_task.task_spec
        request = spiff_task.internal_data[SERVICE_REQUEST]
        result = self.answer(request["operation"], dict(request["params"]))
        self.steps.append(PathStep("service_task", spec.bpmn_id, spec.bpmn_name or spec.bpmn_id,
                               operation=request["operation"], params=dict(request["params"]), result=result))
        spiff_task.data[spec.result_variable] = result
        run(lambda: spiff_task.complete())

    def timer(self, spiff_task: Any) -> None:
        spec = spiff_task.task_spec
        self.steps.append(PathStep("timer", spec.bpmn_id, spec.bpmn_name or spec.bpmn_id,
                               timer=_timer_wait(spiff_task)))
        self.fire(spiff_task)

    def fire(self, spiff_task: Any) -> None:
        spiff_task._set_internal_data(event_fired=True)  # noqa: SLF001 - as engine.fire_timer does
        run(self.workflow.refresh_timers)

    def stop(self, reason: str, element_id: str = "", name: str = "") -> None:
        self.steps.append(PathStep("stopped", element_id, name, reason=reason))

    def advance(self) -> bool:
        """Take one step; False when the run is over."""
        if self.workflow.is_completed():
            end = end_event(self.workflow) or ""
            self.steps.append(PathStep("end", end, self._name_of(end)))
            return False
        waits = scan(self.workflow)
        spiff_task: Any = next(iter({**waits.user_tasks, **waits.services, **waits.timers}.values()), None)
        try:
            if waits.user_tasks:
                self.user_task(spiff_task, list(waits.timers.values()))
            elif waits.services:
                self.service_task(spiff_task)
            elif waits.timers:
                self.timer(spiff_task)
        except DomainError as exc:  # this step cannot be taken (nobody to assign it to, say): say where
            self.stop(exc.message, spiff_task.task_spec.bpmn_id, spiff_task.task_spec.bpmn_name or "")
            return False
        if spiff_task is None:
            waiting = [t for t in self.workflow.get_tasks(state=SpiffState.WAITING)
                       if getattr(t.task_spec, "event_definition", None) is not None]
            spec = waiting[0].task_spec if waiting else None
            self.stop("waits for something no step gives (a message or signal)",
                      spec.bpmn_id if spec is not None else "", self._name_of(spec.bpmn_id) if spec else "")
            return False
        _engine(self.workflow)
        return True

    def _name_of(self, element_id: str) -> str:
        spec = next((t.task_spec for t in self.workflow.get_tasks() if t.task_spec.bpmn_id == element_id), None)
        return (spec.bpmn_name or element_id) if spec is not None else element_id


def simulate_path(definition: ProcessDefinition, data: dict[str, Any], answer: ServiceAnswer,
                  choices: Mapping[int, str] | None = None, department_id: int | None = None) -> list[PathStep]:
    """The path a process version would take with the data a filing gives it, step by step, without writing
    anything.

    :param definition: the deployed version to run.
    :param data: the process data a filing would give (requester_id, required_approvals …).
    :param answer: what each service task's operator would give back (it is never run).
    :param choices: the decision to take at the n-th user task (1-based) instead of approve; TIMEOUT lets the
        task's boundary timer fire instead.
    :param department_id: the requester's department as supposed, instead of their own.
    """
    workflow = new_workflow(store.specs_of(definition))
    workflow.data.update(data)
    workflow.get_next_task(state=SpiffState.READY).data.update(data)
    simulation = _Run(workflow, answer, choices or {}, department_id)
    try:
        _engine(workflow)
        while simulation.advance():
            if len(simulation.steps) >= MAX_STEPS:
                simulation.stop(f"stopped after {MAX_STEPS} steps: the process loops")
                break
    except _Looping:
        simulation.stop(f"the process ran {MAX_ENGINE_TASKS} steps without waiting for anyone: it loops")
    except DomainError as exc:
        simulation.stop(exc.message)
    return simulation.steps
