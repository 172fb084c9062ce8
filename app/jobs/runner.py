"""The RQ entry point for service-task jobs: id in, work done once, the process resumed."""

from __future__ import annotations

from app.errors import DomainError
from app.extensions import db
from app.jobs.operators import OPERATORS
from app.models import Job, JobStatus
from app.models.timestamps import utcnow
from app.services import applications
from app.services.audit import Actor, record
from app.workflow import fail_instance, resume_service


def run_job(job_id: int) -> str:
    """Run one service job. Safe to run twice: a finished job is not run again."""
    actor = Actor.system("worker")
    job = db.session.get(Job, job_id)
    if job is None:
        return "missing"
    if job.status == JobStatus.DONE:
        return "already done"
    job.status = JobStatus.RUNNING
    job.attempts += 1
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
        _record_failure(job_id, exc.message, actor)
        return "failed"
    except Exception as exc:
        db.session.rollback()
        _record_failure(job_id, f"internal error ({exc.__class__.__name__})", actor)
        raise


def _record_failure(job_id: int, reason: str, actor: Actor) -> None:
    job = db.session.get(Job, job_id)
    assert job is not None
    job.status = JobStatus.FAILED
    job.error = reason
    job.finished_at = utcnow()
    record(actor, "job.failed", "job", job.id, operation=job.operation, reason=reason)
    if job.instance_id is not None:
        instance = fail_instance(job.instance_id, reason, actor)
        if instance.application_id is not None:
            applications.refresh_status(instance.application_id, actor, reason)
    db.session.commit()
