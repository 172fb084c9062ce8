"""The clock fires due timers (an overdue approval escalates) once, however often it ticks; time is driven by
`tick(now=...)`, never by sleeping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.jobs.clock import make_clock, tick
from app.models import HumanTask, InstanceStatus, ProcessInstance, ProcessTimer, TaskState
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import approvals, flows
from app.workflow import complete_task, history, start
from tests.conftest import DATA, Org, work_off_queue

ACTOR = Actor.system("test")


def _start(org: Org) -> ProcessInstance:
    flows.deploy_file(DATA / "timer_escalation.bpmn", ACTOR)
    step = start("timer_escalation", {"requester_id": org.employee.id}, None, ACTOR)
    db.session.commit()
    return step.instance


def _timer(instance: ProcessInstance) -> ProcessTimer:
    db.session.expire_all()
    return db.session.execute(select(ProcessTimer).where(ProcessTimer.instance_id == instance.id)).scalar_one()


def _instance(instance: ProcessInstance) -> ProcessInstance:
    db.session.expire_all()
    found = db.session.get(ProcessInstance, instance.id)
    assert found is not None
    return found


def test_an_overdue_approval_escalates_once_when_its_timer_falls_due(app, org):
    started = utcnow()
    instance = _start(org)
    timer = _timer(instance)
    assert timer.element_id == "head_overdue"
    assert timedelta(days=2) <= timer.due_at - started < timedelta(days=2, minutes=1)

    assert tick(now=started + timedelta(days=1)).timers_fired == 0
    assert len(approvals.inbox(org.head)) == 1 and approvals.inbox(org.leader) == []

    assert tick(now=timer.due_at).timers_fired == 1
    assert tick(now=timer.due_at + timedelta(days=1)).timers_fired == 0  # fired once, however often it ticks
    assert approvals.inbox(org.head) == []
    [escalated] = approvals.inbox(org.leader)
    assert escalated.element_id == "leader_approval"
    head_task = db.session.execute(select(HumanTask).where(HumanTask.element_id == "head_approval")).scalar_one()
    assert head_task.state == TaskState.CANCELLED
    assert _timer(instance).fired_at is not None

    complete_task(escalated.id, Actor.of(org.leader), {"decision": "approve"})
    db.session.commit()
    found = _instance(instance)
    assert found.status == InstanceStatus.COMPLETED and found.outcome == "approved_after_escalation"
    actions = [e.action for e in history(instance.id)]
    assert actions.index("timer.fired") < actions.index("task.cancelled") < actions.index("process.completed")


def test_an_approval_in_time_cancels_the_timer(app, org):
    instance = _start(org)
    [task] = approvals.inbox(org.head)
    complete_task(task.id, Actor.of(org.head), {"decision": "approve"})
    db.session.commit()

    timer = _timer(instance)
    assert timer.cancelled_at is not None and timer.fired_at is None
    assert tick(now=timer.due_at + timedelta(days=10)).timers_fired == 0
    assert _instance(instance).outcome == "approved_in_time"
    assert approvals.inbox(org.leader) == []


def test_the_clock_process_enqueues_ticks_that_a_worker_runs(app, org):
    instance = _start(org)
    timer = _timer(instance)
    timer.due_at = utcnow() - timedelta(seconds=1)  # as if two days had passed
    db.session.commit()

    assert [job.func_name for job in make_clock(app).enqueue_jobs()] == ["app.jobs.clock.tick"]
    work_off_queue(app)
    assert _timer(instance).fired_at is not None
    assert [t.element_id for t in approvals.inbox(org.leader)] == ["leader_approval"]


def test_a_job_whose_worker_died_is_queued_again_and_runs_once(app, org):
    from app.jobs.runner import keep_alive
    from app.models import Job, JobStatus
    from app.services.queue import redis_connection
    from tests.jobs.test_runner import _decide, _file

    application = _file(org)
    _decide(org.head)
    job = db.session.execute(select(Job)).scalar_one()
    job.status = JobStatus.RUNNING  # a worker took it and died: RQ lost it, the row says running
    db.session.commit()
    redis_connection().flushdb()
    ttl = timedelta(seconds=app.config["WORKER_TTL"])

    keep_alive(job.key)  # the worker's last heartbeat
    beat = utcnow()
    assert tick(now=beat + ttl / 2).jobs_recovered == 0  # silent for less than WORKER_TTL: still its worker's
    assert tick(now=utcnow() + ttl * 1.2).jobs_recovered == 1  # silent for WORKER_TTL: dead
    assert tick(now=utcnow() + ttl * 1.2).jobs_recovered == 0  # queued on RQ now: not twice
    work_off_queue(app)
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == JobStatus.DONE
    assert db.session.get(type(application), application.id).status.value == "sealed"


def test_a_queued_job_that_redis_lost_is_queued_again_after_the_grace(app, org):
    from app.models import Job, JobStatus
    from app.services.queue import redis_connection
    from tests.jobs.test_runner import _decide, _file

    application = _file(org)
    _decide(org.head)
    redis_connection().flushdb()  # Redis restarted empty: the job's enqueue is lost
    ttl = timedelta(seconds=app.config["WORKER_TTL"])

    assert tick(now=utcnow()).jobs_recovered == 0  # it may be on its way to the queue
    assert tick(now=utcnow() + ttl * 1.2).jobs_recovered == 1
    work_off_queue(app)
    db.session.expire_all()
    assert db.session.execute(select(Job)).scalar_one().status == JobStatus.DONE
    assert db.session.get(type(application), application.id).status.value == "sealed"
