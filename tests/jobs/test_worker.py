"""Faults on real parts: real worker and clock processes, a private redis-server stopped and started again, a time-
stamp authority that never answers, real PDFs. Nothing here asserts how long anything took: each waits for a state,
with a generous deadline."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.extensions import db
from app.jobs.clock import tick
from app.models import ApplicationStatus, AuditEvent, Document, DocumentKind, Job, JobStatus, SealApplication
from app.services.queue import redis_connection
from tests.conftest import login, ready_task_id
from tests.jobs.processes import silent_tsa, until
from tests.jobs.test_runner import _decide, _file


def _job() -> Job:
    db.session.rollback()  # a fresh look, and no read lock left on SQLite for the workers
    job = db.session.execute(select(Job).order_by(Job.id.desc()).limit(1)).scalar_one()
    db.session.rollback()
    return job


def _status(application: SealApplication) -> ApplicationStatus:
    db.session.rollback()
    status = db.session.execute(select(SealApplication.status).where(SealApplication.id == application.id)).scalar()
    db.session.rollback()
    return ApplicationStatus(status)


def _count(query) -> int:  # type: ignore[no-untyped-def]
    db.session.rollback()
    count = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    db.session.rollback()
    return int(count)


def _sealed_once(application: SealApplication) -> None:
    sealed = select(Document.id).where(Document.application_id == application.id,
                                       Document.kind == DocumentKind.SEALED)
    assert _count(sealed) == 1
    assert _count(select(AuditEvent.id).where(AuditEvent.action == "document.sealed")) == 1


def _rq_job(key: str):  # type: ignore[no-untyped-def]
    from rq.job import Job as RqJob

    return RqJob.fetch(key, connection=redis_connection())


def test_a_job_whose_worker_is_killed_mid_job_runs_again_and_seals_once(app, org, processes):
    application = _file(org)
    _decide(org.head)
    with silent_tsa() as tsa:  # the first worker hangs on the time-stamp, mid-job, until it is killed
        doomed = processes("doomed", "worker", SEALFLOW_TSA_URL=tsa, SEALFLOW_TSA_TIMEOUT="600")
        until(lambda: _job().status == JobStatus.RUNNING, "the first worker takes the job")
        doomed.kill()
    assert _job().status == JobStatus.RUNNING and _job().attempts == 1  # as the dead worker left it

    worker = processes("worker", "worker")
    clock = processes("clock", "clock")
    until(lambda: _status(application) == ApplicationStatus.SEALED,
          f"the job is run again\n{clock.output()}\n{worker.output()}")
    job = _job()
    assert job.status == JobStatus.DONE and job.attempts == 2
    _sealed_once(application)
    assert _count(select(AuditEvent.id).where(AuditEvent.action == "job.recovered")) == 1


def test_the_worker_and_the_clock_ride_out_a_redis_outage_and_a_decision_made_meanwhile_is_sealed(
        app, client, org, redis_server, processes):
    worker = processes("worker", "worker")
    clock = processes("clock", "clock")
    until(lambda: client.get("/healthz").status_code == 200, "the worker reports to /healthz")
    application = _file(org)
    login(client, "harry")
    task_id = ready_task_id(client)

    redis_server.stop()  # it comes back empty: no queue, no job, no worker record
    response = client.post(f"/tasks/{task_id}", data={"decision": "approve"})
    assert response.status_code == 302  # the decision is committed: success, though its job could not be queued
    health = client.get("/healthz")
    assert health.status_code == 503 and not health.json["redis"]["ok"]
    until(lambda: "could not connect to Redis" in worker.output() and "Redis is unreachable" in clock.output(),
          "the worker and the clock wait for Redis, saying so")
    assert _job().status == JobStatus.QUEUED and _status(application) == ApplicationStatus.SEALING

    redis_server.start()
    until(lambda: _status(application) == ApplicationStatus.SEALED,
          f"the decision's job is queued and run once Redis is back\n{clock.output()}\n{worker.output()}")
    until(lambda: client.get("/healthz").status_code == 200, "/healthz is well again")
    assert worker.running and clock.running
    assert _job().status == JobStatus.DONE and _job().attempts == 1
    _sealed_once(application)


def test_a_decision_is_not_held_up_by_a_redis_that_never_answers(app, client, org, redis_server):
    """A hung Redis (it accepts connections and commands, and answers nothing): the decision is committed and answered
    after a bounded wait, its job kept for the clock (before, the request waited for as long as Redis hung)."""
    application = _file(org)
    login(client, "harry")
    task_id = ready_task_id(client)
    redis_connection().ping()  # the app holds a connection already, as a busy web worker does
    redis_server.hang()
    answered: list[int] = []
    request = threading.Thread(target=lambda: answered.append(
        client.post(f"/tasks/{task_id}", data={"decision": "approve"}).status_code), daemon=True)
    request.start()
    request.join(timeout=120)
    redis_server.wake()
    assert answered == [302], "the decision still waited on the hung Redis after 120 s"
    assert _job().status == JobStatus.QUEUED and _status(application) == ApplicationStatus.SEALING


def test_a_job_that_runs_out_of_time_is_retried_and_rq_records_a_failure(app, org, processes):
    app.config.update(JOB_TIMEOUT_SECONDS=1, JOB_TIMEOUT_PAGE_SECONDS=0)
    application = _file(org)
    _decide(org.head)
    assert _rq_job(_job().key).timeout == 1  # fixed when the job was queued
    with silent_tsa() as tsa:  # the time-stamp never comes: the job overruns its second
        slow = processes("slow", "worker", "--burst", SEALFLOW_TSA_URL=tsa, SEALFLOW_TSA_TIMEOUT="5")
        assert slow.wait() == 0, slow.output()

    job = _job()
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and job.next_attempt_at is not None
    assert job.error == "the job ran out of time after 1 s"
    assert _status(application) == ApplicationStatus.SEALING  # not failed: a timeout is no document's fault
    assert _rq_job(job.key).get_status().value == "failed"  # and RQ does not call the attempt a success

    app.config.update(JOB_TIMEOUT_SECONDS=180)
    assert tick(now=job.next_attempt_at).jobs_requeued == 1
    assert _rq_job(job.key).timeout == 180
    worker = processes("worker", "worker", "--burst")
    assert worker.wait() == 0, worker.output()
    job = _job()
    assert job.status == JobStatus.DONE and job.attempts == 2 and job.error is None
    assert _status(application) == ApplicationStatus.SEALED
    _sealed_once(application)
