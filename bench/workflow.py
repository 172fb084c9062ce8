"""SealFlow's workflow engine against "the floor": the shipped seal_application process on bare SpiffWorkflow.

Run by hand: `.venv/bin/python bench/workflow.py [--instances 1000] [--postgres URL]` (add `--profile 50` to see
where SealFlow on SQLite spends its time).

It runs N instances of bpmn/seal_application.bpmn to completion, every user task approved (or resubmitted, when
a task offers no approval), every service task answered by a no-op, in four ways:

* floor: SpiffWorkflow alone, in memory: the diagram (plus seal_policies/*.dmn) parsed once with SpiffBpmnParser,
  a plain PythonScriptEngine whose service calls return `{}`, and a JSON round trip of the whole workflow
  (BpmnWorkflowSerializer with SPIFF_CONFIG) after every step: the start, each user task, each service task;
* floor on PostgreSQL: the same steps, each one a transaction of its own on the throwaway database (psycopg, no
  ORM): the instance's row read and locked (SELECT … FOR UPDATE), its JSON state deserialized, the step run, the
  state serialized and written back (UPDATE), commit; the start INSERTs the row;
* SealFlow on SQLite: app.workflow's start / complete_task, one commit per step (a web request), and each service
  job run by the worker's own function (app.jobs.runner.run_job: claim, operator, resume, with their commits),
  the operator replaced by a no-op;
* SealFlow on PostgreSQL: the same, in a throwaway database on the given server (skipped when it is unreachable).

Setup (parsing, schema, organisation, deployment) and a few warm-up instances are not timed. For SealFlow only the
steps are timed (each in an app context of its own, as a request or an RQ job has), not the bench's lookups of ready
tasks and queued jobs between them. The modes take turns in batches, so that the load of a shared machine falls
on all of them alike.
The last lines are `workflow_postgresql_ratio=<SealFlow on PostgreSQL / floor on PostgreSQL>` and
`workflow_sqlite_ratio=<SealFlow on SQLite / floor>` (instances per second).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: `app` lives in the checkout root; bench/ leaves sys.path, or bench/http.py would
# stand for the standard library's http (which werkzeug imports).
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT)]

from flask import Flask  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine  # noqa: E402
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.spiff.specs.defaults import ServiceTask  # noqa: E402
from SpiffWorkflow.util.task import TaskState as SpiffState  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import create_app  # noqa: E402
from app.errors import InvalidTransition  # noqa: E402
from app.extensions import db  # noqa: E402
from app.jobs.runner import run_job  # noqa: E402
from app.models import HumanTask, InstanceStatus, Job, JobStatus, ProcessInstance, RoleName, TaskState  # noqa: E402
from app.models.audit import Actor  # noqa: E402
from app.services import accounts, flows, operators  # noqa: E402
from app.services.operators import OPERATORS  # noqa: E402
from app.services.queue import shutdown_embedded  # noqa: E402
from app.workflow import complete_task, start, tasks_of  # noqa: E402
from app.workflow.evaluator import evaluate_isolated  # noqa: E402
from app.workflow.expressions import compiled  # noqa: E402
from app.workflow.scripting import RestrictedEnvironment  # noqa: E402
from config import TestConfig  # noqa: E402

PROCESS_ID = "seal_application"
BPMN_DIR = ROOT / "bpmn"
POLICY_DIR = ROOT / "seal_policies"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCHES = 10  # each mode runs its instances in this many batches, the modes taking turns
WARMUP = 5  # untimed instances per mode first: imports, statement caches, first-use costs
MAX_STEPS = 200  # per instance; more means a loop the bench's decisions never leave
PASSWORD = "bench password"
DECISION_PREFERENCE = ("approve", "resubmit")


def start_data(requester_id: int) -> dict[str, Any]:
    """The process data an application starts with (no application row: the service tasks are no-ops)."""
    return {"application_id": None, "requester_id": requester_id, "document_type": "contract",
            "amount": 50000.0, "seal_id": None, "seal_kind": "contract",
            # What the seal policy gives such a contract when it is filed: the department head's approval.
            "required_approvals": [{"level": 1, "approver": "department_head", "label": "Department head"}]}


def choose_decision(choices: list[str]) -> str:
    """Approve when the task offers it, else resubmit (a return-for-revision task), else its first choice."""
    return next((d for d in DECISION_PREFERENCE if d in choices), choices[0] if choices else "approve")


class StuckError(RuntimeError):
    """An instance stopped moving: nothing to complete, nothing to resume, not completed."""


# ----------------------------------------------------------------------------------------------------- floor

class NoopServiceEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's plain task-data environment; every service call answers an empty JSON object."""

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        return "{}"


