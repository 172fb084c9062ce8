"""The RQ entry point for service-task jobs: id in, work done once, the process resumed.

A failure that may pass (DomainError.transient, or an unexpected error) is retried with exponential backoff:
the job waits in the database with its next attempt's time, and the clock (app/jobs/clock.py) enqueues it again
once that time has come. A failure for good goes to the service task's error boundary, or fails the application.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.jobs.operators import OPERATORS
from app.models import Job, JobStatus
from app.models.timestamps import utcnow
from app.services import applications
from app.services.audit import Actor, record
from app.workflow import fail_service, resume_service


def retry_delay(attempts: int) -> timedelta:
    """How long a job that has failed `attempts` times waits before the next attempt."""
    return timedelta(seconds=current_app.config["JOB_RETRY_SECONDS"] * 4 ** (attempts - 1))


def run_job(job_id: int) -> str:
    """Run one service job. Safe to run twice: a finished job is not run again, nor one waiting for its retry."""
    actor = Actor.system("worker")
    job = db.session.get(Job, job_id)
    if job is None:
        return "missing"
    if job.status in (JobStatus.DONE, JobStatus.CANCELLED, JobStatus.FAILED):
        return f"already {job.status.value}"
    if job.next_attempt_at is not None and job.next_attempt_at > utcnow():
        return "waiting"  # an early copy on the queue; the clock enqueues it when its time comes
    job.status = JobStatus.RUNNING
    job.attempts += 1
    job.next_attempt_at = None
    db.session.commit()
    try:
        result = OPERATORS[job.operation](dict(job.params), actor)
        step = resume_service(job, result, actor)
        job.status = JobStatus.DONE
        job.finished_at = utcnow()
        job.error = None
        applications.follow(step, actor)
        db.session.commit()
        return "done"
    except DomainError as exc:
        db.session.rollback()
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


def due_retries(now: datetime) -> list[Job]:
    """Jobs whose next attempt has come."""
    query = select(Job).where(Job.status == JobStatus.QUEUED, Job.next_attempt_at.is_not(None),
                              Job.next_attempt_at <= now).order_by(Job.next_attempt_at, Job.id)
    return list(db.session.execute(query).scalars())
