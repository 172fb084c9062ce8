"""The RQ entry point for service-task jobs: id in, work done once, the process resumed.

A failure that may pass (DomainError.transient, a timeout, or an unexpected error) is retried with exponential
backoff: the job waits in the database with its next attempt's time, and the clock (app/jobs/clock.py) enqueues it
again once that time has come; RQ records such an attempt as failed. A failure for good goes to the service task's
error boundary, or fails the application. While a job runs, its worker beats on its row (`keep_alive`): a running
job whose worker fell silent is `stranded`, and the clock queues it again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from flask import current_app
from rq import get_current_job
from rq.timeouts import JobTimeoutException
from sqlalchemy import bindparam, func, or_, select, text, update

from app.errors import DomainError
from app.extensions import db
from app.jobs.deadline import Deadline, timed_out
from app.models import Job, JobStatus
from app.models.audit import Actor, record
from app.models.timestamps import utcnow
from app.services import applications, audit, operators
from app.services.gate import SealingRefused
from app.services.queue import schedule, unattended
from app.workflow import fail_service, resume_service


class JobAttemptError(Exception):
    """An attempt that failed for a reason that may pass: raised to RQ, so that RQ records a failure, not a success
    (the job itself is settled in the database: retried later, or failed for good)."""


def retry_delay(attempts: int) -> timedelta:
    """How long a job that has failed `attempts` times waits before the next attempt."""
    return timedelta(seconds=current_app.config["JOB_RETRY_SECONDS"] * 4 ** (attempts - 1))


_CLAIM = (
    update(Job)
    .where(Job.id == bindparam("job_id"), Job.status == JobStatus.QUEUED,
           or_(Job.next_attempt_at.is_(None), Job.next_attempt_at <= bindparam("now")))
    .values(status=JobStatus.RUNNING, attempts=Job.attempts + 1, next_attempt_at=None, heartbeat_at=bindparam("now"))
    .returning(Job.operation, Job.params, Job.instance_id, Job.attempts)
    .execution_options(synchronize_session=False)
)
# The attempt that claimed a job still holds it: not recovered (queued again) and claimed by another worker since.
# Taken with the row's lock, so that no recovery can come between the check and the commit that follows.
_HELD = (select(Job.id).where(Job.id == bindparam("job_id"), Job.status == JobStatus.RUNNING,
                              Job.attempts == bindparam("attempt")).with_for_update())


class Superseded(Exception):
    """The job was taken from this attempt (its worker was judged dead and another claimed it): whatever this
    attempt did is rolled back, and the other attempt finishes the job."""


def _hold(job_id: int, attempt: int) -> None:
    """Raise Superseded unless this attempt still holds the job, locking its row until the caller's commit."""
    if db.session.execute(_HELD, {"job_id": job_id, "attempt": attempt}).first() is None:
        raise Superseded(f"job {job_id}: attempt {attempt} no longer holds it")


