"""The RQ entry point for service-task jobs: id in, work done once, the process resumed.

A failure that may pass (DomainError.transient, or an unexpected error) is retried with exponential backoff:
the job waits in the database with its next attempt's time, and the clock (app/jobs/clock.py) enqueues it again
once that time has come. A failure for good goes to the service task's error boundary, or fails the application.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, or_, select, update

from app.errors import DomainError
from app.extensions import db
from app.models import Job, JobStatus
from app.models.audit import Actor, record
from app.models.timestamps import utcnow
from app.services import applications, audit, operators
from app.services.gate import SealingRefused
from app.services.queue import job_state, schedule
from app.workflow import fail_service, resume_service


def retry_delay(attempts: int) -> timedelta:
    """How long a job that has failed `attempts` times waits before the next attempt."""
    return timedelta(seconds=current_app.config["JOB_RETRY_SECONDS"] * 4 ** (attempts - 1))


_CLAIM = (
    update(Job)
    .where(Job.id == bindparam("job_id"), Job.status == JobStatus.QUEUED,
           or_(Job.next_attempt_at.is_(None), Job.next_attempt_at <= bindparam("now")))
    .values(status=JobStatus.RUNNING, attempts=Job.attempts + 1, next_attempt_at=None)
    .returning(Job.operation, Job.params, Job.instance_id)
    .execution_options(synchronize_session=False)
)


def _claim(job_id: int) -> tuple[str, dict[str, Any], int | None] | None:
    """Take the job for this worker: one conditional UPDATE, so that of two workers (or a worker and a withdrawal
    that cancelled the job) exactly one wins. The winner gets the job's operation, parameters and process."""
    claimed = db.session.execute(_CLAIM, {"job_id": job_id, "now": utcnow()}).first()
    db.session.commit()
    return (claimed.operation, claimed.params, claimed.instance_id) if claimed is not None else None


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
    operation, params, instance_id = claimed
    if operation in operators.SEALING_OPERATORS:
        # The events that led here (the approvals) are committed: chained now, the sealed document carries a head
        # that covers them. Its own short transaction: the chain is never locked while a job signs. Other jobs
        # carry no head: the clock chains their events (a transaction and five statements less a job).
        audit.extend_chain()
        db.session.commit()
    try:
        result = operators.run_operator(operation, dict(params), instance_id, actor)
        # The operator's work (a document and its audit event) is kept even if resuming fails: operators do their
        # work once, so a retry finds it done. Committing here also releases the audit chain's lock before the
        # instance row is locked, the order every other step takes them in.
        db.session.commit()
        job = db.session.get(Job, job_id)
        assert job is not None
        job.status = JobStatus.DONE  # written with the resumed process, or rolled back with it
        job.finished_at = utcnow()
        job.error = None
        applications.follow(resume_service(job, result, actor), actor)
        db.session.commit()
        return "done"
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, SealingRefused):  # said once, on the application, beside the job's own failure
            record(actor, "sealing.refused", "seal_application", exc.application_id, operation=operation,
                   reasons=exc.reasons)
        return _failed(job_id, exc.message, exc.transient, actor)
    except Exception as exc:
        db.session.rollback()
        outcome = _failed(job_id, f"internal error ({exc.__class__.__name__})", True, actor)
        if outcome == "failed":
            raise
        return outcome


def _failed(job_id: int, reason: str, transient: bool, actor: Actor) -> str:
    """Record a failed attempt: schedule the next one, or give up and tell the process."""
    job = db.session.get(Job, job_id)
    assert job is not None
    if job.status != JobStatus.RUNNING:
        return f"already {job.status.value}"  # someone else settled it meanwhile
    job.error = reason
    if transient and job.attempts < current_app.config["JOB_MAX_ATTEMPTS"]:
        job.status = JobStatus.QUEUED
        job.next_attempt_at = utcnow() + retry_delay(job.attempts)
        record(actor, "job.retry_scheduled", "job", job.id, operation=job.operation, attempt=job.attempts,
               reason=reason, next_attempt_at=job.next_attempt_at.isoformat())
        db.session.commit()
        return "retrying"
    job.status = JobStatus.FAILED
    job.finished_at = utcnow()
    record(actor, "job.failed", "job", job.id, operation=job.operation, attempts=job.attempts, reason=reason)
    if job.instance_id is not None:
        applications.follow(fail_service(job, reason, actor), actor, reason)
    db.session.commit()
    return "failed"


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
            .values(next_attempt_at=None).execution_options(synchronize_session=False))
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            job = db.session.get(Job, job_id)
            assert job is not None
            schedule(job)
            jobs.append(job)
    return jobs


def stranded(now: datetime, grace: timedelta) -> list[Job]:
    """Jobs the database says are queued or running but that no worker has or will run: the enqueue after their
    commit was lost (Redis away), or the worker died. Judged by RQ's record of the job; older than `grace`."""
    rows = db.session.execute(select(Job).where(
        or_(Job.status == JobStatus.RUNNING, and_(Job.status == JobStatus.QUEUED, Job.next_attempt_at.is_(None))),
        Job.created_at <= now - grace,
    )).scalars()
    return [job for job in rows if job_state(job.key) not in ("queued", "started", "deferred", "scheduled")]