class _ServiceReady(Exception):
    """Raised before a service task runs, so that it runs as a step of its own."""


def _stop_at_service(task: Any) -> None:
    if isinstance(task.task_spec, ServiceTask):
        raise _ServiceReady


@dataclass
class Floor:
    """The parsed process, its serializer and script engine: made once, outside the timing."""

    spec: Any
    subprocess_specs: dict[str, Any]
    serializer: BpmnWorkflowSerializer
    engine: PythonScriptEngine


def load_floor() -> Floor:
    """Parse every shipped diagram and policy table with SpiffWorkflow's own spiff parser."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_files(sorted(str(p) for p in BPMN_DIR.glob("*.bpmn")))
    dmn = sorted(str(p) for p in POLICY_DIR.glob("*.dmn"))
    if dmn:
        parser.add_dmn_files(dmn)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    return Floor(parser.get_spec(PROCESS_ID), parser.get_subprocess_specs(PROCESS_ID), serializer,
                 PythonScriptEngine(environment=NoopServiceEnvironment()))


def _advance(workflow: BpmnWorkflow) -> None:
    """Engine steps until the process waits for a person or a service task is next."""
    try:
        workflow.do_engine_steps(will_complete_task=_stop_at_service)
    except _ServiceReady:
        pass


def _round_trip(floor: Floor, workflow: BpmnWorkflow) -> BpmnWorkflow:
    """What persisting a step costs at the least: to JSON text and back."""
    text = json.dumps(floor.serializer.to_dict(workflow))
    restored = floor.serializer.from_dict(json.loads(text))
    restored.script_engine = floor.engine
    return restored


def _floor_step(floor: Floor, workflow: BpmnWorkflow) -> BpmnWorkflow | None:
    """Run the next user task or service task, then the engine on to the next wait; None: nothing to run."""
    for task in workflow.get_tasks(state=SpiffState.READY, manual=True):
        choices = task.task_spec.extensions.get("properties", {}).get("decisions", "approve,reject")
        task.data.update({"decision": choose_decision([c.strip() for c in choices.split(",") if c.strip()]),
                          "comment": ""})
        task.run()
        return workflow
    for task in workflow.get_tasks(state=SpiffState.READY, spec_class=ServiceTask):
        task.run()
        return workflow
    return None


def run_floor_instance(floor: Floor, data: dict[str, Any]) -> BpmnWorkflow:
    """One instance, start to end, with a JSON round trip after every step."""
    workflow = BpmnWorkflow(floor.spec, floor.subprocess_specs, script_engine=floor.engine)
    workflow.data.update(data)
    workflow.get_next_task(state=SpiffState.READY).data.update(data)
    _advance(workflow)
    workflow = _round_trip(floor, workflow)
    for _ in range(MAX_STEPS):
        if workflow.is_completed():
            return workflow
        if _floor_step(floor, workflow) is None:
            raise StuckError("the floor's workflow waits on something other than a user or service task")
        _advance(workflow)
        workflow = _round_trip(floor, workflow)
    raise StuckError(f"the floor's workflow did not complete in {MAX_STEPS} steps")


def end_event(workflow: BpmnWorkflow) -> str:
    """The BPMN id of the end event a completed top-level process finished at."""
    ends = [t for t in workflow.get_tasks(state=SpiffState.COMPLETED, spec_class=EndEvent) if t.workflow is workflow]
    return max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_id if ends else "none"


@dataclass
class FloorRun:
    """The floor, warmed up, adding up the time its instances take."""

    floor: Floor
    data: dict[str, Any]
    outcome: str
    seconds: float = 0.0

    def run(self, instances: int) -> None:
        started = time.perf_counter()
        for _ in range(instances):
            run_floor_instance(self.floor, dict(self.data))
        self.seconds += time.perf_counter() - started


def prepare_floor() -> FloorRun:
    """Parse, then run a few untimed instances (the last one's end event is the floor's outcome)."""
    floor = load_floor()
    data = start_data(requester_id=1)  # the floor reads no users; the data has the same shape
    outcome = [end_event(run_floor_instance(floor, dict(data))) for _ in range(WARMUP)][-1]
    return FloorRun(floor, data, outcome)


# ---------------------------------------------------------------------------------------- floor on PostgreSQL

FLOOR_TABLE = "CREATE TABLE floor_instances (id serial PRIMARY KEY, state json NOT NULL)"


def _pg_floor_start(floor: Floor, connection: Any, data: dict[str, Any]) -> int:
    """Start an instance, run it to its first wait, INSERT its state; its row id."""
    from psycopg.types.json import Json

    workflow = BpmnWorkflow(floor.spec, floor.subprocess_specs, script_engine=floor.engine)
    workflow.data.update(data)
    workflow.get_next_task(state=SpiffState.READY).data.update(data)
    _advance(workflow)
    with connection.transaction():
        row = connection.execute("INSERT INTO floor_instances (state) VALUES (%s) RETURNING id",
                                 (Json(floor.serializer.to_dict(workflow)),)).fetchone()
    return int(row[0])


def _pg_floor_step(floor: Floor, connection: Any, instance_id: int) -> bool:
    """One step in one transaction: read and lock the row, deserialize, run, serialize, UPDATE; True when the
    instance has completed."""
    from psycopg.types.json import Json

    with connection.transaction():
        state = connection.execute("SELECT state FROM floor_instances WHERE id = %s FOR UPDATE",
                                   (instance_id,)).fetchone()[0]
        workflow = floor.serializer.from_dict(state)
        workflow.script_engine = floor.engine
        if _floor_step(floor, workflow) is None:
            raise StuckError("the floor's workflow waits on something other than a user or service task")
        _advance(workflow)
        connection.execute("UPDATE floor_instances SET state = %s WHERE id = %s",
                           (Json(floor.serializer.to_dict(workflow)), instance_id))
    return bool(workflow.is_completed())


def run_pg_floor_instance(floor: Floor, connection: Any, data: dict[str, Any]) -> int:
    """One instance, start to end, its state saved in PostgreSQL after every step; its row id."""
    instance_id = _pg_floor_start(floor, connection, data)
    for _ in range(MAX_STEPS):
        if _pg_floor_step(floor, connection, instance_id):
            return instance_id
    raise StuckError(f"the floor's workflow did not complete in {MAX_STEPS} steps")


@dataclass
class PostgresFloorRun:
    """The floor on PostgreSQL, warmed up, adding up the time its instances take."""

    floor: Floor
    connection: Any
    data: dict[str, Any]
    outcome: str
    seconds: float = 0.0

    def run(self, instances: int) -> None:
        started = time.perf_counter()
        for _ in range(instances):
            run_pg_floor_instance(self.floor, self.connection, dict(self.data))
        self.seconds += time.perf_counter() - started


@contextmanager
def pg_floor(uri: str) -> Iterator[PostgresFloorRun]:
    """The floor's table on the throwaway database, its connection, a few untimed instances."""
    import psycopg

    floor = load_floor()
    data = start_data(requester_id=1)
    with psycopg.connect(make_url(uri).set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as connection:
        connection.execute(FLOOR_TABLE)
        for _ in range(WARMUP):
            last = run_pg_floor_instance(floor, connection, dict(data))
        state = connection.execute("SELECT state FROM floor_instances WHERE id = %s", (last,)).fetchone()[0]
        yield PostgresFloorRun(floor, connection, data, end_event(floor.serializer.from_dict(state)))


# -------------------------------------------------------------------------------------------------- SealFlow

@dataclass
class Organisation:
    """Who acts: the requester, and an actor per user id and per role (for tasks offered to candidates)."""

    requester_id: int
    by_user: dict[int, Actor]
    by_role: dict[RoleName, Actor]


@dataclass
class StepClock:
    """Adds up the time spent in steps, and profiles only them when given a profiler."""

    profiler: cProfile.Profile | None = None
    seconds: float = 0.0
    steps: int = 0

    @contextmanager
    def step(self) -> Iterator[None]:
        if self.profiler is not None:
            self.profiler.enable()
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started
            self.steps += 1
            if self.profiler is not None:
                self.profiler.disable()


def build_app(instance_dir: Path, database_uri: str) -> Flask:
    """A SealFlow app on the given database, with embedded Redis (nothing is ever enqueued)."""
    return create_app(TestConfig(instance_dir, SQLALCHEMY_DATABASE_URI=database_uri, REDIS_URL=""))


def create_organisation() -> Organisation:
    """The test suite's organisation (emma in Sales under harry, olga, alice, sam) plus a leader; flows deployed."""
    sales = accounts.get_or_create_department("Sales")
    office = accounts.get_or_create_department("Office")
    users = [
        accounts.save_user("emma", "Emma", PASSWORD, {RoleName.EMPLOYEE}, sales),
        accounts.save_user("harry", "Harry", PASSWORD, {RoleName.EMPLOYEE, RoleName.APPROVER}, sales),
        accounts.save_user("olga", "Olga", PASSWORD, {RoleName.APPROVER}, office),
        accounts.save_user("alice", "Alice", PASSWORD, {RoleName.AUDITOR}, office),
        accounts.save_user("sam", "Sam", PASSWORD, {RoleName.SEAL_ADMIN}, office),
        accounts.save_user("leo", "Leo", PASSWORD, {RoleName.LEADER}, office),
    ]
    sales.head = users[1]
    flows.deploy_shipped(Actor.system("bench"))
    db.session.commit()
    by_role: dict[RoleName, Actor] = {}
    for user in users:
        for role in user.role_names:
            by_role.setdefault(role, Actor.of(user))
    return Organisation(users[0].id, {u.id: Actor.of(u) for u in users}, by_role)


def _actor_for(task: HumanTask, org: Organisation) -> Actor:
    """The assignee, else the first candidate user, else someone holding a candidate role."""
    if task.assignee_id is not None:
        return org.by_user[task.assignee_id]
    for candidate in task.candidates:
        if candidate.user_id is not None:
            return org.by_user[candidate.user_id]
        if candidate.role is not None and candidate.role in org.by_role:
            return org.by_role[candidate.role]
    raise StuckError(f"nobody in the bench's organisation can do the task {task.name!r}")


def _finished(status: InstanceStatus) -> bool:
    if status in (InstanceStatus.FAILED, InstanceStatus.CANCELLED):
        raise StuckError(f"an instance ended {status}")
    return status == InstanceStatus.COMPLETED


# Each step runs in an app context of its own, as a web request or an RQ job does (a fresh session each).

def _start_step(app: Flask, org: Organisation) -> tuple[int, bool]:
    with app.app_context():
        step = start(PROCESS_ID, start_data(org.requester_id), None, org.by_user[org.requester_id])
        instance_id, done = step.instance.id, _finished(step.instance.status)
        db.session.commit()
    return instance_id, done


def _task_step(app: Flask, task_id: int, actor: Actor, decision: str) -> bool | None:
    """Complete one task; None when an earlier step closed it (e.g. another branch won)."""
    with app.app_context():
        try:
            step = complete_task(task_id, actor, {"decision": decision, "comment": ""})
        except InvalidTransition:
            db.session.rollback()
            return None
        done = _finished(step.instance.status)
        db.session.commit()
    return done


def _no_op(params: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """The sealing operator's stand-in: the bench measures the engine, not the PDF work."""
    return {}


def _job_step(app: Flask, job_id: int) -> bool:
    """What the worker does with a job (app.jobs.runner.run_job: claim, operator, resume, commits), with the
    operator a no-op; False when it was no longer queued."""
    with app.app_context():
        return run_job(job_id) == "done"


def _instance_finished(app: Flask, instance_id: int) -> bool:
    """Whether a job's step ended the instance: the bench's lookup, not timed."""
    with app.app_context():
        instance = db.session.get(ProcessInstance, instance_id)
        assert instance is not None
        return _finished(instance.status)


def _pending_work(app: Flask, instance_id: int, org: Organisation) -> tuple[list[tuple[int, Actor, str]], list[int]]:
    """The instance's ready tasks (id, who does it, decision) and queued jobs: the bench's driving, not timed."""
    with app.app_context():
        tasks = [(t.id, _actor_for(t, org), choose_decision(t.decision_choices))
                 for t in tasks_of(instance_id) if t.state == TaskState.READY]
        query = select(Job.id).where(Job.instance_id == instance_id, Job.status == JobStatus.QUEUED).order_by(Job.id)
        jobs = list(db.session.execute(query).scalars())
    return tasks, jobs


def run_sealflow_instance(app: Flask, org: Organisation, clock: StepClock) -> None:
    """One instance, start to end, through the engine's interface, one commit per step."""
    with clock.step():
        instance_id, done = _start_step(app, org)
    for _ in range(MAX_STEPS):
        if done:
            return
        tasks, jobs = _pending_work(app, instance_id, org)
        if not tasks and not jobs:
            raise StuckError(f"instance {instance_id} waits on something the bench does not drive")
        results = []
        for task_id, actor, decision in tasks:
            with clock.step():
                results.append(_task_step(app, task_id, actor, decision))
        for job_id in jobs:
            with clock.step():
                ran = _job_step(app, job_id)
            results.append(ran and _instance_finished(app, instance_id))
        done = any(results)
    raise StuckError(f"instance {instance_id} did not complete in {MAX_STEPS} rounds")


def _outcomes() -> str:
    query = select(ProcessInstance.outcome, func.count()).group_by(ProcessInstance.outcome)
    return ", ".join(f"{outcome} ×{count}" for outcome, count in db.session.execute(query))


@dataclass
class SealFlowRun:
    """A SealFlow app with its schema, organisation and flows, warmed up; its clock adds up step time."""

    app: Flask
    org: Organisation
    clock: StepClock

    def run(self, instances: int) -> None:
        for _ in range(instances):
            run_sealflow_instance(self.app, self.org, self.clock)

    def outcomes(self) -> str:
        with self.app.app_context():
            query = select(ProcessInstance.outcome, func.count()).group_by(ProcessInstance.outcome)
            return ", ".join(f"{outcome} ×{count}" for outcome, count in db.session.execute(query))


@contextmanager
def sealflow(instance_dir: Path, database_uri: str, profiler: cProfile.Profile | None = None) -> Iterator[SealFlowRun]:
    """SealFlow on a fresh schema, set up and warmed up outside the timing; embedded Redis stopped afterwards."""
    app = build_app(instance_dir, database_uri)
    # This process only (the bench is not the server): the sealing operator is a no-op on processes without an
    # application, so it is no sealing operator here and the gate (which needs an application) is not asked.
    OPERATORS["seal_document"] = _no_op
    operators.SEALING_OPERATORS = frozenset()
    try:
        with app.app_context():
            db.create_all()
            org = create_organisation()
        for _ in range(WARMUP):
            run_sealflow_instance(app, org, StepClock())
        yield SealFlowRun(app, org, StepClock(profiler))
        with app.app_context():
            db.engine.dispose()
    finally:
        shutdown_embedded(app)


def sqlite_uri(instance_dir: Path) -> str:
    return f"sqlite:///{instance_dir / 'sealflow.sqlite'}"


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database for the bench, dropped afterwards; None when the server is unreachable."""
    import psycopg

    name = f"sealflow_bench_{os.getpid()}"
    try:
        admin = psycopg.connect(server_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        print(f"note: PostgreSQL at {server_url} is unreachable, skipping it ({str(exc).strip().splitlines()[0]})")
        yield None
        return
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# ------------------------------------------------------------------------------------------------ reporting

def batches(instances: int) -> list[int]:
    """The instances split into BATCHES near-equal parts (empty parts dropped)."""
    return [n for n in (instances // BATCHES + (1 if b < instances % BATCHES else 0) for b in range(BATCHES)) if n]


Mode = FloorRun | PostgresFloorRun | SealFlowRun
# Each mode's floor: SealFlow on SQLite against SpiffWorkflow in memory, on PostgreSQL against the floor saving there.
FLOOR_OF = {"floor": "floor", "SealFlow on SQLite": "floor", "floor on PostgreSQL": "floor on PostgreSQL",
            "SealFlow on PostgreSQL": "floor on PostgreSQL"}


def interleave(modes: dict[str, Mode], instances: int) -> None:
    """Run every mode batch by batch in turn, so that a busy spell on the machine hits all of them alike."""
    for size in batches(instances):
        for mode in modes.values():
            mode.run(size)


def ratio(seconds: dict[str, float], mode: str) -> float:
    """The mode's instances per second over its floor's (the same instances: the inverse ratio of the seconds)."""
    return seconds[FLOOR_OF[mode]] / seconds[mode]


def print_table(instances: int, seconds: dict[str, float]) -> None:
    print(f"{'mode':<22} {'instances':>9} {'seconds':>9} {'instances/s':>11} {'its floor':>20} {'ratio':>6}")
    for mode, value in seconds.items():
        print(f"{mode:<22} {instances:>9} {value:>9.2f} {instances / value:>11.1f} {FLOOR_OF[mode]:>20} "
              f"{ratio(seconds, mode):>6.2f}")


class _RecordingEnvironment(NoopServiceEnvironment):
    """The floor's environment, keeping every expression it evaluates with the names it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        self.seen.append((expression, {**(external_context or {}), **context}))
        return super().evaluate(expression, context, external_context)


def _per_call(evaluate: Any, seen: list[tuple[str, dict[str, Any]]], rounds: int) -> float:
    """Microseconds per evaluation, over `rounds` passes through the recorded expressions."""
    started = time.perf_counter()
    for _ in range(rounds):
        for expression, names in seen:
            evaluate(expression, names)
    return (time.perf_counter() - started) / (rounds * len(seen)) * 1e6


def expression_costs(steps_per_instance: float, rounds: int = 200) -> None:
    """What bounding expressions costs: the expressions one instance of the shipped process evaluates (recorded on
    the floor), evaluated by the floor's environment, by SealFlow's (in process when plain, else in the evaluator
    process), and all of them in the evaluator process (what any expression that is not plain costs)."""
    recording = _RecordingEnvironment()
    floor = load_floor()
    floor.engine = PythonScriptEngine(environment=recording)
    run_floor_instance(floor, start_data(1))
    seen = recording.seen
    plain = sum(1 for expression, _ in seen if compiled(expression)[1])
    floor_us = _per_call(NoopServiceEnvironment().evaluate, seen, rounds)
    ours = RestrictedEnvironment()
    ours_us = _per_call(lambda e, n: ours.evaluate(e, n), seen, rounds)
    evaluate_isolated("1", {})  # the evaluator process starts on first use: not timed
    isolated_us = _per_call(evaluate_isolated, seen, rounds)
    per_step = len(seen) / steps_per_instance
    print(f"expression limits: {len(seen)} evaluations per instance ({per_step:.1f} per step), {plain} plain (run in "
          f"process), {len(seen) - plain} in the evaluator process; per evaluation: floor {floor_us:.1f} us, "
          f"SealFlow {ours_us:.1f} us, in the evaluator process {isolated_us:.1f} us")
    print(f"expression limits per step: {(ours_us - floor_us) * per_step:+.1f} us as shipped; "
          f"{(isolated_us - floor_us) * per_step:+.1f} us were every expression sent to the evaluator process")


def report(instances: int, postgres: str) -> None:
    """Set every mode up, run them interleaved, print the table; the last lines are the ratios."""
    with tempfile.TemporaryDirectory(prefix="sealflow-bench-") as tmp, ExitStack() as stack:
        sqlite_dir, pg_dir = Path(tmp) / "sqlite", Path(tmp) / "postgresql"
        modes: dict[str, Mode] = {
            "floor": prepare_floor(),
            "SealFlow on SQLite": stack.enter_context(sealflow(sqlite_dir, sqlite_uri(sqlite_dir))),
        }
        uri = stack.enter_context(throwaway_database(postgres)) if postgres else None
        if uri is not None:
            modes["floor on PostgreSQL"] = stack.enter_context(pg_floor(uri))
            modes["SealFlow on PostgreSQL"] = stack.enter_context(sealflow(pg_dir, uri))
        started = time.perf_counter()
        interleave(modes, instances)
        wall = time.perf_counter() - started
        print(f"{instances} instances per mode in {len(batches(instances))} interleaved batches, {wall:.1f} s wall; "
              f"SealFlow seconds are the time inside its steps (the bench's inbox and job lookups excluded)")
        seconds: dict[str, float] = {}
        for name, mode in modes.items():
            if isinstance(mode, FloorRun | PostgresFloorRun):
                seconds[name] = mode.seconds
                print(f"  {name}: outcome {mode.outcome}")
            else:
                seconds[name] = mode.clock.seconds
                print(f"  {name}: {mode.clock.steps} steps; outcomes (incl. {WARMUP} warm-up): {mode.outcomes()}")
    print_table(instances, seconds)
    sqlite_run = modes["SealFlow on SQLite"]
    assert isinstance(sqlite_run, SealFlowRun)
    expression_costs(sqlite_run.clock.steps / (instances + WARMUP))
    if "SealFlow on PostgreSQL" in seconds:
        print(f"workflow_postgresql_ratio={ratio(seconds, 'SealFlow on PostgreSQL'):.2f}")
    print(f"workflow_sqlite_ratio={ratio(seconds, 'SealFlow on SQLite'):.2f}", flush=True)


def profile(instances: int, limit: int, postgres: str | None) -> None:
    """cProfile SealFlow on SQLite, or on PostgreSQL when given a server (its steps only): SealFlow's functions by
    cumulative time, then all by own time; and the SQL statements the steps issued."""
    profiler = cProfile.Profile()
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if profiler_on[0]:
            statements.append(statement.split(None, 1)[0].upper())

    profiler_on = [False]
    with tempfile.TemporaryDirectory(prefix="sealflow-bench-") as tmp, ExitStack() as stack:
        uri = stack.enter_context(throwaway_database(postgres)) if postgres else sqlite_uri(Path(tmp))
        if uri is None:
            return
        with sealflow(Path(tmp), uri, profiler) as run:
            with run.app.app_context():
                event.listen(db.engine, "before_cursor_execute", count)
            profiler_on[0] = True
            run.run(instances)
            profiler_on[0] = False
            steps, seconds = run.clock.steps, run.clock.seconds
    where = "PostgreSQL" if postgres else "SQLite"
    kinds = ", ".join(f"{kind} {count}" for kind, count in Counter(statements).most_common())
    print(f"=== SealFlow on {where}, {instances} instances, {steps} steps, {seconds:.2f} s profiled; "
          f"{len(statements) / steps:.1f} statements a step ({kinds}, the bench's lookups included): "
          "SealFlow functions by cumulative time ===")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"/app/", limit)
    print("=== everything by own time ===")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000, help="instances per mode (default 1000)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="a PostgreSQL server to create a throwaway database on (empty: skip)")
    parser.add_argument("--profile", type=int, metavar="INSTANCES", help="cProfile SealFlow on SQLite instead")
    parser.add_argument("--profile-postgres", action="store_true", help="with --profile: on PostgreSQL (--postgres)")
    parser.add_argument("--limit", type=int, default=40, help="rows of profile output")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.limit, args.postgres if args.profile_postgres else None)
    else:
        report(args.instances, args.postgres)


if __name__ == "__main__":
    main()