def _held_job(job_id: int, attempt: int) -> Job:
    """`_hold`, and the job's row read in the same statement."""
    job = db.session.execute(select(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING,
                                               Job.attempts == attempt).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one_or_none()
    if job is None:
        raise Superseded(f"job {job_id}: attempt {attempt} no longer holds it")
    return job


class _Claimed(NamedTuple):
    operation: str
    params: dict[str, Any]
    instance_id: int | None
    attempt: int
    head: str | None  # the audit chain's head once the claim committed, when the claim chained events


_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO off")


def _commit_claim() -> None:
    """Commit the claim without waiting for its WAL to reach the disk (PostgreSQL). Nothing outside the database acts
    on it: the job's next commit, which keeps the sealed document, is synchronous and flushes the claim's WAL with its
    own. Visibility and locks are as with any commit (fencing is unchanged); only a crash of the database server
    within a fraction of a second can lose it, and then with everything committed after it (WAL is replayed in
    order): the job is queued as before and recovered like any stranded one, and the events it chained are chained
    again, to the same hashes."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_ASYNC_COMMIT)
    db.session.commit()


def _claim(job_id: int) -> _Claimed | None:
    """Take the job for this worker: one conditional UPDATE, so that of two workers (or a worker and a withdrawal
    that cancelled the job) exactly one wins. The winner gets the job's operation, parameters and process.

    A sealing job also chains the events that led here (the approvals, committed), in the same short transaction:
    the sealed document carries a head that covers them, and the chain is never locked while the job signs. Other
    jobs carry no head: the clock chains their events."""
    claimed = db.session.execute(_CLAIM, {"job_id": job_id, "now": utcnow()}).first()
    head = None
    if claimed is not None and claimed.operation in operators.SEALING_OPERATORS:
        head = audit.extend_chain_to_head()
    _commit_claim()
    if claimed is None:
        return None
    return _Claimed(claimed.operation, claimed.params, claimed.instance_id, claimed.attempts, head)


def run_job(job_id: int) -> str:
    """Run one service job. Safe to run twice: only a queued job whose time has come runs, and only once."""
    actor = Actor.system("worker")
    claimed = _claim(job_id)
    if claimed is None:
        job = db.session.get(Job, job_id)
        if job is None:
            return "missing"
        if job.status == JobStatus.QUEUED:
            return "waiting"  # an early copy on the queue; the clock enqueues it when its time comes
        return f"already {job.status.value}"
    operation, params, instance_id, attempt, head = claimed
    try:
        with audit.head_known(head):  # the head the claim just chained and committed: not read again
            result = operators.run_operator(operation, dict(params), instance_id, actor)
        if Deadline.fired:  # RQ's timeout fired, and a library swallowed it: what it read may be incomplete
            raise JobTimeoutException(f"job {job_id} ran out of time")
        # The operator's work (a document and its audit event) is kept even if resuming fails: operators do their
        # work once, so a retry finds it done. It is kept only while this attempt still holds the job: a worker
        # judged dead whose job another worker took keeps nothing (one sealed document, never two). Committing
        # here also releases the audit chain's lock before the instance row is locked, the order every other step
        # takes them in.
        _hold(job_id, attempt)
        db.session.commit()
        job = _held_job(job_id, attempt)
        job.status = JobStatus.DONE  # written with the resumed process, or rolled back with it
        job.finished_at = utcnow()
        job.error = None
        applications.follow(resume_service(job, result, actor), actor)
        db.session.commit()
        return "done"
    except Superseded:
        db.session.rollback()
        return "superseded"
    except Exception as exc:
        db.session.rollback()
        reason, transient = _reason(exc)
        if isinstance(exc, SealingRefused) and not transient:  # said once, on the application, beside the job's
            record(actor, "sealing.refused", "seal_application", exc.application_id, operation=operation,
                   reasons=exc.reasons)
        outcome = _failed(job_id, reason, transient, actor, attempt)
        if transient and outcome in ("retrying", "failed"):
            raise JobAttemptError(f"job {job_id} ({operation}): {reason}; {outcome}") from exc
        return outcome


def _reason(exc: Exception) -> tuple[str, bool]:
    """Why the attempt failed, and whether that may pass. A timeout may pass, whatever error a library made of it
    (pyHanko reports one inside its parser as a broken dictionary): it is never a document's fault."""
    if timed_out(exc):
        rq_job = get_current_job()
        limit = f" after {rq_job.timeout} s" if rq_job is not None and rq_job.timeout else ""
        return f"the job ran out of time{limit}", True
    if isinstance(exc, DomainError):
        return exc.message, exc.transient
    return f"internal error ({exc.__class__.__name__})", True


def _failed(job_id: int, reason: str, transient: bool, actor: Actor, attempt: int | None = None) -> str:
    """Record a failed attempt (`attempt`, when a worker's: it must still hold the job): schedule the next one, or
    give up and tell the process."""
    job = db.session.execute(select(Job).where(Job.id == job_id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one_or_none()
    assert job is not None
    if job.status != JobStatus.RUNNING or (attempt is not None and job.attempts != attempt):
        db.session.rollback()
        return f"already {job.status.value}"  # someone else settled it, or took it, meanwhile
    job.error = reason
    if transient and job.attempts < current_app.config["JOB_MAX_ATTEMPTS"]:
        job.status = JobStatus.QUEUED
        job.next_attempt_at = utcnow() + retry_delay(job.attempts)
        record(actor, "job.retry_scheduled", "job", job.id, operation=job.operation, attempt=job.attempts,
               reason=reason, next_attempt_at=job.next_attempt_at.isoformat())
        db.session.commit()
        return "retrying"
    _fail_for_good(job, reason, actor)
    db.session.commit()
    return "failed"


def _fail_for_good(job: Job, reason: str, actor: Actor) -> None:
    """The job failed for good: said in the log, and told to its process (the caller commits)."""
    job.status = JobStatus.FAILED
    job.finished_at = utcnow()
    job.error = reason
    record(actor, "job.failed", "job", job.id, operation=job.operation, attempts=job.attempts, reason=reason)
    if job.instance_id is not None:
        applications.follow(fail_service(job, reason, actor), actor, reason)


def requeue_due_retries(now: datetime) -> list[Job]:
    """Jobs whose next attempt has come, each taken off the waiting list by one conditional UPDATE (so that two
    clocks never both enqueue it) and scheduled for the queue after the caller's commit."""
    due = db.session.execute(select(Job.id, Job.next_attempt_at).where(
        Job.status == JobStatus.QUEUED, Job.next_attempt_at.is_not(None), Job.next_attempt_at <= now
    ).order_by(Job.next_attempt_at, Job.id)).all()
    jobs = []
    for job_id, due_at in due:
        taken = db.session.execute(
            update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED, Job.next_attempt_at == due_at)
            .values(next_attempt_at=None, heartbeat_at=now).execution_options(synchronize_session=False))
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            job = db.session.get(Job, job_id)
            assert job is not None
            schedule(job)
            jobs.append(job)
    return jobs


def keep_alive(key: str) -> None:
    """The worker running the job with that key is alive: its heartbeat, every quarter of WORKER_TTL."""
    db.session.execute(update(Job).where(Job.key == key, Job.status == JobStatus.RUNNING)
                       .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()


def stranded(now: datetime, grace: timedelta) -> list[Job]:
    """Jobs the database says are queued or running but that no worker runs or will run: a running job whose
    worker has not beaten for `grace` (it died), or a queued one written `grace` ago that RQ does not hold (its
    enqueue was lost while Redis was away, or RQ lost it)."""
    silent = db.session.execute(select(Job).where(
        Job.status == JobStatus.RUNNING, func.coalesce(Job.heartbeat_at, Job.created_at) <= now - grace,
    )).scalars().all()
    queued = db.session.execute(select(Job).where(
        Job.status == JobStatus.QUEUED, Job.next_attempt_at.is_(None),
        func.coalesce(Job.heartbeat_at, Job.created_at) <= now - grace,
    )).scalars().all()
    lost = unattended([job.key for job in queued]) if queued else set()
    return [*silent, *(job for job in queued if job.key in lost)]


def recover_stranded(now: datetime, grace: timedelta, actor: Actor) -> list[Job]:
    """Queue the stranded jobs again (after the caller's commit), each by one conditional UPDATE, so that a worker
    that beat or finished meanwhile keeps it and two sweeps recover it once; the claim then lets exactly one worker
    run it (operators do their work once)."""
    recovered = []
    for job in stranded(now, grace):
        if not _take(job, now, grace):
            continue
        if job.attempts >= current_app.config["JOB_MAX_ATTEMPTS"] and job.status == JobStatus.RUNNING:
            # Its workers keep dying on it (a PDF that crashes a library, say): not run again for ever.
            _fail_for_good(job, f"its worker stopped during each of its {job.attempts} attempts", actor)
            continue
        job.status = JobStatus.QUEUED
        record(actor, "job.recovered", "job", job.id, operation=job.operation, attempts=job.attempts)
        schedule(job)
        recovered.append(job)
    return recovered


def _take(job: Job, now: datetime, grace: timedelta) -> bool:
    """Take a stranded job for the sweep by one conditional UPDATE that marks when (heartbeat_at): a worker that beat
    or finished meanwhile keeps it, and a second sweep that read it before this one's commit finds the mark too
    recent and leaves it, so a job is recovered once. The job is read again as taken (its status still stranded)."""
    taken = db.session.execute(
        update(Job).where(Job.id == job.id, Job.status == job.status,
                          func.coalesce(Job.heartbeat_at, Job.created_at) <= now - grace)
        .values(heartbeat_at=now).execution_options(synchronize_session=False))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    db.session.refresh(job)
    return True
